import { describe, expect, it } from 'vitest';
import { freshProgress, labSha256, progressReport, recordCheck, resumeProgress, score } from './progress.ts';

const T0 = new Date('2026-12-03T10:00:00Z');
const T1 = new Date('2026-12-03T10:05:00Z');
const ok = [{ label: 'x', passed: true, expected: '1', found: '1' }];
const bad = [{ label: 'x', passed: false, expected: '1', found: '2' }];

describe('lab progress', () => {
  it('hashes the lab text with sha256', () => {
    expect(labSha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('keeps a passed step passed, with the time of its first pass and the last values found', () => {
    let p = freshProgress('labs/x.yaml', 'h', T0);
    p = recordCheck(p, 'one', false, bad, T0);
    expect(p.steps['one']).toMatchObject({ passed: false, passedAt: null, attempts: 1 });
    p = recordCheck(p, 'one', true, ok, T1);
    p = recordCheck(p, 'one', false, bad, T1);
    expect(p.steps['one']).toMatchObject({ passed: true, passedAt: T1.toISOString(), attempts: 3, results: bad });
    expect(score(p, ['one', 'two'])).toEqual({ passed: 1, total: 2, score: 50 });
  });

  it('resumes stored progress of the same text, and starts afresh (saying why) when the lab changed', () => {
    const stored = recordCheck(freshProgress('u', 'aaa', T0), 'one', true, ok, T0);
    expect(resumeProgress(JSON.parse(JSON.stringify(stored)), 'u', 'aaa', T1)).toEqual({ progress: stored, notice: null });
    const changed = resumeProgress(stored, 'u', 'bbb', T1);
    expect(changed.progress.steps).toEqual({});
    expect(changed.notice).toMatch(/changed since your last visit/);
    expect(resumeProgress({ junk: 1 }, 'u', 'aaa', T1).notice).toMatch(/could not be read/);
    expect(resumeProgress(null, 'u', 'aaa', T1).notice).toBeNull();
  });

  it('exports a report with the hash, each step and the values found, and says it is not tamper-proof', () => {
    const p = recordCheck(freshProgress('u', 'aaa', T0), 'one', true, ok, T1);
    const r = progressReport(p, { title: 'L', steps: [{ id: 'one', title: 'First' }, { id: 'two', title: 'Second' }] }, T1);
    expect(r.lab).toEqual({ title: 'L', url: 'u', sha256: 'aaa' });
    expect(r.note).toMatch(/not tamper-proof/);
    expect(r.score).toBe(50);
    expect(r.steps.map((s) => [s.id, s.passed])).toEqual([['one', true], ['two', false]]);
    expect(r.steps[0]!.results).toEqual(ok);
  });
});
