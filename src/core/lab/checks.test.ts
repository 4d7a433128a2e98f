import { describe, expect, it } from 'vitest';
import { summarize } from '../metrics.ts';
import { judgeCapture, judgeCommand, judgeFact, judgeMemory, judgeMigration, judgeSnapshot, judgeVolume, type LabEvent, type LabFacts } from './checks.ts';

function facts(over: Partial<LabFacts> = {}): LabFacts {
  return {
    now: 20_000,
    stepStartedAt: 10_000,
    labStartedAt: 0,
    vm: (name) => (name === 'a' ? { state: 'running', memoryMiB: 80, weight: 3000, capPct: null, reservationPct: 20, iops: 50 } : null),
    host: { pcpus: 1, memoryMiB: 256, reservedMiB: 288, freeMiB: 0, overcommit: true },
    // 50 periods of 100 ms, a used 24 ms of each: 24 %.
    window: (name, ms) =>
      name === 'a'
        ? summarize(Array.from({ length: Math.min(50, ms / 100) }, () => ({ vmId: 'vm1', periodMs: 100, usedMs: 24, grantedMs: 24, readyMs: 0, idleMs: 0, pausedMs: 0, instructions: 24e6, entitlementPct: 25 }) as never))
        : null,
    events: [],
    ...over,
  };
}

describe('lab check judging', () => {
  it('command: exit status and output pattern, with what was found', () => {
    const check = { type: 'command' as const, guest: 'a', command: 'cat x', output: '^42$' };
    expect(judgeCommand(check, { output: '42\n', status: 0 })).toMatchObject({ passed: true, expected: 'output matching /^42$/' });
    expect(judgeCommand(check, { output: '41\n', status: 0 })).toMatchObject({ passed: false, found: 'exit status 0, output "41"' });
    expect(judgeCommand({ ...check, exitStatus: 0 }, { output: '42', status: 1 }).passed).toBe(false);
    // No pattern: exit status 0 is expected.
    expect(judgeCommand({ type: 'command', guest: 'a', command: 'false' }, { output: '', status: 1 })).toMatchObject({ passed: false, expected: 'exit status 0', found: 'exit status 1, no output' });
    expect(judgeCommand(check, { error: 'a is stopped, not running' })).toMatchObject({ passed: false, found: 'a is stopped, not running' });
  });

  it('memory: found or not, as expected', () => {
    const check = { type: 'memory' as const, guest: 'b', contains: 'S', expect: false };
    expect(judgeMemory(check, { hits: 0 })).toMatchObject({ passed: true, found: 'not found' });
    expect(judgeMemory(check, { hits: 2 })).toMatchObject({ passed: false, found: 'found 2 time(s)' });
    expect(judgeMemory({ ...check, expect: true }, { hits: 1 }).passed).toBe(true);
  });

  it('snapshot: a snapshot of that name, or none, with the names found', () => {
    const has = { type: 'snapshot' as const, guest: 'box', name: 'clean', expect: true };
    expect(judgeSnapshot(has, ['clean', 'other'])).toMatchObject({ passed: true, label: 'box has snapshot named clean', found: 'snapshots: clean, other' });
    expect(judgeSnapshot(has, [])).toMatchObject({ passed: false, expected: 'a snapshot named clean', found: 'no snapshot' });
    expect(judgeSnapshot({ ...has, expect: false }, ['other'])).toMatchObject({ passed: true });
    expect(judgeSnapshot(has, { error: 'box is gone' })).toMatchObject({ passed: false, found: 'box is gone' });
  });

  it('capture: a frame from the guest matching the pattern, or none', () => {
    const frames = [
      { port: 'spy', summary: '10.0.20.100 > 10.0.10.100: ICMP echo request, id 1, seq 1, length 64' },
      { port: 'web1', summary: '10.0.10.100 > 10.0.10.101: ICMP echo request, id 2, seq 1, length 64' },
    ];
    const tried = { type: 'capture' as const, network: 'lab', guest: 'spy', contains: 'echo request', expect: true };
    expect(judgeCapture(tried, frames)).toMatchObject({ passed: true, found: '1 frame(s), e.g. spy: 10.0.20.100 > 10.0.10.100: ICMP echo request, id 1, seq 1, length 64' });
    expect(judgeCapture({ ...tried, guest: 'web2' }, frames)).toMatchObject({ passed: false, found: 'none among 2 captured frame(s)' });
    expect(judgeCapture({ ...tried, guest: undefined, contains: 'echo reply', expect: false }, frames).passed).toBe(true);
    expect(judgeCapture(tried, { error: 'network lab has no capture' })).toMatchObject({ passed: false, found: 'network lab has no capture' });
  });

  it('metric: target and tolerance over a covered window, with the value found', () => {
    expect(judgeFact({ type: 'metric', guest: 'a', metric: 'share', windowS: 5, target: 25, tolerance: 2 }, facts())).toMatchObject({ passed: true, found: '24.0 % of a pCPU' });
    expect(judgeFact({ type: 'metric', guest: 'a', metric: 'share', windowS: 5, target: 50, tolerance: 8 }, facts())).toMatchObject({ passed: false, expected: '50 ± 8 % of a pCPU' });
    expect(judgeFact({ type: 'metric', guest: 'a', metric: 'share', windowS: 5, max: 30 }, facts()).passed).toBe(true);
    // 5 s measured of a 10 s window: not enough to judge.
    const r = judgeFact({ type: 'metric', guest: 'a', metric: 'share', windowS: 10, target: 25, tolerance: 2 }, facts());
    expect(r.passed).toBe(false);
    expect(r.found).toMatch(/only 5.0 s of 10 s measured/);
    expect(judgeFact({ type: 'metric', guest: 'zz', metric: 'mips', min: 1 }, facts())).toMatchObject({ passed: false, found: 'no measurements yet' });
  });

  it('setting: equals, ranges and isSet', () => {
    expect(judgeFact({ type: 'setting', guest: 'a', setting: 'weight', equals: 3000 }, facts()).passed).toBe(true);
    expect(judgeFact({ type: 'setting', guest: 'a', setting: 'weight', min: 4000 }, facts())).toMatchObject({ passed: false, expected: 'at least 4000', found: '3000' });
    expect(judgeFact({ type: 'setting', guest: 'a', setting: 'capPct', isSet: false }, facts())).toMatchObject({ passed: true, found: 'not set' });
    expect(judgeFact({ type: 'setting', guest: 'a', setting: 'capPct', isSet: true }, facts())).toMatchObject({ passed: false, expected: 'set' });
    expect(judgeFact({ type: 'setting', guest: 'a', setting: 'capPct', max: 10 }, facts()).passed).toBe(false);
    expect(judgeFact({ type: 'setting', guest: 'a', setting: 'reservationPct', isSet: true, min: 10 }, facts()).passed).toBe(true);
  });

  it('host: pool facts, overcommitted when more is reserved than the pool has', () => {
    expect(judgeFact({ type: 'host', value: 'overcommitted', equals: true }, facts()).passed).toBe(true);
    expect(judgeFact({ type: 'host', value: 'reservedMiB', equals: 192 }, facts())).toMatchObject({ passed: false, found: '288 MiB' });
    expect(judgeFact({ type: 'host', value: 'pcpus', max: 1 }, facts()).passed).toBe(true);
  });

  it('lifecycle: the state now, and what happened during the step or since the lab began', () => {
    const events: LabEvent[] = [
      { at: 5_000, vm: 'a', kind: 'state', state: 'crashed', previous: 'running' },
      { at: 12_000, vm: 'a', kind: 'state', state: 'booting', previous: 'crashed' },
      { at: 13_000, vm: 'b', kind: 'refusal', message: 'the pool has 64 MiB free' },
    ];
    const f = facts({ events });
    expect(judgeFact({ type: 'lifecycle', guest: 'a', is: 'running' }, f)).toMatchObject({ passed: true, found: 'running' });
    expect(judgeFact({ type: 'lifecycle', guest: 'a', is: 'paused' }, f).passed).toBe(false);
    expect(judgeFact({ type: 'lifecycle', guest: 'a', happened: 'restarted' }, f).passed).toBe(true);
    // The crash was before this step began.
    expect(judgeFact({ type: 'lifecycle', guest: 'a', happened: 'crashed' }, f)).toMatchObject({ passed: false, found: 'not yet; now running' });
    expect(judgeFact({ type: 'lifecycle', guest: 'a', happened: 'crashed', since: 'lab' }, f).passed).toBe(true);
    expect(judgeFact({ type: 'lifecycle', guest: 'b', happened: 'refused' }, f)).toMatchObject({ passed: true, found: 'refused: the pool has 64 MiB free' });
    expect(judgeFact({ type: 'lifecycle', guest: 'a', happened: 'refused' }, f).passed).toBe(false);
  });
});

