// The "create guests" form checked against the hypervisor's current state,
// field by field, before anything is created or started: names, RAM against
// the image's minimum and the pool's free memory, CPU settings, reservations.
// The hypervisor checks everything again; this is what the user sees first.
import { HvError } from '../core/errors.ts';
import { fmtMiB } from '../core/format.ts';
import { validateMemoryMiB, type MemoryLimits } from '../core/memory-size.ts';
import { checkReservations, normalizeResources } from '../core/resources.ts';
import type { VmResources } from '../core/scheduler-types.ts';
import type { BootMode } from '../host/hypervisor.ts';
import { VM_NAME_RE, VM_NAME_RULE } from '../core/vm-name.ts';

/** What the user typed, as text (inputs give strings). */
export interface CreateForm {
  count: string;
  name: string;
  imageId: string;
  memory: string;
  weight: string;
  cap: string;
  reservation: string;
  boot: BootMode;
  startNow: boolean;
  /** The network its NIC is attached to; '' for none. */
  network: string;
  /** More networks its port carries tagged (a trunk port); ignored without a network. */
  trunk?: string[];
}

export type CreateField = 'count' | 'name' | 'image' | 'memory' | 'weight' | 'cap' | 'reservation';

/** What the check needs to know about the host right now. */
export interface CreateContext {
  existingNames: readonly string[];
  imageIds: readonly string[];
  memoryLimits(imageId: string): MemoryLimits;
  pool: { totalMiB: number; reservedMiB: number; freeMiB: number; overcommit: boolean };
  pcpus: number;
  /** Reservations of the VMs that exist, by name. */
  reservations: readonly { vmId: string; reservationPct: number | null }[];
}

export interface CreatePlan {
  names: string[];
  memoryMiB: number | null;
  resources: VmResources | null;
  errors: Partial<Record<CreateField, string>>;
  /** Not errors: e.g. "the pool will be overcommitted by 128 MiB". */
  warnings: string[];
}

/** Most guests created at once. */
export const MAX_COUNT = 16;

// Same rule as the hypervisor's: the name becomes the guest's hostname.

/** "12" -> 12, "" -> undefined (use the default), anything else is passed on as typed for the message. */
function numberOrRaw(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}

/** Names for a batch: one name as typed, or base1, base2, ... skipping names that are taken. */
export function batchNames(base: string, count: number, taken: readonly string[]): string[] {
  if (count <= 1) return [base];
  const used = new Set(taken);
  const names: string[] = [];
  for (let i = 1; names.length < count && i < 10_000; i++) {
    if (!used.has(`${base}${i}`)) names.push(`${base}${i}`);
  }
  return names;
}

/** The first free name base1, base2, ... */
export function freeName(base: string, taken: readonly string[]): string {
  return batchNames(base, 2, taken)[0]!;
}

/** Check the form; a plan with no errors can be created as is. */
export function planCreate(form: CreateForm, ctx: CreateContext): CreatePlan {
  const errors: CreatePlan['errors'] = {};
  const warnings: string[] = [];

  const count = Number(form.count.trim());
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    errors.count = `the number of guests must be a whole number from 1 to ${MAX_COUNT}, got "${form.count}"`;
  }
  const n = errors.count ? 1 : count;

  const base = form.name.trim();
  const names = batchNames(base, n, ctx.existingNames);
  const longest = names.reduce((a, b) => (b.length > a.length ? b : a), base);
  if (!VM_NAME_RE.test(longest)) {
    errors.name =
      n > 1
        ? `"${longest}" is not a valid name: use letters, digits and dashes, 32 at most (it becomes the guest's hostname)`
        : `VM name "${base}" is not valid: ${VM_NAME_RULE}`;
  } else if (n === 1 && ctx.existingNames.includes(base)) {
    errors.name = `a VM named ${base} already exists`;
  }

  if (!ctx.imageIds.includes(form.imageId)) errors.image = `there is no image "${form.imageId}"`;

  let memoryMiB: number | null = null;
  if (!errors.image) {
    try {
      memoryMiB = validateMemoryMiB(form.memory, ctx.memoryLimits(form.imageId));
    } catch (err) {
      errors.memory = HvError.from(err).message;
    }
  }
  if (memoryMiB !== null && form.startNow) {
    const need = memoryMiB * n;
    const { freeMiB, totalMiB, reservedMiB, overcommit } = ctx.pool;
    if (need > freeMiB) {
      const what = n > 1 ? `${n} × ${fmtMiB(memoryMiB)} = ${fmtMiB(need)}` : fmtMiB(need);
      const pool = `only ${fmtMiB(freeMiB)} of the ${fmtMiB(totalMiB)} pool is free (${fmtMiB(reservedMiB)} reserved by guests that are on)`;
      if (overcommit) warnings.push(`${what} is more than the free memory: ${pool}; the host will be overcommitted by ${fmtMiB(need - freeMiB)}`);
      else errors.memory = `${what} does not fit: ${pool}. Lower the RAM, stop or destroy a guest, or allow overcommit`;
    }
  }

  let resources: VmResources | null = null;
  try {
    resources = normalizeResources(
      {
        weight: numberOrRaw(form.weight) as number | undefined,
        capPct: (numberOrRaw(form.cap) ?? null) as number | null,
        reservationPct: (numberOrRaw(form.reservation) ?? null) as number | null,
      },
      names[0] || 'the guest',
    );
  } catch (err) {
    const e = HvError.from(err);
    const field: CreateField = 'weight' in e.details ? 'weight' : 'capPct' in e.details ? 'cap' : 'reservation';
    errors[field] = e.message;
  }
  if (resources && resources.reservationPct !== null && !errors.name) {
    try {
      const mine = names.map((name) => ({ vmId: name, reservationPct: resources!.reservationPct }));
      checkReservations([...ctx.reservations, ...mine], ctx.pcpus, names[0]);
    } catch (err) {
      errors.reservation = HvError.from(err).message;
    }
  }
  return { names, memoryMiB, resources, errors, warnings };
}
