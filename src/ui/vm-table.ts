// The rows of the guests' list view (VmTable.svelte), as in a VM list of
// vSphere: one row per guest with its settings and its last seconds'
// measurements, sortable by any column. Pure: the component only draws.
import type { WindowSummary } from '../core/metrics.ts';
import type { VmInfo } from '../host/hypervisor.ts';

export interface VmRow {
  id: string;
  name: string;
  state: VmInfo['state'];
  memoryMiB: number;
  weight: number;
  capPct: number | null;
  reservationPct: number | null;
  /** Achieved and promised (configured) % of one pCPU; null with no recent periods. */
  sharePct: number | null;
  entitlementPct: number | null;
  mips: number | null;
  readyPct: number | null;
}

export type SortKey = 'name' | 'state' | 'memoryMiB' | 'weight' | 'sharePct' | 'mips' | 'readyPct';
export interface Sort {
  key: SortKey;
  descending: boolean;
}

/** One row per VM, in the hypervisor's order. */
export function vmRows(vms: readonly VmInfo[], now: Readonly<Record<string, WindowSummary | null>>): VmRow[] {
  return vms.map((vm) => {
    const m = now[vm.id] ?? null;
    return {
      id: vm.id,
      name: vm.name,
      state: vm.state,
      memoryMiB: vm.memoryMiB,
      weight: vm.resources.weight,
      capPct: vm.resources.capPct,
      reservationPct: vm.resources.reservationPct,
      sharePct: m?.sharePct ?? null,
      entitlementPct: m?.entitlementPct ?? null,
      mips: m?.mips ?? null,
      readyPct: m?.readyPct ?? null,
    };
  });
}

/** The rows sorted by one column (no sort: as given); rows without a value go last either way, ties keep their order. */
export function sortRows(rows: readonly VmRow[], sort: Sort | null): VmRow[] {
  if (!sort) return [...rows];
  const sign = sort.descending ? -1 : 1;
  return rows
    .map((row, i) => ({ row, i }))
    .sort((a, b) => {
      const x = a.row[sort.key];
      const y = b.row[sort.key];
      if (x === null || y === null) return x === y ? a.i - b.i : x === null ? 1 : -1;
      const c = typeof x === 'string' ? x.localeCompare(String(y), undefined, { numeric: true }) : x - (y as number);
      return c !== 0 ? sign * c : a.i - b.i;
    })
    .map((e) => e.row);
}

/** A click on a column's header: sort by it ascending, then descending, then not at all. */
export function nextSort(current: Sort | null, key: SortKey): Sort | null {
  if (current?.key !== key) return { key, descending: false };
  return current.descending ? null : { key, descending: true };
}
