import { describe, expect, it } from 'vitest';
import { inTaskOfItsOwn } from './one-per-task.ts';

/** Waits until `done()` or 50 turns of the task queue. */
const until = async (done: () => boolean): Promise<void> => {
  for (let i = 0; i < 50 && !done(); i++) await new Promise((r) => setTimeout(r, 0));
};

describe('inTaskOfItsOwn', () => {
  it('runs jobs in order, none in the caller\'s task', async () => {
    const ran: string[] = [];
    for (const name of ['a', 'b', 'c']) inTaskOfItsOwn(() => ran.push(name));
    await Promise.resolve();
    expect(ran).toEqual([]);
    await until(() => ran.length === 3);
    expect(ran).toEqual(['a', 'b', 'c']);
  });

  it('runs each job in a task of its own: the microtasks a job queues run before the next job', async () => {
    const log: string[] = [];
    inTaskOfItsOwn(() => {
      queueMicrotask(() => log.push('microtask of 1'));
      log.push('job 1');
    });
    inTaskOfItsOwn(() => log.push('job 2'));
    await until(() => log.length === 3);
    expect(log).toEqual(['job 1', 'microtask of 1', 'job 2']);
  });

  it('does not run a job taken off the queue, and runs the others', async () => {
    const ran: string[] = [];
    inTaskOfItsOwn(() => ran.push('a'));
    const cancel = inTaskOfItsOwn(() => ran.push('b'));
    inTaskOfItsOwn(() => ran.push('c'));
    cancel();
    await until(() => ran.length === 2);
    await until(() => false);
    expect(ran).toEqual(['a', 'c']);
  });
});
