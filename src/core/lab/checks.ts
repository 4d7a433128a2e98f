// Judging a lab step's checks. Pure: the host gathers the facts (the VMs, the
// pool, the period records, what happened, a command's result, a memory
// search) and these functions say pass or fail, with the value found beside
// what was expected, in words a student reads.
import type { WindowSummary } from '../metrics.ts';
import type { VmState } from '../lifecycle.ts';
import type { LabCheck } from './schema.ts';

/** The verdict on one check. */
export interface CheckResult {
  label: string;
  passed: boolean;
  expected: string;
  found: string;
}

/** Something that happened to a lab's guest, as the host saw it. */
export type LabEvent =
  | { at: number; vm: string; kind: 'state'; state: VmState; previous: VmState | null }
  | { at: number; vm: string; kind: 'refusal'; message: string };

/** What the host knows when a check runs (times in the host's ms). */
export interface LabFacts {
  now: number;
  /** When the current step began and when the lab was loaded. */
  stepStartedAt: number;
  labStartedAt: number;
  vm(name: string): { state: VmState; memoryMiB: number; weight: number; capPct: number | null; reservationPct: number | null; iops: number | null } | null;
  host: { pcpus: number; memoryMiB: number; reservedMiB: number; freeMiB: number; overcommit: boolean };
  /** A guest's totals over the last windowMs (records of earlier boots included). */
  window(name: string, windowMs: number): WindowSummary | null;
  events: readonly LabEvent[];
}

type CommandCheck = Extract<LabCheck, { type: 'command' }>;
type MemoryCheck = Extract<LabCheck, { type: 'memory' }>;
type CaptureCheck = Extract<LabCheck, { type: 'capture' }>;
type SnapshotCheck = Extract<LabCheck, { type: 'snapshot' }>;
type VolumeCheck = Extract<LabCheck, { type: 'volume' }>;
type BalloonCheck = Extract<LabCheck, { type: 'balloon' }>;
type MigrationCheck = Extract<LabCheck, { type: 'migration' }>;
type FactCheck = Exclude<LabCheck, CommandCheck | MemoryCheck | CaptureCheck | SnapshotCheck | VolumeCheck | BalloonCheck | MigrationCheck>;

/** Default time a check command may run, ms. */
export const CHECK_TIMEOUT_MS = 5000;
/** A metric check passes only over at least this fraction of its window (a fresh guest has no history). */
const WINDOW_COVERAGE = 0.8;

const METRIC_UNIT = { share: '% of a pCPU', mips: 'MIPS', ready: '% ready', idle: '% idle' } as const;

/** The verdict on a command check, from what the guest's agent answered (or why it could not). */
export function judgeCommand(check: CommandCheck, result: { output: string; status: number } | { error: string }): CheckResult {
  const wantStatus = check.exitStatus ?? (check.output === undefined ? 0 : undefined);
  const parts = [wantStatus !== undefined ? `exit status ${wantStatus}` : '', check.output !== undefined ? `output matching /${check.output}/` : ''];
  const expected = parts.filter(Boolean).join(' and ');
  const label = check.label ?? `${check.guest}: ${check.command}`;
  if ('error' in result) return { label, passed: false, expected, found: result.error };
  const statusOk = wantStatus === undefined || result.status === wantStatus;
  const outputOk = check.output === undefined || new RegExp(check.output, 'm').test(result.output);
  const shown = result.output.trim();
  const output = shown === '' ? 'no output' : `output "${shown.length > 160 ? `${shown.slice(0, 157)}...` : shown}"`;
  return { label, passed: statusOk && outputOk, expected, found: `exit status ${result.status}, ${output}` };
}

/** The verdict on a memory check, from the hypervisor's search of the guest's RAM. */
export function judgeMemory(check: MemoryCheck, found: { hits: number } | { error: string }): CheckResult {
  const label = check.label ?? `${check.guest}'s RAM ${check.expect ? 'holds' : 'does not hold'} "${check.contains}"`;
  const expected = check.expect ? 'found at least once' : 'not found';
  if ('error' in found) return { label, passed: false, expected, found: found.error };
  return { label, passed: found.hits > 0 === check.expect, expected, found: found.hits > 0 ? `found ${found.hits} time(s)` : 'not found' };
}

/**
 * The verdict on a capture check, from the network's captured frames (each
 * with the guest whose port it entered by, and its one-line summary).
 */
export function judgeCapture(check: CaptureCheck, frames: readonly { port: string; summary: string }[] | { error: string }): CheckResult {
  const from = check.guest ? ` from ${check.guest}` : '';
  const label = check.label ?? `network ${check.network}: ${check.expect ? 'a' : 'no'} frame${from} matching /${check.contains}/`;
  const expected = check.expect ? 'at least one such frame' : 'no such frame';
  if ('error' in frames) return { label, passed: false, expected, found: frames.error };
  const re = new RegExp(check.contains);
  const hits = frames.filter((f) => (check.guest === undefined || f.port === check.guest) && re.test(f.summary));
  const found = hits.length ? `${hits.length} frame(s), e.g. ${hits[0]!.port}: ${hits[0]!.summary}` : `none among ${frames.length} captured frame(s)`;
  return { label, passed: hits.length > 0 === check.expect, expected, found };
}

