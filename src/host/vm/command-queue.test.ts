import { describe, expect, it } from 'vitest';
import { isHvError } from '../../core/errors.ts';
import { CommandQueue } from './command-queue.ts';

/** A command that finishes when told to (or fails on abort, as a boot does). */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const log: string[] = [];
  const command = (name: string) => async (signal: AbortSignal) => {
    log.push(`${name}:start`);
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([opened, aborted]);
    // Cleanup after an abort takes a moment: the next command must wait for it.
    if (signal.aborted) await new Promise((r) => setTimeout(r, 5));
    log.push(`${name}:end`);
    if (signal.aborted) throw new Error('aborted');
    return name;
  };
  return { open, command, log };
}

const outcome = (p: Promise<unknown>) =>
  p.then(
    (v) => `ok:${String(v)}`,
    (e: unknown) => (isHvError(e, 'cancelled') ? 'cancelled' : `error:${(e as Error).message}`),
  );

describe('CommandQueue', () => {
  it('runs commands one at a time, in the order issued', async () => {
    const q = new CommandQueue(() => 'a');
    const g = gate();
    const first = q.submit('start', g.command('start'));
    const second = q.submit('pause', async () => {
      g.log.push('pause');
      return 'pause';
    });
    await Promise.resolve();
    expect(g.log).toEqual(['start:start']);
    g.open();
    expect(await Promise.all([first, second])).toEqual(['start', 'pause']);
    expect(g.log).toEqual(['start:start', 'start:end', 'pause']);
  });

  it('a superseding command cancels the waiting ones and aborts a cancellable one in progress', async () => {
    const q = new CommandQueue(() => 'a');
    const g = gate();
    const start = q.submit('start', g.command('start'), { cancellable: true });
    const pause = q.submit('pause', async () => 'pause');
    const stop = q.submit('stop', async () => {
      g.log.push('stop');
      return 'stop';
    }, { supersedes: true });
    expect(await Promise.all([outcome(start), outcome(pause), outcome(stop)])).toEqual(['cancelled', 'cancelled', 'ok:stop']);
    // The stop ran only after the aborted start had cleaned up.
    expect(g.log).toEqual(['start:start', 'start:end', 'stop']);
    const err = await start.catch((e: unknown) => e);
    expect((err as Error).message).toBe('start of a was cancelled by a later stop');
  });

  it('does not abort a command that is not cancellable', async () => {
    const q = new CommandQueue(() => 'a');
    const g = gate();
    const pause = q.submit('pause', g.command('pause'));
    const stop = q.submit('stop', async () => 'stop', { supersedes: true });
    await Promise.resolve();
    g.open();
    expect(await Promise.all([outcome(pause), outcome(stop)])).toEqual(['ok:pause', 'ok:stop']);
  });

  it('joins a superseding command issued again while the first waits or runs', async () => {
    const q = new CommandQueue(() => 'a');
    const g = gate();
    let runs = 0;
    const destroy = () => {
      runs++;
      return g.command('destroy')(new AbortController().signal);
    };
    const a = q.submit('destroy', destroy, { supersedes: true });
    const b = q.submit('destroy', destroy, { supersedes: true });
    expect(b).toBe(a);
    g.open();
    await a;
    expect(runs).toBe(1);
  });

  it('a failing command does not stop the queue', async () => {
    const q = new CommandQueue(() => 'a');
    const bad = q.submit('pause', () => Promise.reject(new Error('worker gone')));
    const thrown = q.submit('resume', () => {
      throw new Error('sync throw');
    });
    const good = q.submit('stop', async () => 'stopped');
    expect(await Promise.all([outcome(bad), outcome(thrown), outcome(good)])).toEqual(['error:worker gone', 'error:sync throw', 'ok:stopped']);
  });

  it('idle() waits for a cancelled command to finish its cleanup', async () => {
    const q = new CommandQueue(() => 'a');
    const g = gate();
    const start = q.submit('start', g.command('start'), { cancellable: true });
    q.cancelAll('dispose');
    expect(await outcome(start)).toBe('cancelled');
    expect(q.busy).toBe(true);
    await q.idle();
    expect(q.busy).toBe(false);
    expect(g.log).toEqual(['start:start', 'start:end']);
  });
});

describe('CommandQueue superseding commands', () => {
  it('never cancel each other: destroy then stop runs both, in order', async () => {
    const q = new CommandQueue(() => 'a');
    const g = gate();
    const ran: string[] = [];
    const start = q.submit('start', g.command('start'), { cancellable: true });
    const destroy = q.submit('destroy', async () => void ran.push('destroy'), { supersedes: true });
    const stop = q.submit('stop', async () => void ran.push('stop'), { supersedes: true });
    expect(await Promise.all([outcome(start), outcome(destroy), outcome(stop)])).toEqual(['cancelled', 'ok:undefined', 'ok:undefined']);
    expect(ran).toEqual(['destroy', 'stop']);
  });
});
