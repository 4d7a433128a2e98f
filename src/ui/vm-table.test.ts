import { describe, expect, it } from 'vitest';
import { nextSort, sortRows, type VmRow } from './vm-table.ts';

const row = (name: string, sharePct: number | null, weight = 1000): VmRow => ({
  id: `id-${name}`,
  name,
  state: 'running',
  memoryMiB: 80,
  weight,
  capPct: null,
  reservationPct: null,
  sharePct,
  entitlementPct: sharePct === null ? null : 50,
  mips: null,
  readyPct: null,
});

describe('sortRows', () => {
  const rows = [row('web10', 20), row('web2', null), row('web1', 70, 3000), row('db', 20)];

  it('keeps the given order without a sort', () => {
    expect(sortRows(rows, null).map((r) => r.name)).toEqual(['web10', 'web2', 'web1', 'db']);
  });

  it('sorts names as people read numbers in them', () => {
    expect(sortRows(rows, { key: 'name', descending: false }).map((r) => r.name)).toEqual(['db', 'web1', 'web2', 'web10']);
    expect(sortRows(rows, { key: 'name', descending: true }).map((r) => r.name)).toEqual(['web10', 'web2', 'web1', 'db']);
  });

  it('sorts numbers, keeps ties in their order, and puts rows without a value last both ways', () => {
    expect(sortRows(rows, { key: 'sharePct', descending: false }).map((r) => r.name)).toEqual(['web10', 'db', 'web1', 'web2']);
    expect(sortRows(rows, { key: 'sharePct', descending: true }).map((r) => r.name)).toEqual(['web1', 'web10', 'db', 'web2']);
    expect(sortRows(rows, { key: 'weight', descending: true })[0]!.name).toBe('web1');
  });
});

describe('nextSort', () => {
  it('goes ascending, descending, then unsorted; another column starts ascending', () => {
    const a = nextSort(null, 'mips');
    expect(a).toEqual({ key: 'mips', descending: false });
    const b = nextSort(a, 'mips');
    expect(b).toEqual({ key: 'mips', descending: true });
    expect(nextSort(b, 'mips')).toBeNull();
    expect(nextSort(b, 'name')).toEqual({ key: 'name', descending: false });
  });
});