/** The verdict on a snapshot check, from the names of the guest's snapshots. */
export function judgeSnapshot(check: SnapshotCheck, names: readonly string[] | { error: string }): CheckResult {
  const label = check.label ?? `${check.guest} ${check.expect ? 'has' : 'has no'} snapshot named ${check.name}`;
  const expected = check.expect ? `a snapshot named ${check.name}` : `no snapshot named ${check.name}`;
  if ('error' in names) return { label, passed: false, expected, found: names.error };
  const found = names.length ? `snapshots: ${names.join(', ')}` : 'no snapshot';
  return { label, passed: names.includes(check.name) === check.expect, expected, found };
}

/** The verdict on a migration check: which host the guest runs on now, and its last move's downtime (ms). */
export function judgeMigration(check: MigrationCheck, found: { on: string | null; state: string | null; downtimeMs: number | null }): CheckResult {
  const label = check.label ?? `${check.guest} runs on ${check.on}${hasCompare(check) ? ', moved with a downtime' : ''}`;
  const expected = `running on ${check.on}${hasCompare(check) ? `, the last move's downtime ${describeCompare(check)} ms` : ''}`;
  if (found.on === null) return { label, passed: false, expected, found: `there is no guest ${check.guest}` };
  const where = `${found.state} on ${found.on}${found.downtimeMs === null ? ', never moved' : `, last moved with ${Math.round(found.downtimeMs)} ms of downtime`}`;
  if (found.on !== check.on || found.state !== 'running') return { label, passed: false, expected, found: where };
  if (!hasCompare(check)) return { label, passed: true, expected, found: where };
  if (found.downtimeMs === null) return { label, passed: false, expected, found: where };
  return { label, passed: compare(Math.round(found.downtimeMs), check).passed, expected, found: where };
}

/** The verdict on a balloon check, from the guest's memory as the hypervisor read it (MiB). */
export function judgeBalloon(check: BalloonCheck, found: { keptMiB: number; guestTotalMiB: number | null } | { error: string }): CheckResult {
  const what = check.value ?? 'keptMiB';
  const label = check.label ?? `${check.guest}: ${what === 'keptMiB' ? 'the RAM its balloon leaves it' : 'MemTotal its kernel reports'}`;
  const expected = describeCompare(check);
  if ('error' in found) return { label, passed: false, expected, found: found.error };
  const value = found[what];
  if (value === null) return { label, passed: false, expected, found: 'its balloon driver has not reported yet' };
  return { label, ...compare(Math.round(value * 10) / 10, check), found: `${value.toFixed(1)} MiB` };
}

/**
 * The verdict on a volume check, from the guest it is attached to now and,
 * when the check looks for text, whether the whole disk holds it.
 */
export function judgeVolume(check: VolumeCheck, found: { attachedTo: string | null; holds: boolean | null } | { error: string }): CheckResult {
  const parts: string[] = [];
  if (check.attachedTo !== undefined) parts.push(check.attachedTo === null ? 'attached to no guest' : `attached to ${check.attachedTo}`);
  if (check.contains !== undefined) parts.push(check.expect ? `holding "${check.contains}"` : `not holding "${check.contains}"`);
  const expected = parts.join(', ');
  const label = check.label ?? `volume ${check.volume} ${expected}`;
  if ('error' in found) return { label, passed: false, expected, found: found.error };
  const attachedOk = check.attachedTo === undefined || check.attachedTo === found.attachedTo;
  const holdsOk = check.contains === undefined || found.holds === (check.expect ?? true);
  const where = found.attachedTo === null ? 'attached to no guest' : `attached to ${found.attachedTo}`;
  const holds = check.contains === undefined ? '' : found.holds ? `, holds "${check.contains}"` : `, does not hold "${check.contains}"`;
  return { label, passed: attachedOk && holdsOk, expected, found: `${where}${holds}` };
}