describe('judgeVolume', () => {
  it('says where a volume is attached and whether it holds a text', () => {
    const check = { type: 'volume' as const, volume: 'base', contains: 'secret', expect: false, attachedTo: null };
    expect(judgeVolume(check, { attachedTo: null, holds: false })).toMatchObject({ passed: true, expected: 'attached to no guest, not holding "secret"' });
    expect(judgeVolume(check, { attachedTo: 'web', holds: false })).toMatchObject({ passed: false, found: 'attached to web, does not hold "secret"' });
    expect(judgeVolume(check, { attachedTo: null, holds: true })).toMatchObject({ passed: false });
    expect(judgeVolume(check, { error: 'there is no volume base' })).toMatchObject({ passed: false, found: 'there is no volume base' });
  });
});

describe('judgeMigration', () => {
  const check = { type: 'migration' as const, guest: 'web', on: 'host2', max: 300 };
  it('passes when the guest runs on that host and its last move stayed within the downtime asked', () => {
    expect(judgeMigration(check, { on: 'host2', state: 'running', downtimeMs: 48.6 })).toMatchObject({ passed: true, found: 'running on host2, last moved with 49 ms of downtime' });
    expect(judgeMigration(check, { on: 'host2', state: 'running', downtimeMs: 420 })).toMatchObject({ passed: false, expected: "running on host2, the last move's downtime at most 300 ms" });
  });
  it('fails with where the guest is when it is not there, not running, or never moved (a downtime asked)', () => {
    expect(judgeMigration(check, { on: 'host1', state: 'running', downtimeMs: null })).toMatchObject({ passed: false, found: 'running on host1, never moved' });
    expect(judgeMigration(check, { on: 'host2', state: 'paused', downtimeMs: 10 })).toMatchObject({ passed: false });
    expect(judgeMigration({ type: 'migration', guest: 'web', on: 'host2' }, { on: 'host2', state: 'running', downtimeMs: null })).toMatchObject({ passed: true, found: 'running on host2, never moved' });
    expect(judgeMigration(check, { on: null, state: null, downtimeMs: null })).toMatchObject({ passed: false, found: 'there is no guest web' });
  });
});
