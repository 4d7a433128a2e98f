import { describe, expect, it } from 'vitest';
import { batchNames, planCreate, type CreateContext, type CreateForm } from './create-form.ts';

const ctx: CreateContext = {
  existingNames: ['web1', 'db'],
  imageIds: ['hv'],
  memoryLimits: () => ({ minMiB: 68, maxMiB: 2048, why: 'the initrd sits at 64 MiB' }),
  pool: { totalMiB: 1024, reservedMiB: 768, freeMiB: 256, overcommit: false },
  pcpus: 1,
  reservations: [{ vmId: 'db', reservationPct: 60 }],
};

const form = (change: Partial<CreateForm> = {}): CreateForm => ({
  count: '1',
  name: 'app',
  imageId: 'hv',
  memory: '128',
  weight: '',
  cap: '',
  reservation: '',
  boot: 'cold',
  startNow: true,
  network: '',
  ...change,
});

describe('planCreate', () => {
  it('accepts a valid guest with default resources', () => {
    const plan = planCreate(form(), ctx);
    expect(plan.errors).toEqual({});
    expect(plan.names).toEqual(['app']);
    expect(plan.memoryMiB).toBe(128);
    expect(plan.resources).toEqual({ weight: 1000, capPct: null, reservationPct: null });
  });

  it('numbers a batch, skipping taken names', () => {
    expect(batchNames('web', 3, ['web1'])).toEqual(['web2', 'web3', 'web4']);
    expect(planCreate(form({ count: '2', name: 'web', memory: '100' }), ctx).names).toEqual(['web2', 'web3']);
  });

  it.each([
    [{ name: 'web1' }, 'name', /already exists/],
    [{ name: 'bad name' }, 'name', /not valid/],
    [{ memory: '32' }, 'memory', /below the minimum of 68 MiB/],
    [{ memory: '300' }, 'memory', /300 MiB does not fit: only 256 MiB of the 1024 MiB pool is free/],
    [{ count: '3', name: 'web', memory: '100' }, 'memory', /3 × 100 MiB = 300 MiB does not fit/],
    [{ weight: 'lots' }, 'weight', /weight of app must be a whole number/],
    [{ cap: '10', reservation: '20' }, 'cap', /below its reservation/],
    [{ reservation: '50' }, 'reservation', /would total 110 %/],
    [{ count: '0' }, 'count', /from 1 to 16/],
  ] as const)('refuses %o at the %s field', (change, field, message) => {
    const plan = planCreate(form(change), ctx);
    expect(plan.errors[field]).toMatch(message);
  });

  it('warns instead of refusing when overcommit is allowed, and skips the pool check when not starting', () => {
    const over = planCreate(form({ memory: '300' }), { ...ctx, pool: { ...ctx.pool, overcommit: true } });
    expect(over.errors).toEqual({});
    expect(over.warnings[0]).toMatch(/overcommitted by 44 MiB/);
    expect(planCreate(form({ memory: '300', startNow: false }), ctx).errors).toEqual({});
  });
});
