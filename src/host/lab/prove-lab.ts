// The author's test of a lab (`npm run lab:test`): boot it fresh, and for each
// step in order, its checks must fail before its solution runs and pass after
// (polled once a second until a deadline: metric checks need their window of
// measurements). Steps build on each other, as a student's work does.
import type { Lab } from '../../core/lab/parse.ts';
import type { HostApi } from '../host-api.ts';
import { LabSession, type StepCheck, type LabSessionOptions } from './lab-session.ts';

export interface StepProof {
  stepId: string;
  /** The check before the solution (must fail). */
  before: StepCheck;
  /** The last check after it (must pass). */
  after: StepCheck | null;
  /** Why the step is not proven, or null. */
  problem: string | null;
  /** ms from the end of the solution to the first passing check. */
  passMs: number | null;
}

export interface LabProof {
  ok: boolean;
  /** ms from the session's start to every starting guest ready. */
  readyMs: number;
  steps: StepProof[];
  error: string | null;
}

/** Longest a step may take to pass after its solution: its longest metric window plus a margin. */
function deadlineMs(lab: Lab, index: number): number {
  const windows = lab.steps[index]!.checks.map((c) => (c.type === 'metric' ? (c.windowS ?? 10) * 1000 : 0));
  return Math.max(...windows, 0) * 2 + 30_000;
}

/** Prove every step of `lab` on `hv` (which it takes over); `onStep` hears each result as it comes. */
export async function proveLab(hv: HostApi, lab: Lab, onStep?: (p: StepProof) => void, options: Pick<LabSessionOptions, 'makeHost'> = {}): Promise<LabProof> {
  const session = new LabSession(hv, lab, options);
  const steps: StepProof[] = [];
  const t0 = hv.now();
  let readyMs = 0;
  try {
    await session.start();
    readyMs = hv.now() - t0;
    for (let i = 0; i < lab.steps.length; i++) {
      session.beginStep();
      const before = await session.check(i);
      const proof: StepProof = { stepId: lab.steps[i]!.id, before, after: null, problem: null, passMs: null };
      steps.push(proof);
      if (before.passed) proof.problem = 'its checks pass before its solution ran';
      await session.solve(i);
      const solved = hv.now();
      const deadline = solved + deadlineMs(lab, i);
      for (;;) {
        proof.after = await session.check(i);
        if (proof.after.passed) {
          proof.passMs = hv.now() - solved;
          break;
        }
        if (hv.now() > deadline) {
          proof.problem ??= `its checks still fail ${Math.round((hv.now() - solved) / 1000)} s after its solution ran`;
          break;
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
      onStep?.(proof);
      // A later step builds on this one: it cannot be proven on a broken state.
      if (!proof.after?.passed) break;
    }
    return { ok: steps.length === lab.steps.length && steps.every((s) => s.problem === null), readyMs, steps, error: null };
  } catch (err) {
    return { ok: false, readyMs, steps, error: (err as Error).message };
  } finally {
    await session.dispose();
  }
}
