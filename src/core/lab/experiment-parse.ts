// Parse and check an experiment file: YAML, the schema, then what a schema
// cannot say (sweep keys that name a field, every sweep point a host can run,
// regular expressions that compile). Problems are located like a lab's (line,
// column, field path), and a file with any problem is refused whole.
import * as v from 'valibot';
import { DEFAULT_CONFIG, cpuSettings } from '../resources.ts';
import { checkHostLimits, guestNames, parseLocated, reportIssue, type LabContext, type LabGuest, type Report } from './parse.ts';
import type { LabPath, LabProblem } from './locate.ts';
import { EXPERIMENT_SCHEMA, METRICS, SWEEP_KEY_RE, type ExperimentFile, type MetricName, type WorkloadSpec } from './experiment-schema.ts';

/** One guest of one sweep point, with a count and prefix expanded to names: a lab guest's identity, RAM, CPU settings and network, and what it runs. */
export type ExperimentGuest = Pick<LabGuest, 'name' | 'image' | 'memoryMiB' | 'weight' | 'capPct' | 'reservationPct' | 'network'> & {
  /** NIC limit at the switch, Mbit/s (null or absent: none). */
  nicMbps?: number | null;
  workload: WorkloadSpec;
};

export interface ExperimentHost {
  pcpus: number;
  memoryMiB: number;
  overcommit: boolean;
  periodMs?: number;
  sliceMs?: number;
}

/** A swept parameter and its values, in the file's order. */
export interface SweepParam {
  key: string;
  values: (number | null)[];
}

/** A checked experiment, ready to plan and run. */
export interface Experiment {
  title: string;
  description: string;
  /** The file as written (sweep points are applied to it). */
  file: ExperimentFile;
  sweep: SweepParam[];
  warmUpS: number;
  durationS: number;
  windowS: number;
  repeats: number;
  metrics: MetricName[];
  plot: { x: string | null; y: MetricName[] };
}

export type ExperimentParse = { ok: true; experiment: Experiment } | { ok: false; problems: LabProblem[] };

/** The per-VM metrics (busy is the host's). */
export const VM_METRICS: readonly MetricName[] = METRICS.filter((m) => m !== 'busy');

/** Parse experiment text; every problem is reported, sorted by position. */
export function parseExperiment(text: string, ctx: LabContext): ExperimentParse {
  const r = parseLocated(text, EXPERIMENT_SCHEMA, (file, report) => checkExperiment(file, ctx, report));
  return r.ok ? { ok: true, experiment: r.value } : r;
}

