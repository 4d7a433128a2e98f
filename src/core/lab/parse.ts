// Parse and check a lab file: YAML, then the schema, then what a schema cannot
// say (names that must exist, RAM an image needs, what the host allows).
// Every problem is located (line, column, field path); a lab with any problem
// is refused whole, so nothing starts from a half-right file.
import * as v from 'valibot';
import { cpuSettings } from '../resources.ts';
import { LocatedYaml, formatPath, type LabPath, type LabProblem } from './locate.ts';
import { LAB_SCHEMA, type LabAction, type LabCheck, type LabFile, type LabHost, type LabStep } from './schema.ts';

/** Guest RAM when a lab does not say, MiB. */
export const LAB_DEFAULT_GUEST_MIB = 80;

/** What the playground offers a lab: its images (first = default) and the host's limits. */
export interface LabContext {
  images: { id: string; minMiB: number; maxMiB: number }[];
  /** Most pCPUs and pool MiB a lab may ask for. */
  maxPcpus: number;
  maxMemoryMiB: number;
  /** pCPUs and pool when the lab does not set them. */
  defaultPcpus: number;
  defaultMemoryMiB: number;
}

/** One guest of a lab, with a count and prefix expanded to names. */
export interface LabGuest {
  name: string;
  image: string;
  memoryMiB: number;
  weight?: number;
  capPct?: number | null;
  reservationPct?: number | null;
  boot: 'clone' | 'cold';
  start: boolean;
  files: { path: string; content: string; mode?: string }[];
  setup: string[];
  network?: string;
  /** More networks its port carries tagged (default none). */
  trunk: string[];
  /** Lab volumes by IDE slot (default none). */
  volumes: { hda?: string; hdb?: string };
  /** RAM its balloon leaves it once ready (MiB), if set. */
  balloonMiB?: number;
  /** Disk limits: requests/s and bytes/s (null: none), shares. */
  io?: { iops?: number | null; bytesPerSec?: number | null; shares?: number };
}

/** A lab volume (LabFile's volumes entry). */
export type LabVolume = NonNullable<LabFile['volumes']>[number];

/** A lab mirror (LabFile's mirrors entry). */
export type LabMirror = NonNullable<LabFile['mirrors']>[number];

/** The lab's own host's name, beside the hosts it declares. */
export const LAB_FIRST_HOST = 'host1';

/** Another host of the lab (LabFile's hosts entry). */
export type LabExtraHost = NonNullable<LabFile['hosts']>[number];

/** A lab network (LabFile's networks entry). */
export type LabNetwork = NonNullable<LabFile['networks']>[number];

/** A checked lab, ready to run. */
export interface Lab {
  title: string;
  description: string;
  host: Required<Pick<LabHost, 'pcpus' | 'memoryMiB' | 'overcommit'>> & Pick<LabHost, 'periodMs' | 'sliceMs' | 'diskIops'>;
  /** More hosts (host1 is the lab's own). */
  hosts: LabExtraHost[];
  networks: LabNetwork[];
  volumes: LabVolume[];
  guests: LabGuest[];
  mirrors: LabMirror[];
  consoles: string[];
  allowedOrigins: string[];
  steps: LabStep[];
}

export type LabParse = { ok: true; lab: Lab } | { ok: false; problems: LabProblem[] };

/** Parse lab text; every problem is reported, sorted by position. */
export function parseLab(text: string, ctx: LabContext): LabParse {
  const r = parseLocated(text, LAB_SCHEMA, (file, report) => checkMeaning(file, ctx, report));
  return r.ok ? { ok: true, lab: r.value } : r;
}

/** Where a problem is (a field's path), and what it is; keyOf: point at the key itself. */
export type Report = (path: LabPath, message: string, keyOf?: boolean) => void;

/**
 * YAML text through a valibot schema and then `meaning` (the checks no schema
 * can make); every problem located and sorted. The lab and experiment formats
 * both parse this way.
 */
