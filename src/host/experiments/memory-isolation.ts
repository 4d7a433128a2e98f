// Memory isolation: guest A holds a secret in its RAM; the hypervisor, which
// alone can read every guest's physical memory, searches each running guest
// (inside that guest's worker) and must find it in A only. Then guest B
// searches its own physical memory (/dev/mem, with hv-memscan) and must not
// find it either, while it does find a control marker B itself holds (so a
// "not found" cannot come from a broken tool).
import { HvError } from '../../core/errors.ts';
import type { HostApi } from '../host-api.ts';
import {
  DEFAULT_GUEST_MIB,
  ExperimentGuests,
  Steps,
  abortable,
  now,
  pollExec,
  type ExperimentOptions,
  type GuestRef,
  type Verdict,
} from './experiment.ts';
import { memscanCommand, memtouchCommand, memtouchHeld, parseMemscan } from './guest-tools.ts';
import { maskPatterns, randomAlnum, randomSecret, validateSecret } from './secret.ts';

export interface MemoryIsolationOptions extends ExperimentOptions {
  /** The user's secret (validated); default: a random one. */
  secret?: string;
  /** MiB of tmpfs guest A fills with the secret (default 1). */
  holdMiB?: number;
  /** Hits counted per guest before the search stops (default 64). */
  maxHits?: number;
}

/** What the hypervisor found in one guest's RAM. */
export interface HostSearch extends GuestRef {
  role: 'holder' | 'checker' | 'bystander';
  found: boolean;
  hits: number;
  /** More hits existed than were counted. */
  truncated: boolean;
  /** Guest-physical addresses of the first hits (at most 8). */
  addresses: number[];
  bytesScanned: number;
  ms: number;
}

/** What guest B's own tool found in B's own physical memory. */
export interface GuestSearch extends GuestRef {
  secretHits: number;
  /** Hits of the control marker B holds itself: must be > 0. */
  controlHits: number;
  controlAddresses: number[];
  /** Bytes of /dev/mem the guest read (the RAM its kernel maps). */
  bytesScanned: number;
  /** Unreadable pages between readable ones. */
  bytesSkipped: number;
  /** Where the RAM B's kernel lets it read ends (v86's BIOS reserves the top 16 MiB). */
  ramEnd: number;
  /** On the guest's clock. */
  ms: number;
  /** The command B ran: key and masked patterns in hex, never the secret. */
  command: string;
}

export interface MemoryIsolationResult {
  kind: 'memory';
  secret: { value: string; source: 'random' | 'user'; bytes: number };
  holder: GuestRef & { heldMiB: number };
  /** One row per running guest, the experiment's and any others. */
  hostSearch: HostSearch[];
  guestSearch: GuestSearch;
  verdict: Verdict;
  durationMs: number;
}

const STEPS = 6;
const MAX_ADDRESSES = 8;