function checkExperiment(file: ExperimentFile, ctx: LabContext, report: Report): Experiment {
  const sweep = Object.entries(file.sweep ?? {}).map(([key, values]) => ({ key, values }));
  const groups = new Set(file.guests.map((g) => g.name ?? g.prefix ?? ''));
  let sweepOk = true;
  const sweepReport: Report = (...args) => {
    sweepOk = false;
    report(...args);
  };
  for (const { key, values } of sweep) {
    if (!SWEEP_KEY_RE.test(key)) {
      sweepReport(['sweep', key], `"${key}" is not a parameter that can be swept (host.pcpus, host.sliceMs, host.periodMs, or guests.NAME.weight|capPct|reservationPct|memoryMiB|count|nicMbps)`, true);
      continue;
    }
    const [, group, field] = key.split('.') as [string, string, string];
    if (key.startsWith('guests.')) {
      if (!groups.has(group)) sweepReport(['sweep', key], `there is no guest "${group}" (guests: ${[...groups].join(', ')})`, true);
      else if (field === 'count' && file.guests.find((g) => g.name === group)) sweepReport(['sweep', key], `guest "${group}" has a name, not a prefix and a count`, true);
    }
    values.forEach((value, i) => {
      if (value === null && !(field === 'capPct' || field === 'reservationPct' || field === 'nicMbps')) sweepReport(['sweep', key, i], `only capPct, reservationPct and nicMbps may be null (none)`);
    });
  }
  const networks = new Set<string>();
  (file.networks ?? []).forEach((n, i) => {
    if (networks.has(n.name)) report(['networks', i, 'name'], `network name "${n.name}" is used twice`);
    networks.add(n.name);
  });
  file.guests.forEach((g, i) => {
    if (g.network !== undefined && !networks.has(g.network)) report(['guests', i, 'network'], networks.size ? `there is no network "${g.network}" (networks: ${[...networks].join(', ')})` : `there is no network "${g.network}": declare it under networks:`);
    if (g.nicMbps !== undefined && g.network === undefined) report(['guests', i, 'nicMbps'], 'a NIC limit needs a network: give the guest a network: first');
  });
  file.guests.forEach((g, i) => {
    const w = g.workload;
    if (w?.run === 'command' && w.score !== undefined) {
      try {
        // Its groups: what an alternation with the empty pattern captures.
        const groups = new RegExp(`${w.score}|`).exec('')!.length - 1;
        if (groups !== 1) report(['guests', i, 'workload', 'score'], `a score pattern needs exactly one group (the number), e.g. "per_s=(\\\\d+)"; it has ${groups}`);
      } catch (err) {
        report(['guests', i, 'workload', 'score'], `not a regular expression: ${(err as Error).message}`);
      }
    }
  });
  const metrics = file.metrics ?? [...METRICS];
  const perVm = metrics.filter((m) => m !== 'busy');
  const x = file.plot?.x ?? sweep[0]?.key ?? null;
  if (file.plot?.x !== undefined && !sweep.some((s) => s.key === file.plot!.x)) {
    report(['plot', 'x'], `the plot's x must be a swept parameter (${sweep.map((s) => s.key).join(', ') || 'none is swept'})`);
  }
  (file.plot?.y ?? []).forEach((m, i) => {
    if (!metrics.includes(m)) report(['plot', 'y', i], `"${m}" is not recorded (metrics: ${metrics.join(', ')})`);
  });
  const experiment: Experiment = {
    title: file.title,
    description: file.description ?? '',
    file,
    sweep,
    warmUpS: file.warmUpS ?? 2,
    durationS: file.durationS,
    windowS: file.windowS ?? 1,
    repeats: file.repeats ?? 1,
    metrics,
    plot: { x, y: file.plot?.y ?? (perVm.length > 0 ? perVm : metrics) },
  };
  if (experiment.windowS > experiment.durationS) report(['windowS'], `a ${experiment.windowS} s window is longer than the ${experiment.durationS} s measured`);
  // Every sweep point must be a valid file and a host that can run it. A
  // problem is reported once, where its field is, naming the first point with it.
  const found = new Map<string, { path: LabPath; message: string; keyOf: boolean; points: string[] }>();
  const points = sweepOk ? sweepPoints(sweep) : [];
  if (points.length > 1000) report(['sweep'], `${points.length} sweep points: at most 1000 (split the experiment)`);
  for (const point of points.slice(0, 1000)) {
    const pointReport: Report = (path, message, keyOf = false) => {
      const k = `${JSON.stringify(path)} ${message}`;
      const entry = found.get(k) ?? { path, message, keyOf, points: [] };
      if (point.length) entry.points.push(formatPoint(point));
      found.set(k, entry);
    };
    const parsed = v.safeParse(EXPERIMENT_SCHEMA, applyPoint(file, point), { abortEarly: false });
    if (parsed.success) pointSetup(parsed.output, ctx, pointReport);
    else for (const issue of parsed.issues) reportIssue(issue, pointReport);
  }
  for (const { path, message, keyOf, points: at } of found.values()) {
    const where = at.length === 0 ? '' : ` (at ${at[0]}${at.length > 1 ? ` and ${at.length - 1} more sweep point${at.length > 2 ? 's' : ''}` : ''})`;
    report(path, `${message}${where}`, keyOf);
  }
  return experiment;
}

/** "host.sliceMs=5, guests.b.weight=2000" */
export function formatPoint(point: { key: string; value: number | null }[]): string {
  return point.map((p) => `${p.key}=${p.value ?? 'none'}`).join(', ');
}

/** Every combination of the swept values, the first parameter varying slowest; one empty point when nothing is swept. */
export function sweepPoints(sweep: readonly SweepParam[]): { key: string; value: number | null }[][] {
  let points: { key: string; value: number | null }[][] = [[]];
  for (const { key, values } of sweep) points = points.flatMap((p) => values.map((value) => [...p, { key, value }]));
  return points;
}