export function parseLocated<S extends v.GenericSchema, T>(
  text: string,
  schema: S,
  meaning: (file: v.InferOutput<S>, report: Report) => T,
): { ok: true; value: T } | { ok: false; problems: LabProblem[] } {
  const yaml = new LocatedYaml(text);
  if (yaml.problems.length > 0) return { ok: false, problems: yaml.problems };
  const problems: LabProblem[] = [];
  const report: Report = (path, message, keyOf = false) => {
    problems.push({ ...yaml.locate(path, keyOf), path: formatPath(path), message });
  };
  const parsed = v.safeParse(schema, yaml.value, { abortEarly: false });
  if (!parsed.success) {
    for (const issue of parsed.issues) reportIssue(issue, report);
    return { ok: false, problems: sorted(problems) };
  }
  const value = meaning(parsed.output, report);
  return problems.length > 0 ? { ok: false, problems: sorted(problems) } : { ok: true, value };
}

function sorted(problems: LabProblem[]): LabProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** A valibot issue in the words of a lab author. */
export function reportIssue(issue: v.BaseIssue<unknown>, report: Report): void {
  const path = (issue.path ?? []).map((p) => p.key as string | number);
  const last = path.at(-1);
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    report(path, `unknown key "${String(last)}"`, true);
  } else if (issue.kind === 'schema' && issue.received === 'undefined' && typeof last === 'string') {
    report(path, `"${last}" is required`);
  } else if (issue.type === 'variant') {
    report(path, `must be one of ${issue.expected?.replace(/[()"]/g, '')}, got ${issue.received}`);
  } else if (issue.kind === 'schema') {
    report(path, `expected ${issue.expected?.replace(/"/g, '')}, got ${issue.received}`);
  } else {
    report(path, issue.message.startsWith('Invalid') ? `${issue.message.replace(/^Invalid \w+: /, '').toLowerCase()}` : issue.message);
  }
}

