// Runs an experiment file (core/lab/experiment-parse.ts) on a hypervisor's
// real guests, or on the core simulator (`simulate`): for every planned run it
// sets the host, boots the point's guests (clones), starts their workloads,
// lets them warm up, measures windows from the period records, collects the
// workloads' scores and destroys the guests whatever happened. The command
// line (src/cli/hv-run.ts) and the page's Experiments view both call it.
import { textSha256 } from '../../core/bytes.ts';
import { HvError } from '../../core/errors.ts';
import { DEFAULT_CONFIG, cpuSettings } from '../../core/resources.ts';
import { applyPoint, pointSetup, type Experiment, type ExperimentGuest } from '../../core/lab/experiment-parse.ts';
import type { LabContext, Report } from '../../core/lab/parse.ts';
import { planRuns, type PlannedRun, type Shard } from '../../core/experiment/plan.ts';
import { runRows, summarizeRuns, type PointSummary, type Row, type RunVm } from '../../core/experiment/results.ts';
import { simulateRun } from '../../core/experiment/simulate.ts';
import type { GuestImage } from '../../protocol/guest-api.ts';
import type { HostApi } from '../host-api.ts';
import { ExperimentGuests, abortable, messageOf, pollExec, sleep, type GuestRef } from './experiment.ts';
import { benchCommand, memtouchCommand, parseBench } from './guest-tools.ts';
import type { RateLimit } from '../../core/net/token-bucket.ts';

/** Where the runner runs: what it records about the machine. */
export interface RunnerHost {
  /** CPU model, or null where the platform does not say (a browser). */
  cpuModel: string | null;
  cores: number;
  platform: string;
  /** Load average over 1, 5 and 15 minutes, or null where there is none (a browser). */
  loadavg(): number[] | null;
}

export interface RunnerProgress {
  /** 1-based number of the current run among this shard's runs. */
  run: number;
  runs: number;
  key: string;
  phase: 'booting' | 'warming up' | 'measuring' | 'collecting' | 'done';
  /** 0..1 of this shard's planned time. */
  fraction: number;
}

export interface RunOptions {
  /** The experiment file's text, as read (its sha256 goes into the results). */
  text: string;
  ctx: LabContext;
  images: readonly GuestImage[];
  host: RunnerHost;
  version: string;
  shard?: Shard;
  /** Run on the core simulator: the scheduler's ideal, no guests. */
  simulate?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: RunnerProgress) => void;
  /** The current run's windows so far, about once a second while it is measured (a live plot). */
  onWindows?: (run: PlannedRun, windows: Row[]) => void;
}

export interface ResultMeta {
  title: string;
  /** sha256 of the experiment file's text. */
  experimentSha256: string;
  mode: 'guests' | 'simulate';
  version: string;
  /** The images the guests booted, by id: kernel, initrd and BIOS sha256. */
  images: { id: string; kernel: string; initrd: string; bios: string }[];
  host: { cpuModel: string | null; cores: number; platform: string; loadBefore: number[] | null; loadAfter: number[] | null };
  warnings: string[];
  shard: Shard;
  /** Keys of the runs these results hold. */
  runs: string[];
  startedAt: string;
  elapsedS: number;
}

export interface ResultSet {
  meta: ResultMeta;
  windows: Row[];
  runs: Row[];
  summary: PointSummary[];
}

const throwing: Report = (path, message) => {
  throw new HvError('invalid-argument', `${path.join('.')}: ${message}`, {});
};