/** Run the memory isolation experiment on hv (it creates and destroys iso-a and iso-b). */
export async function runMemoryIsolation(hv: HostApi, options: MemoryIsolationOptions = {}): Promise<MemoryIsolationResult> {
  const t0 = now();
  const steps = new Steps(STEPS, options);
  const { signal } = options;
  const source = options.secret === undefined ? 'random' : 'user';
  const secret = options.secret === undefined ? randomSecret() : validateSecret(options.secret);
  const control = randomAlnum(24);
  const holdMiB = options.holdMiB ?? 1;
  const maxHits = options.maxHits ?? 64;
  const memoryMiB = options.memoryMiB ?? DEFAULT_GUEST_MIB;
  const prefix = options.namePrefix ?? 'iso';
  const guests = new ExperimentGuests(hv, signal);
  try {
    steps.next(`Booting ${prefix}-a and ${prefix}-b (${memoryMiB} MiB each)`);
    const [a, b] = (await guests.start([
      { name: `${prefix}-a`, memoryMiB },
      { name: `${prefix}-b`, memoryMiB },
    ])) as [GuestRef, GuestRef];

    steps.next('Checking that no guest holds the secret yet');
    const before = await searchAll(hv, secret, a, b, 1, signal);
    const already = before.filter((s) => s.found);
    if (already.length > 0) {
      throw new HvError(
        'invalid-argument',
        `the secret already occurs in the RAM of ${already.map((s) => s.name).join(', ')} before any guest was given it (is it a word the system uses?): choose another`,
        { guests: already.map((s) => s.name) },
      );
    }

    steps.next(`${a.name} writes the secret into ${holdMiB} MiB of its RAM; ${b.name} holds a control marker`);
    await guests.run(a, memtouchCommand(holdMiB, secret, '/run/hv-memtouch.log'));
    await guests.run(b, memtouchCommand(1, control, '/run/hv-memtouch.log'));
    for (const vm of [a, b]) await pollExec(guests, vm, 'cat /run/hv-memtouch.log', (out) => memtouchHeld(out, vm.name), 60_000, signal);

    steps.next(`${b.name} searches its own physical memory (/dev/mem) with hv-memscan`);
    const masked = maskPatterns([secret, control]);
    const command = memscanCommand(masked, memoryMiB);
    const scan = parseMemscan((await guests.run(b, command, 300_000)).output, 2);
    const [secretScan, controlScan] = scan.patterns as [(typeof scan.patterns)[0], (typeof scan.patterns)[0]];
    const guestSearch: GuestSearch = {
      ...b,
      secretHits: secretScan.hits,
      controlHits: controlScan.hits,
      controlAddresses: controlScan.addresses,
      bytesScanned: scan.bytesScanned,
      bytesSkipped: scan.bytesSkipped,
      ramEnd: scan.ramEnd,
      ms: scan.ms,
      command,
    };

    steps.next('The hypervisor searches the RAM of every running guest, inside each worker');
    const hostSearch = await searchAll(hv, secret, a, b, maxHits, signal);

    steps.next('Cleaning up');
    const verdict = judge(hostSearch, guestSearch, a);
    return {
      kind: 'memory',
      secret: { value: secret, source, bytes: new TextEncoder().encode(secret).length },
      holder: { ...a, heldMiB: holdMiB },
      hostSearch,
      guestSearch,
      verdict,
      durationMs: now() - t0,
    };
  } finally {
    await guests.dispose();
  }
}

/** Search every guest that has RAM right now (running or paused), one after the other. */
async function searchAll(
  hv: HostApi,
  secret: string,
  a: GuestRef,
  b: GuestRef,
  maxHits: number,
  signal?: AbortSignal,
): Promise<HostSearch[]> {
  const rows: HostSearch[] = [];
  for (const vm of hv.vms()) {
    const guest = hv.guest(vm.id);
    if (!guest || guest.isDestroyed || (vm.state !== 'running' && vm.state !== 'paused')) continue;
    const r = await abortable(guest.searchMemory(secret, maxHits), signal);
    rows.push({
      vmId: vm.id,
      name: vm.name,
      role: vm.id === a.vmId ? 'holder' : vm.id === b.vmId ? 'checker' : 'bystander',
      found: r.hits.length > 0,
      hits: r.hits.length,
      truncated: r.truncated,
      addresses: r.hits.slice(0, MAX_ADDRESSES).map((h) => h.address),
      bytesScanned: r.bytesScanned,
      ms: r.ms,
    });
  }
  return rows;
}

function judge(host: HostSearch[], guest: GuestSearch, a: GuestRef): Verdict {
  const holder = host.find((r) => r.vmId === a.vmId);
  if (!holder?.found) {
    return { pass: false, reason: `the hypervisor did not find the secret in ${a.name}, which holds it: the search itself is broken` };
  }
  const leaks = host.filter((r) => r.vmId !== a.vmId && r.found);
  if (leaks.length > 0) {
    return { pass: false, reason: `the secret was found in ${leaks.map((r) => `${r.name} (${r.hits} hits)`).join(', ')}, not only in ${a.name}` };
  }
  if (guest.controlHits === 0) {
    return { pass: false, reason: `${guest.name}'s hv-memscan did not even find its own control marker: its "not found" proves nothing` };
  }
  if (guest.secretHits > 0) {
    return { pass: false, reason: `${guest.name} found the secret ${guest.secretHits} times in its own physical memory` };
  }
  const others = host.length - 1;
  return {
    pass: true,
    reason:
      `the secret is only in ${a.name} (${holder.hits}${holder.truncated ? '+' : ''} hits); the hypervisor scanned ${others} other guest${others === 1 ? '' : 's'} ` +
      `and ${guest.name} scanned its own ${mib(guest.bytesScanned)} MiB of physical memory without finding it (while finding its own control marker ${guest.controlHits} times)`,
  };
}

const mib = (bytes: number): string => String(Math.round((bytes / (1 << 20)) * 10) / 10);