/** The checks no schema can make (each problem reported); returns the lab with defaults applied. */
function checkMeaning(file: LabFile, ctx: LabContext, report: Report): Lab {
  const host = {
    pcpus: file.host?.pcpus ?? ctx.defaultPcpus,
    memoryMiB: file.host?.memoryMiB ?? ctx.defaultMemoryMiB,
    overcommit: file.host?.overcommit ?? false,
    ...(file.host?.periodMs !== undefined ? { periodMs: file.host.periodMs } : {}),
    ...(file.host?.sliceMs !== undefined ? { sliceMs: file.host.sliceMs } : {}),
    ...(file.host?.diskIops !== undefined ? { diskIops: file.host.diskIops } : {}),
  };
  checkHostLimits(host, ctx, report);
  const hostNames = new Set([LAB_FIRST_HOST]);
  (file.hosts ?? []).forEach((h, i) => {
    if (hostNames.has(h.name)) report(['hosts', i, 'name'], h.name === LAB_FIRST_HOST ? `${LAB_FIRST_HOST} is the lab's own host: name the others otherwise` : `host name "${h.name}" is used twice`);
    hostNames.add(h.name);
    if (h.pcpus !== undefined && h.pcpus > ctx.maxPcpus) report(['hosts', i, 'pcpus'], `${h.pcpus} pCPUs is more than this playground allows (${ctx.maxPcpus})`);
    if (h.memoryMiB !== undefined && h.memoryMiB > ctx.maxMemoryMiB) report(['hosts', i, 'memoryMiB'], `a ${h.memoryMiB} MiB pool is more than this playground allows (${ctx.maxMemoryMiB} MiB)`);
  });
  const knownHost = (path: LabPath, host: string): void => {
    if (!hostNames.has(host)) report(path, `there is no host "${host}" (hosts: ${[...hostNames].join(', ')})`);
  };
  const networks = file.networks ?? [];
  const netNames = new Map<string, number>();
  const vlans = new Map<number, number>();
  networks.forEach((n, i) => {
    if (netNames.has(n.name)) report(['networks', i, 'name'], `network name "${n.name}" is used twice (also by networks[${netNames.get(n.name)}])`);
    netNames.set(n.name, i);
    if (n.vlan !== undefined) {
      if (vlans.has(n.vlan)) report(['networks', i, 'vlan'], `VLAN ${n.vlan} is networks[${vlans.get(n.vlan)}]'s already: each network is a VLAN of its own`);
      vlans.set(n.vlan, i);
    }
  });
  const knownNetwork = (path: LabPath, network: string): void => {
    if (!netNames.has(network)) report(path, netNames.size ? `there is no network "${network}" (networks: ${[...netNames.keys()].join(', ')})` : `there is no network "${network}": declare it under networks:`);
  };
  const volumes = file.volumes ?? [];
  const volNames = new Map<string, number>();
  volumes.forEach((vol, i) => {
    if (volNames.has(vol.name)) report(['volumes', i, 'name'], `volume name "${vol.name}" is used twice (also by volumes[${volNames.get(vol.name)}])`);
    volNames.set(vol.name, i);
  });
  // Volumes made by a step (clone-volume) may be named too.
  for (const step of file.steps) for (const a of step.solution ?? []) if (a.do === 'clone-volume') volNames.set(a.name, -1);
  const knownVolume = (path: LabPath, volume: string): void => {
    if (!volNames.has(volume)) report(path, volNames.size ? `there is no volume "${volume}" (volumes: ${[...volNames.keys()].join(', ')})` : `there is no volume "${volume}": declare it under volumes:`);
  };
  const guests = expandGuests(file, ctx, report);
  const attachedBy = new Map<string, string>();
  file.guests.forEach((g, i) => {
    const vols = g.volumes ?? {};
    if (vols.hdb !== undefined && vols.hda === undefined) report(['guests', i, 'volumes', 'hdb'], 'a volume as hdb needs one as hda (v86 has hdb only beside hda)');
    for (const slot of ['hda', 'hdb'] as const) {
      const vol = vols[slot];
      if (vol === undefined) continue;
      knownVolume(['guests', i, 'volumes', slot], vol);
      if ((g as { count?: number }).count !== undefined) report(['guests', i, 'volumes'], 'a volume has one guest at a time: give guests with volumes a name, not a count');
      const other = attachedBy.get(vol);
      if (other !== undefined) report(['guests', i, 'volumes', slot], `volume "${vol}" is attached to ${other} already (a volume has one guest at a time)`);
      attachedBy.set(vol, g.name ?? g.prefix ?? '');
    }
  });
  file.guests.forEach((g, i) => {
    if (g.network !== undefined) knownNetwork(['guests', i, 'network'], g.network);
    const trunk = g.trunk ?? [];
    if (trunk.length && g.network === undefined) report(['guests', i, 'trunk'], 'a trunk carries networks besides the guest\'s own: give the guest a network: first');
    trunk.forEach((n, t) => {
      knownNetwork(['guests', i, 'trunk', t], n);
      if (n === g.network) report(['guests', i, 'trunk', t], `network "${n}" is the guest's own (untagged) network: a trunk carries other networks`);
      if (trunk.indexOf(n) !== t) report(['guests', i, 'trunk', t], `network "${n}" is listed twice in the trunk`);
    });
  });
  const names = new Set(guests.map((g) => g.name));
  const known = (path: LabPath, guest: string): void => {
    if (!names.has(guest)) report(path, `there is no guest "${guest}" (guests: ${[...names].join(', ')})`);
  };
  const mirrors = file.mirrors ?? [];
  const mirrorNames = new Set<string>();
  mirrors.forEach((m, i) => {
    if (mirrorNames.has(m.name)) report(['mirrors', i, 'name'], `mirror name "${m.name}" is used twice`);
    mirrorNames.add(m.name);
    known(['mirrors', i, 'to'], m.to);
    if ('guest' in m.from) {
      known(['mirrors', i, 'from', 'guest'], m.from.guest);
      if (m.from.guest === m.to) report(['mirrors', i, 'to'], `mirror ${m.name} would copy ${m.to}'s port to itself`);
    } else knownNetwork(['mirrors', i, 'from', 'network'], m.from.network);
  });
  const reserved = guests.reduce((sum, g) => sum + (g.reservationPct ?? 0), 0);
  if (reserved > host.pcpus * 100) {
    report(['guests'], `the guests reserve ${reserved} % of a pCPU in all, more than the host's ${host.pcpus} pCPU(s) (${host.pcpus * 100} %)`);
  }
  const startRam = guests.filter((g) => g.start).reduce((sum, g) => sum + g.memoryMiB, 0);
  if (!host.overcommit && startRam > host.memoryMiB) {
    report(['guests'], `the guests that start with the lab need ${startRam} MiB, more than the ${host.memoryMiB} MiB pool (set host.overcommit, or start: false on some)`);
  }
  (file.consoles ?? []).forEach((c, i) => known(['consoles', i], c));
  const stepIds = new Set<string>();
  file.steps.forEach((step, s) => {
    if (stepIds.has(step.id)) report(['steps', s, 'id'], `step id "${step.id}" is used twice`);
    stepIds.add(step.id);
    step.checks.forEach((check, c) => {
      checkCheck(check, ['steps', s, 'checks', c], known, report);
      if (check.type === 'capture') knownNetwork(['steps', s, 'checks', c, 'network'], check.network);
      if (check.type === 'migration') knownHost(['steps', s, 'checks', c, 'on'], check.on);
      if (check.type === 'volume') {
        knownVolume(['steps', s, 'checks', c, 'volume'], check.volume);
        if (check.attachedTo) known(['steps', s, 'checks', c, 'attachedTo'], check.attachedTo);
        if ((check.contains === undefined) !== (check.expect === undefined)) report(['steps', s, 'checks', c], 'a volume check with contains needs expect (and expect needs contains)');
        if (check.contains === undefined && check.attachedTo === undefined) report(['steps', s, 'checks', c], 'a volume check needs contains (with expect) or attachedTo');
      }
    });
    (step.solution ?? []).forEach((action, a) => {
      checkAction(action, ['steps', s, 'solution', a], known);
      if (action.do === 'attach' || action.do === 'clone-volume') knownVolume(['steps', s, 'solution', a, 'volume'], action.volume);
      if (action.do === 'migrate') knownHost(['steps', s, 'solution', a, 'to'], action.to);
    });
  });
  const consoles = file.consoles ?? guests.slice(0, 2).map((g) => g.name);
  return {
    title: file.title,
    description: file.description ?? '',
    host,
    hosts: file.hosts ?? [],
    networks,
    volumes,
    guests,
    mirrors,
    consoles,
    allowedOrigins: file.embed?.allowedOrigins ?? [],
    steps: file.steps,
  };
}

