// A student's progress in one lab: which steps passed, when, and with which
// values found. Kept per lab (its URL and the sha256 of its text): a lab whose
// text changed starts afresh. Small on purpose (an LMS keeps 4,096 characters).
import { textSha256 } from '../bytes.ts';
import type { CheckResult } from './checks.ts';

export const PROGRESS_VERSION = 1;

export interface StepProgress {
  passed: boolean;
  /** ISO time of the first pass (null while not passed). */
  passedAt: string | null;
  /** ISO time of the last check. */
  checkedAt: string;
  attempts: number;
  /** What the last check found. */
  results: CheckResult[];
}

export interface LabProgress {
  version: typeof PROGRESS_VERSION;
  labUrl: string;
  labSha256: string;
  startedAt: string;
  steps: Record<string, StepProgress>;
}

/** sha256 of the lab's text, hex. */
export const labSha256 = textSha256;

/** Progress of a lab nobody has worked on yet. */
export function freshProgress(labUrl: string, labSha: string, at: Date): LabProgress {
  return { version: PROGRESS_VERSION, labUrl, labSha256: labSha, startedAt: at.toISOString(), steps: {} };
}

/**
 * The stored progress if it belongs to this lab text, else fresh progress and
 * the reason (shown to the student).
 */
export function resumeProgress(stored: unknown, labUrl: string, labSha: string, at: Date): { progress: LabProgress; notice: string | null } {
  if (stored === null || stored === undefined) return { progress: freshProgress(labUrl, labSha, at), notice: null };
  const p = stored as Partial<LabProgress>;
  if (p.version !== PROGRESS_VERSION || typeof p.steps !== 'object' || p.steps === null || typeof p.labSha256 !== 'string') {
    return { progress: freshProgress(labUrl, labSha, at), notice: 'the saved progress of this lab could not be read; starting afresh' };
  }
  if (p.labSha256 !== labSha) {
    return {
      progress: freshProgress(labUrl, labSha, at),
      notice: `this lab's file changed since your last visit (sha256 ${p.labSha256.slice(0, 12)}… → ${labSha.slice(0, 12)}…): its steps may differ, so your progress starts afresh`,
    };
  }
  return { progress: p as LabProgress, notice: null };
}

/** Progress after a check of one step (a step once passed stays passed). */
export function recordCheck(progress: LabProgress, stepId: string, passed: boolean, results: CheckResult[], at: Date): LabProgress {
  const before = progress.steps[stepId];
  const step: StepProgress = {
    passed: passed || (before?.passed ?? false),
    passedAt: before?.passedAt ?? (passed ? at.toISOString() : null),
    checkedAt: at.toISOString(),
    attempts: (before?.attempts ?? 0) + 1,
    results,
  };
  return { ...progress, steps: { ...progress.steps, [stepId]: step } };
}

/** Steps passed and the score in % of the lab's steps. */
export function score(progress: LabProgress, stepIds: readonly string[]): { passed: number; total: number; score: number } {
  const passed = stepIds.filter((id) => progress.steps[id]?.passed).length;
  return { passed, total: stepIds.length, score: stepIds.length === 0 ? 0 : Math.round((100 * passed) / stepIds.length) };
}

/** The file a student hands in: the lab's hash, each step's result with the values found, and times. */
export function progressReport(progress: LabProgress, lab: { title: string; steps: readonly { id: string; title: string }[] }, at: Date) {
  const s = score(progress, lab.steps.map((x) => x.id));
  return {
    kind: 'hypervisor-playground-lab-progress',
    note: 'Written by the student\'s browser: it records what the checks found, but it is not tamper-proof.',
    lab: { title: lab.title, url: progress.labUrl, sha256: progress.labSha256 },
    startedAt: progress.startedAt,
    exportedAt: at.toISOString(),
    ...s,
    steps: lab.steps.map((step) => ({ id: step.id, title: step.title, ...(progress.steps[step.id] ?? { passed: false, passedAt: null, attempts: 0, results: [] }) })),
  };
}