/** A sentence when the load average says the machine was busy (results may be noisy), or null. */
export function loadWarning(when: 'before' | 'after', load: number[] | null, cores: number, ownThreads: number): string | null {
  if (!load) return null;
  const others = load[0]! - (when === 'after' ? ownThreads : 0);
  if (others < 0.5 * cores) return null;
  return `the machine was busy ${when} the experiment: load average ${load[0]!.toFixed(2)} on ${cores} cores${when === 'after' ? ` (${ownThreads} of it the experiment's busy guests)` : ''}; its numbers may be noisy`;
}

/** Run the experiment (or one shard of it); guests are destroyed whatever happens. */
export async function runExperiment(hv: HostApi | null, experiment: Experiment, options: RunOptions): Promise<ResultSet> {
  const shard = options.shard ?? { index: 1, count: 1 };
  const planned = planRuns(experiment, shard);
  const simulate = options.simulate === true || hv === null;
  const started = Date.now();
  const loadBefore = options.host.loadavg();
  const warnings: string[] = [];
  const windows: Row[] = [];
  const runs: Row[] = [];
  const setups = planned.map((run) => pointSetup(applyPoint(experiment.file, run.params), options.ctx, throwing));
  const usedImages = new Set(setups.flatMap((s) => s.guests.map((g) => g.image)));
  if (!simulate) {
    const busy = hv!.vms().filter((v) => v.state !== 'stopped' && v.state !== 'defined' && v.state !== 'crashed');
    if (busy.length > 0) {
      throw new HvError('illegal-state', `an experiment needs the host to itself: stop ${busy.map((v) => v.name).join(', ')} first (their guests would take CPU time from the measured ones)`, {});
    }
  }
  const perRunS = experiment.warmUpS + experiment.durationS + (simulate ? 0 : 4);
  const progress = (i: number, run: PlannedRun, phase: RunnerProgress['phase'], within: number): void => {
    options.onProgress?.({ run: i + 1, runs: planned.length, key: run.key, phase, fraction: Math.min(1, (i + within) / Math.max(1, planned.length)) });
  };
  const before = simulate ? null : hv!.settings;
  try {
    for (const [i, run] of planned.entries()) {
      options.signal?.throwIfAborted();
      const setup = setups[i]!;
      if (simulate) {
        progress(i, run, 'measuring', 0);
        const sim = simulateRun(setup, experiment.warmUpS, experiment.durationS, run.index + 1);
        const rows = runRows(experiment, run, sim.periods, sim.fromMs, sim.vms);
        windows.push(...rows.windows);
        runs.push(...rows.runs);
        options.onWindows?.(run, rows.windows);
      } else {
        const rows = await realRun(hv!, experiment, run, setup, options, (phase, within) => progress(i, run, phase, within / perRunS));
        windows.push(...rows.windows);
        runs.push(...rows.runs);
      }
      progress(i, run, 'done', 1);
    }
  } finally {
    if (before) await Promise.resolve(hv!.setHost({ pcpus: before.pcpus, memoryMiB: before.memoryMiB, overcommit: before.overcommit, periodMs: before.periodMs, sliceMs: before.sliceMs })).catch(() => undefined);
  }
  const loadAfter = options.host.loadavg();
  const ownThreads = simulate ? 0 : Math.max(...setups.map((s) => s.guests.filter((g) => g.workload.run !== 'idle' && g.workload.run !== 'memtouch').length), 0);
  for (const w of [loadWarning('before', loadBefore, options.host.cores, 0), loadWarning('after', loadAfter, options.host.cores, ownThreads)]) if (w) warnings.push(w);
  if (!loadBefore && !simulate) warnings.push('this platform gives no load average: whether the machine was busy is not known');
  return {
    meta: {
      title: experiment.title,
      experimentSha256: textSha256(options.text),
      mode: simulate ? 'simulate' : 'guests',
      version: options.version,
      images: options.images.filter((im) => usedImages.has(im.id)).map((im) => ({ id: im.id, kernel: im.kernel.sha256, initrd: im.initrd.sha256, bios: im.bios.sha256 })),
      host: { cpuModel: options.host.cpuModel, cores: options.host.cores, platform: options.host.platform, loadBefore, loadAfter },
      warnings,
      shard,
      runs: planned.map((r) => r.key),
      startedAt: new Date(started).toISOString(),
      elapsedS: Math.round((Date.now() - started) / 100) / 10,
    },
    windows,
    runs,
    summary: summarizeRuns(experiment, runs),
  };
}

const OUT = '/tmp/hv-exp.out';
const PID = '/tmp/hv-exp.pid';

/** What a guest runs while warming up, and when measuring starts (null: nothing new); `address`: a guest's IPv4 address on the run's network. */
function workloadCommands(g: ExperimentGuest, durationS: number, address: (name: string) => string): { start: string | null; measure: string | null } {
  const w = g.workload;
  switch (w.run) {
    case 'burn':
      return { start: 'hv-burn > /dev/null 2>&1 &', measure: null };
    case 'bench':
      // Busy while warming up; the benchmark covers the measured time only.
      return { start: 'hv-burn > /dev/null 2>&1 &', measure: `pkill hv-burn; ${benchCommand(durationS, w.round ?? 1000)} > ${OUT} 2>&1 &` };
    case 'idle':
      return { start: null, measure: null };
    case 'memtouch':
      return { start: memtouchCommand(w.mib, 'hv-experiment', OUT), measure: null };
    case 'command':
      return { start: `( ${w.command} ) > ${OUT} 2>&1 & echo $! > ${PID}`, measure: null };
    case 'net':
      // hv-tcp (64 KiB writes; busybox nc's few KiB per write measured nc), 2 GiB per connection;
      // tries again while the receiver is not listening yet, or has ended a connection.
      return { start: `(while :; do hv-tcp send ${address(w.to)} ${NET_PORT} 2047 || sleep 0.1; done) > /dev/null 2>&1 &`, measure: null };
  }
}

const NET_PORT = 5001;
/** A guest's static address on its experiment network (index in the run's guest list). */
const netAddress = (i: number): string => `10.77.${Math.floor(i / 250)}.${(i % 250) + 1}`;
/** The bytes eth0 has received, from /proc/net/dev. */
const RX_COMMAND = "awk '/eth0:/ { sub(/.*eth0:/, \"\"); print $1 }' /proc/net/dev";

/** A NIC limit in Mbit/s as the switch's token bucket (a burst of 20 ms at that rate, at least a few frames). */
function nicLimit(mbps: number | null | undefined): RateLimit | null {
  return mbps === null || mbps === undefined ? null : { rateKbps: mbps * 1000, burstKb: Math.max(64, mbps * 20) };
}

/** The score a workload printed (null when it has none or printed none). */
export function workloadScore(g: ExperimentGuest, output: string): number | null {
  const w = g.workload;
  if (w.run === 'bench') return parseBench(output).perS;
  if (w.run === 'command' && w.score !== undefined) {
    const matches = [...output.matchAll(new RegExp(w.score, 'g'))];
    const last = matches.at(-1)?.[1];
    return last !== undefined && Number.isFinite(Number(last)) ? Number(last) : null;
  }
  return null;
}

async function realRun(
  hv: HostApi,
  experiment: Experiment,
  run: PlannedRun,
  setup: ReturnType<typeof pointSetup>,
  options: RunOptions,
  progress: (phase: RunnerProgress['phase'], elapsedS: number) => void,
): Promise<{ windows: Row[]; runs: Row[] }> {
  const { host, guests: specs } = setup;
  const signal = options.signal;
  await hv.setHost({
    pcpus: host.pcpus,
    memoryMiB: host.memoryMiB,
    overcommit: host.overcommit,
    periodMs: host.periodMs ?? DEFAULT_CONFIG.periodMs,
    sliceMs: host.sliceMs ?? DEFAULT_CONFIG.sliceMs,
  });
  const guests = new ExperimentGuests(hv, signal);
  const networks: string[] = [];
  try {
    for (const n of experiment.file.networks ?? []) {
      await hv.createNetwork(n);
      networks.push(n.name);
    }
    progress('booting', 0);
    const refs = await guests.start(
      specs.map((g) => ({
        name: g.name,
        memoryMiB: g.memoryMiB,
        image: g.image,
        boot: 'clone' as const,
        ...cpuSettings(g),
        ...(g.network !== undefined ? { network: g.network, nicLimit: nicLimit(g.nicMbps) } : {}),
      })),
    );
    const byName = new Map(refs.map((r) => [r.name, r]));
    const each = async (f: (g: ExperimentGuest, ref: GuestRef) => Promise<unknown>): Promise<void> => {
      await Promise.all(specs.map((g) => f(g, byName.get(g.name)!)));
    };
    // Guests on a network: a static address each, every name in /etc/hosts, a listener on each receiver
    // (hv-tcp recv reads no stdin: a background job reading the console would be stopped, SIGTTIN;
    // one that fails, e.g. its port taken, waits before it tries again instead of spinning).
    const onNet = specs.map((g, i) => ({ g, ip: netAddress(i) })).filter((x) => x.g.network !== undefined);
    const hosts = onNet.map((x) => `${x.ip} ${x.g.name}`).join('\\n');
    const receivers = new Map(specs.flatMap((g) => (g.workload.run === 'net' ? [[g.workload.to, g.name] as const] : [])));
    await Promise.all(
      onNet.map(({ g, ip }) =>
        guests.run(
          byName.get(g.name)!,
          `ip addr add ${ip}/16 dev eth0 && ip link set eth0 up && printf '${hosts}\\n' >> /etc/hosts` +
            (receivers.has(g.name) ? ` && (while :; do hv-tcp recv ${NET_PORT} || sleep 0.1; done) > /dev/null 2>&1 &` : ''),
        ),
      ),
    );
    const addresses = new Map(onNet.map((x) => [x.g.name, x.ip]));
    const address = (name: string): string => addresses.get(name) ?? name;
    await each(async (g, ref) => {
      const c = workloadCommands(g, experiment.durationS, address).start;
      if (c) await guests.run(ref, c);
    });
    progress('warming up', 1);
    await sleep(experiment.warmUpS * 1000, signal);
    await each(async (g, ref) => {
      const c = workloadCommands(g, experiment.durationS, address).measure;
      if (c) await guests.run(ref, c);
    });
    const rxBytes = async (): Promise<Map<string, number>> =>
      new Map(await Promise.all([...receivers.keys()].map(async (to) => [to, Number((await guests.run(byName.get(to)!, RX_COMMAND)).output.trim())] as const)));
    const rxBefore = await rxBytes();
    const fromMs = hv.now();
    const vms: RunVm[] = refs.map((r) => ({ vmId: r.vmId, name: r.name }));
    const periodMs = hv.settings.periodMs;
    const endMs = fromMs + experiment.durationS * 1000 + 1.5 * periodMs;
    for (;;) {
      const left = endMs - hv.now();
      if (left <= 0) break;
      await sleep(Math.min(1000, left), signal);
      const elapsed = (hv.now() - fromMs) / 1000;
      progress('measuring', 1 + experiment.warmUpS + Math.min(elapsed, experiment.durationS));
      options.onWindows?.(run, runRows(experiment, run, hv.history.between(fromMs), fromMs, vms).windows);
    }
    const periods = hv.history.between(fromMs);
    progress('collecting', 1 + experiment.warmUpS + experiment.durationS);
    const scores = new Map<string, number | null>();
    // A sender's score: what its receiver took over the measured time (the reads bracket it), Mbit/s.
    const rxAfter = await rxBytes();
    const rxSpanS = (hv.now() - fromMs) / 1000;
    for (const [to, from] of receivers) scores.set(from, Math.round(((rxAfter.get(to)! - rxBefore.get(to)!) * 8) / rxSpanS / 1e4) / 100);
    await each(async (g, ref) => {
      const w = g.workload;
      if (w.run === 'bench') {
        const out = await pollExec(guests, ref, `cat ${OUT}`, (o) => /HV-BENCH /.test(o), 15_000, signal);
        scores.set(g.name, workloadScore(g, out));
      } else if (w.run === 'command' && w.score !== undefined) {
        const { output } = await abortable(hv.exec(ref.vmId, `kill $(cat ${PID}) 2>/dev/null; sleep 0.2; cat ${OUT}`, 30_000), signal);
        scores.set(g.name, workloadScore(g, output));
      }
    });
    for (const vm of vms) if (!hv.vms().some((v) => v.id === vm.vmId && v.state === 'running')) {
      throw new HvError('guest-crashed', `${run.key}: guest ${vm.name} is ${hv.vm(vm.vmId).state} after its run: its numbers would not be a measurement`, {});
    }
    return runRows(experiment, run, periods, fromMs, vms, scores);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new HvError((err as HvError).code ?? 'internal', `run ${run.key}: ${messageOf(err)}`, {});
  } finally {
    await guests.dispose();
    for (const n of networks) await Promise.resolve(hv.deleteNetwork(n)).catch(() => undefined);
  }
}