/** The file with a sweep point's values put in (a copy). */
export function applyPoint(file: ExperimentFile, point: readonly { key: string; value: number | null }[]): ExperimentFile {
  const out: ExperimentFile = { ...file, host: { ...file.host }, guests: file.guests.map((g) => ({ ...g })) };
  for (const { key, value } of point) {
    const [where, a, b] = key.split('.') as [string, string, string?];
    if (where === 'host') (out.host as Record<string, unknown>)[a] = value;
    else for (const g of out.guests) if ((g.name ?? g.prefix) === a) (g as Record<string, unknown>)[b!] = value;
  }
  return out;
}

/** A sweep point's host and guests (problems reported: RAM, images, pool, reservations). */
export function pointSetup(file: ExperimentFile, ctx: LabContext, report: Report): { host: ExperimentHost; guests: ExperimentGuest[] } {
  const host: ExperimentHost = {
    pcpus: file.host?.pcpus ?? ctx.defaultPcpus,
    memoryMiB: file.host?.memoryMiB ?? ctx.defaultMemoryMiB,
    overcommit: file.host?.overcommit ?? false,
    ...(file.host?.periodMs !== undefined ? { periodMs: file.host.periodMs } : {}),
    ...(file.host?.sliceMs !== undefined ? { sliceMs: file.host.sliceMs } : {}),
  };
  // Against the scheduler's defaults where the file sets one of slice and period only.
  checkHostLimits({ ...host, periodMs: host.periodMs ?? DEFAULT_CONFIG.periodMs, sliceMs: host.sliceMs ?? DEFAULT_CONFIG.sliceMs }, ctx, report);
  const guests: ExperimentGuest[] = [];
  const seen = new Map<string, number>();
  file.guests.forEach((e, i) => {
    const g = guestNames(e, ['guests', i], ctx, report, seen);
    if (!g) return;
    for (const name of g.names) {
      guests.push({
        name,
        image: g.imageId,
        memoryMiB: g.memoryMiB,
        ...cpuSettings(e),
        ...(e.network !== undefined ? { network: e.network } : {}),
        ...(e.nicMbps !== undefined ? { nicMbps: e.nicMbps } : {}),
        workload: e.workload ?? { run: 'idle' },
      });
    }
  });
  // A net workload sends to a guest on its own network; each guest receives from one sender at most (its bytes are the score).
  const receivers = new Map<string, string>();
  file.guests.forEach((e, i) => {
    if (e.workload?.run !== 'net') return;
    const to = e.workload.to;
    const target = guests.find((g) => g.name === to);
    const sender = e.name ?? e.prefix ?? '';
    const at: LabPath = ['guests', i, 'workload', 'to'];
    if (!target) return report(at, `there is no guest "${to}" (guests: ${guests.map((g) => g.name).join(', ')})`);
    if (e.network === undefined || target.network !== e.network) return report(at, `${to} is not on ${sender}'s network (${e.network ?? 'none'}): a net workload sends to a guest on its own network`);
    if (e.count !== undefined && e.count > 1) return report(at, `${e.count} guests ${sender}1..${e.count} would all send to ${to}: a guest receives from one sender (give each sender a name)`);
    if (to === (e.name ?? `${e.prefix}1`)) return report(at, 'a guest cannot send to itself');
    if (receivers.has(to)) return report(at, `${to} already receives from ${receivers.get(to)}: a guest receives from one sender (its bytes are the sender's score)`);
    receivers.set(to, sender);
  });
  const reserved = guests.reduce((sum, g) => sum + (g.reservationPct ?? 0), 0);
  if (reserved > host.pcpus * 100) report(['guests'], `the guests reserve ${reserved} % of a pCPU in all, more than the host's ${host.pcpus} pCPU(s)`);
  const ram = guests.reduce((sum, g) => sum + g.memoryMiB, 0);
  if (!host.overcommit && ram > host.memoryMiB) report(['guests'], `the guests need ${ram} MiB, more than the ${host.memoryMiB} MiB pool (set host.overcommit or host.memoryMiB)`);
  return { host, guests };
}