/** The verdict on a check the host's facts answer (metric, setting, host, lifecycle). */
export function judgeFact(check: FactCheck, facts: LabFacts): CheckResult {
  switch (check.type) {
    case 'metric':
      return judgeMetric(check, facts);
    case 'setting': {
      const label = check.label ?? `${check.guest}'s ${check.setting}`;
      const vm = facts.vm(check.guest);
      const setWord = check.isSet ? 'set' : 'not set';
      if (!vm) return { label, passed: false, expected: hasCompare(check) ? describeCompare(check) : setWord, found: `there is no guest ${check.guest}` };
      const value = vm[check.setting];
      const found = value === null ? 'not set' : String(value);
      if (check.isSet !== undefined && (value !== null) !== check.isSet) return { label, passed: false, expected: setWord, found };
      if (!hasCompare(check)) return { label, passed: true, expected: setWord, found };
      if (value === null) return { label, passed: false, expected: describeCompare(check), found };
      return { label, ...compare(value, check), found };
    }
    case 'host': {
      const label = check.label ?? `host ${check.value}`;
      const h = facts.host;
      const value = check.value === 'overcommitted' ? h.reservedMiB > h.memoryMiB : h[check.value];
      const r = compare(value, check);
      return { label, passed: r.passed, expected: r.expected, found: String(value) + (typeof value === 'number' && /MiB$/.test(check.value) ? ' MiB' : '') };
    }
    case 'lifecycle':
      return judgeLifecycle(check, facts);
  }
}

function judgeMetric(check: Extract<LabCheck, { type: 'metric' }>, facts: LabFacts): CheckResult {
  const windowS = check.windowS ?? 10;
  const unit = METRIC_UNIT[check.metric];
  const label = check.label ?? `${check.guest}'s ${check.metric} over the last ${windowS} s`;
  const expected = check.target !== undefined ? `${check.target} ± ${check.tolerance ?? 0} ${unit}` : describeCompare(check, ` ${unit}`);
  const w = facts.window(check.guest, windowS * 1000);
  if (!w || w.periods === 0) return { label, passed: false, expected, found: 'no measurements yet' };
  const value = { share: w.sharePct, mips: w.mips, ready: w.readyPct, idle: w.idlePct }[check.metric];
  const covered = w.spanMs >= WINDOW_COVERAGE * windowS * 1000;
  const r = check.target !== undefined ? { passed: Math.abs(value - check.target) <= (check.tolerance ?? 0) } : compare(value, check);
  const span = covered ? '' : ` (only ${(w.spanMs / 1000).toFixed(1)} s of ${windowS} s measured so far)`;
  return { label, passed: r.passed && covered, expected, found: `${value.toFixed(1)} ${unit}${span}` };
}

/** Which state changes count as each kind of happening. */
const HAPPENED: Record<string, (e: Extract<LabEvent, { kind: 'state' }>) => boolean> = {
  started: (e) => e.state === 'running',
  crashed: (e) => e.state === 'crashed',
  restarted: (e) => e.state === 'booting' && (e.previous === 'running' || e.previous === 'paused' || e.previous === 'crashed'),
  paused: (e) => e.state === 'paused',
  resumed: (e) => e.state === 'running' && e.previous === 'paused',
  stopped: (e) => e.state === 'stopped',
};

function judgeLifecycle(check: Extract<LabCheck, { type: 'lifecycle' }>, facts: LabFacts): CheckResult {
  const vm = facts.vm(check.guest);
  const now = vm ? vm.state : 'not defined';
  if (check.is !== undefined) {
    return { label: check.label ?? `${check.guest} is ${check.is}`, passed: now === check.is, expected: check.is, found: now };
  }
  const what = check.happened!;
  const since = check.since === 'lab' ? facts.labStartedAt : facts.stepStartedAt;
  const mine = facts.events.filter((e) => e.vm === check.guest && e.at >= since);
  const hits = mine.filter((e) => (e.kind === 'refusal' ? what === 'refused' : what !== 'refused' && HAPPENED[what]!(e)));
  const last = hits.at(-1);
  const found = last ? (last.kind === 'refusal' ? `refused: ${last.message}` : `${what} (${hits.length} time(s)); now ${now}`) : `not yet; now ${now}`;
  const when = check.since === 'lab' ? 'since the lab began' : 'during this step';
  return { label: check.label ?? `${check.guest} ${what} ${when}`, passed: hits.length > 0, expected: `${what} ${when}`, found };
}

interface Compare {
  equals?: number | boolean | undefined;
  min?: number | undefined;
  max?: number | undefined;
}

function hasCompare(c: Compare): boolean {
  return c.equals !== undefined || c.min !== undefined || c.max !== undefined;
}

/** "= 2000", "≥ 20", "between 20 and 30". */
export function describeCompare(c: Compare, unit = ''): string {
  if (c.equals !== undefined) return `${String(c.equals)}${typeof c.equals === 'number' ? unit : ''}`;
  if (c.min !== undefined && c.max !== undefined) return `between ${c.min} and ${c.max}${unit}`;
  if (c.min !== undefined) return `at least ${c.min}${unit}`;
  if (c.max !== undefined) return `at most ${c.max}${unit}`;
  return 'any';
}

function compare(value: number | boolean, c: Compare): { passed: boolean; expected: string } {
  const expected = describeCompare(c);
  if (c.equals !== undefined) return { passed: value === c.equals, expected };
  if (typeof value !== 'number') return { passed: false, expected };
  return { passed: (c.min === undefined || value >= c.min) && (c.max === undefined || value <= c.max), expected };
}
