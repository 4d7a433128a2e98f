// Validation of scheduler settings and VM CPU resources. Everything the user
// can type goes through here, so every refusal names the VM and the numbers.
import { HvError } from './errors.ts';
import { describeValue, fmtMs, fmtNumber, fmtPct } from './format.ts';
import type { SchedulerConfig, SchedulerConfigInput, UsageReport, VmId, VmResources, VmResourcesInput } from './scheduler-types.ts';

/** Default weight, like vSphere's NORMAL shares. */
export const DEFAULT_WEIGHT = 1000;
/** Largest weight accepted. */
export const MAX_WEIGHT = 100_000;
/** Most pCPUs a host may declare. */
export const MAX_PCPUS = 256;
/** Defaults of the optional config fields, in ms. */
export const DEFAULT_CONFIG = { periodMs: 100, sliceMs: 10, minGrantMs: 1, handOff: true } as const;

/** Fills defaults into a config (or merges a change into `base`) and validates it. */
export function normalizeConfig(input: Partial<SchedulerConfigInput>, base?: SchedulerConfig): SchedulerConfig {
  const merged = { ...DEFAULT_CONFIG, ...base, ...definedOnly(input) };
  const pcpus = merged.pcpus;
  if (typeof pcpus !== 'number' || !Number.isInteger(pcpus) || pcpus < 1 || pcpus > MAX_PCPUS) {
    throw invalid(`the host's pCPU count must be a whole number from 1 to ${MAX_PCPUS}, got ${describeValue(pcpus)}`, { pcpus });
  }
  const { periodMs, sliceMs, minGrantMs } = merged;
  if (!isNum(periodMs) || periodMs < 10 || periodMs > 10_000) {
    throw invalid(`the accounting period must be from 10 to 10000 ms, got ${describeValue(periodMs)}`, { periodMs });
  }
  if (!isNum(sliceMs) || sliceMs < 1 || sliceMs > periodMs) {
    throw invalid(`the time slice must be from 1 ms to the period (${fmtMs(periodMs)}), got ${describeValue(sliceMs)}`, { sliceMs, periodMs });
  }
  if (!isNum(minGrantMs) || minGrantMs < 0.1 || minGrantMs > sliceMs) {
    throw invalid(`the shortest grant must be from 0.1 ms to the slice (${fmtMs(sliceMs)}), got ${describeValue(minGrantMs)}`, {
      minGrantMs,
      sliceMs,
    });
  }
  const { handOff } = merged;
  if (typeof handOff !== 'boolean') throw invalid(`the hand-over switch must be true or false, got ${describeValue(handOff)}`, { handOff });
  return { pcpus, periodMs, sliceMs, minGrantMs, handOff };
}

/** Fills defaults into a VM's resources (or merges a change into `base`) and validates them. */
export function normalizeResources(input: VmResourcesInput | undefined, name: string, base?: VmResources): VmResources {
  const merged: VmResources = { weight: DEFAULT_WEIGHT, capPct: null, reservationPct: null, ...base };
  if (input) {
    if (input.weight !== undefined) merged.weight = input.weight;
    if (input.capPct !== undefined) merged.capPct = input.capPct;
    if (input.reservationPct !== undefined) merged.reservationPct = input.reservationPct;
  }
  const { weight, capPct, reservationPct } = merged;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > MAX_WEIGHT) {
    throw invalid(`weight of ${name} must be a whole number from 1 to ${MAX_WEIGHT}, got ${describeValue(weight)}`, { name, weight });
  }
  if (capPct !== null && (!isNum(capPct) || capPct < 1 || capPct > 100)) {
    throw invalid(`cap of ${name} must be from 1 to 100 % of one pCPU, got ${pctOrValue(capPct)}`, { name, capPct });
  }
  if (reservationPct !== null && (!isNum(reservationPct) || reservationPct < 0 || reservationPct > 100)) {
    throw invalid(`reservation of ${name} must be from 0 to 100 % of one pCPU, got ${pctOrValue(reservationPct)}`, {
      name,
      reservationPct,
    });
  }
  if (capPct !== null && reservationPct !== null && capPct < reservationPct) {
    throw invalid(
      `cap of ${name} (${fmtPct(capPct)}) is below its reservation (${fmtPct(reservationPct)}): a VM cannot be guaranteed more than it may use`,
      { name, capPct, reservationPct },
    );
  }
  return { weight, capPct, reservationPct };
}

/** Throws HvError 'reservation-overcommit' when reservations exceed pcpus x 100 %; `changed` names the VM being changed. */
export function checkReservations(
  vms: readonly { vmId: VmId; reservationPct: number | null }[],
  pcpus: number,
  changed?: VmId,
): void {
  const total = vms.reduce((sum, vm) => sum + (vm.reservationPct ?? 0), 0);
  const capacity = pcpus * 100;
  // A tiny tolerance so that e.g. three reservations of 33.33... % still fit.
  if (total <= capacity + 1e-9) return;
  const mine = vms.find((vm) => vm.vmId === changed)?.reservationPct ?? 0;
  const others = vms
    .filter((vm) => vm.vmId !== changed && (vm.reservationPct ?? 0) > 0)
    .map((vm) => `${vm.vmId} ${fmtPct(vm.reservationPct ?? 0)}`);
  const lead = changed === undefined ? 'reservations' : `cannot reserve ${fmtPct(mine)} of one pCPU for ${changed}: reservations`;
  const pcpuWord = pcpus === 1 ? '1 pCPU provides' : `${pcpus} pCPUs provide`;
  const list = others.length > 0 ? ` (${changed === undefined ? '' : 'others: '}${others.join(', ')})` : '';
  throw new HvError(
    'reservation-overcommit',
    `${lead} would total ${fmtPct(total)} but the host's ${pcpuWord} ${fmtPct(capacity)}${list}`,
    { totalPct: total, capacityPct: capacity, pcpus, vmId: changed ?? null, reservationPct: mine },
  );
}

/** Returns `now` if it is a finite time in ms, else throws HvError 'invalid-argument'. */
export function checkTime(now: number): number {
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw invalid(`a scheduler time must be a finite number of ms, got ${describeValue(now)}`, { now });
  }
  return now;
}

/** Throws HvError 'invalid-argument' unless a guest's report has finite, non-negative numbers. */
export function checkUsage(report: UsageReport, what: string): void {
  const { usedMs, instructions } = report;
  if (!isNum(usedMs) || usedMs < 0 || !isNum(instructions) || instructions < 0) {
    throw invalid(`a ${what} needs non-negative finite usedMs and instructions, got ${describeValue(usedMs)} ms and ${describeValue(instructions)}`, {
      usedMs,
      instructions,
    });
  }
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function pctOrValue(v: unknown): string {
  return isNum(v) ? `${fmtNumber(v, 3)} %` : describeValue(v);
}

function invalid(message: string, details: Record<string, unknown>): HvError {
  return new HvError('invalid-argument', message, details);
}

// `{ sliceMs: undefined }` must not override a default or a base value.
/** A guest's weight, cap and reservation as a file or form gives them: only the ones it sets (the others keep their defaults). */
export function cpuSettings(g: { weight?: number | undefined; capPct?: number | null | undefined; reservationPct?: number | null | undefined }): VmResourcesInput {
  return definedOnly({ weight: g.weight, capPct: g.capPct, reservationPct: g.reservationPct }) as VmResourcesInput;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