function expandGuests(file: LabFile, ctx: LabContext, report: Report): LabGuest[] {
  const out: LabGuest[] = [];
  const seen = new Map<string, number>();
  file.guests.forEach((e, i) => {
    const g = guestNames(e, ['guests', i], ctx, report, seen);
    if (!g) return;
    const { names, imageId, memoryMiB } = g;
    for (const name of names) {
      out.push({
        name,
        image: imageId,
        memoryMiB,
        ...cpuSettings(e),
        boot: e.boot ?? 'clone',
        start: e.start ?? true,
        files: e.files ?? [],
        setup: e.setup ?? [],
        ...(e.network !== undefined ? { network: e.network } : {}),
        trunk: e.trunk ?? [],
        volumes: { ...(e.volumes ?? {}) },
        ...(e.balloonMiB !== undefined ? { balloonMiB: e.balloonMiB } : {}),
        ...(e.io
          ? {
              io: {
                ...(e.io.iops !== undefined ? { iops: e.io.iops } : {}),
                ...(e.io.mbps !== undefined ? { bytesPerSec: e.io.mbps === null ? null : e.io.mbps * 1e6 } : {}),
                ...(e.io.shares !== undefined ? { shares: e.io.shares } : {}),
              },
            }
          : {}),
      });
    }
  });
  return out;
}

/** The host a file asks for against what the playground allows; the slice against the period when both are known. */
export function checkHostLimits(host: { pcpus: number; memoryMiB: number; periodMs?: number; sliceMs?: number }, ctx: LabContext, report: Report): void {
  if (host.pcpus > ctx.maxPcpus) report(['host', 'pcpus'], `${host.pcpus} pCPUs is more than this playground allows (${ctx.maxPcpus})`);
  if (host.memoryMiB > ctx.maxMemoryMiB) report(['host', 'memoryMiB'], `a ${host.memoryMiB} MiB pool is more than this playground allows (${ctx.maxMemoryMiB} MiB)`);
  if (host.periodMs !== undefined && host.sliceMs !== undefined && host.sliceMs > host.periodMs) {
    report(['host', 'sliceMs'], `a ${host.sliceMs} ms slice is longer than the ${host.periodMs} ms period`);
  }
}

/** A guest entry's names (its name, or prefix1..prefixN), image and RAM, each checked; null when it has neither a name nor a prefix and count. */
export function guestNames(
  e: { name?: string; prefix?: string; count?: number; image?: string; memoryMiB?: number },
  at: LabPath,
  ctx: LabContext,
  report: Report,
  seen: Map<string, number>,
): { names: string[]; imageId: string; memoryMiB: number } | null {
  if ((e.name === undefined) === (e.prefix === undefined) || (e.prefix === undefined) !== (e.count === undefined)) {
    report(at, 'a guest has either a name, or a prefix and a count');
    return null;
  }
  const imageId = e.image ?? ctx.images[0]?.id ?? '';
  const image = ctx.images.find((im) => im.id === imageId);
  if (!image) report([...at, 'image'], `there is no image "${imageId}" (images: ${ctx.images.map((im) => im.id).join(', ')})`);
  const memoryMiB = e.memoryMiB ?? Math.max(LAB_DEFAULT_GUEST_MIB, image?.minMiB ?? 0);
  if (image && memoryMiB < image.minMiB) {
    report([...at, 'memoryMiB'], `${memoryMiB} MiB is below the ${image.minMiB} MiB that image "${image.id}" needs (v86 places its initrd at 64 MiB)`);
  } else if (image && memoryMiB > image.maxMiB) {
    report([...at, 'memoryMiB'], `${memoryMiB} MiB is above the ${image.maxMiB} MiB a guest may have`);
  }
  const names = e.name !== undefined ? [e.name] : Array.from({ length: e.count! }, (_, k) => `${e.prefix}${k + 1}`);
  const index = at.at(-1) as number;
  for (const name of names) {
    const first = seen.get(name);
    if (first !== undefined) report([...at, e.name !== undefined ? 'name' : 'prefix'], `guest name "${name}" is used twice (also by guests[${first}])`);
    seen.set(name, index);
  }
  return { names, imageId, memoryMiB };
}

function checkCheck(check: LabCheck, at: LabPath, known: (path: LabPath, guest: string) => void, report: Report): void {
  if ('guest' in check && check.guest !== undefined) known([...at, 'guest'], check.guest);
  const compares = (c: { equals?: unknown; min?: unknown; max?: unknown }): boolean => c.equals !== undefined || c.min !== undefined || c.max !== undefined;
  switch (check.type) {
    case 'command':
      if (check.output !== undefined) {
        try {
          new RegExp(check.output, 'm');
        } catch (err) {
          report([...at, 'output'], `not a regular expression: ${(err as Error).message}`);
        }
      }
      return;
    case 'metric':
      if (check.target === undefined && !compares(check)) report(at, 'a metric check needs a target (with a tolerance) or a min or max');
      if (check.target !== undefined && check.tolerance === undefined) report([...at, 'target'], 'a target needs a tolerance (in the metric\'s unit)');
      return;
    case 'setting':
      if (check.isSet === undefined && !compares(check)) report(at, 'a setting check needs isSet, equals, min or max');
      return;
    case 'host':
      if (!compares(check)) report(at, 'a host check needs equals, min or max');
      return;
    case 'lifecycle':
      if ((check.is === undefined) === (check.happened === undefined)) report(at, 'a lifecycle check needs either "is" or "happened"');
      return;
    case 'capture':
      try {
        new RegExp(check.contains);
      } catch (err) {
        report([...at, 'contains'], `not a regular expression: ${(err as Error).message}`);
      }
      return;
    case 'balloon':
      if (!compares(check)) report(at, 'a balloon check needs equals, min or max');
      return;
    case 'memory':
    case 'volume':
    case 'snapshot':
    case 'migration':
      return;
  }
}

function checkAction(action: LabAction, at: LabPath, known: (path: LabPath, guest: string) => void): void {
  if ('guest' in action) known([...at, 'guest'], action.guest);
}
