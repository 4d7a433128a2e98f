// The experiment file's schema (one valibot source for the validator and the
// published experiments/experiment.schema.json). It shares the host and the
// guest pieces with the lab format (schema.ts): an experiment's host and
// guests are written as a lab's are.
import * as v from 'valibot';
import { GUEST_CPU_FIELDS, GUEST_NAMING, HOST, NETWORK, int, name, text } from './schema.ts';

/** The experiment format's version; a file says which one it is written for. */
export const EXPERIMENT_FORMAT_VERSION = 1;

/** What a guest runs from its boot to the end of the run (the guest tools, or any command). */
const WORKLOAD = v.variant('run', [
  /** hv-burn: one CPU kept busy. */
  v.strictObject({ run: v.literal('burn') }),
  /** hv-burn while warming up, then hv-bench over the measured time: its score is loop iterations per second. */
  v.strictObject({ run: v.literal('bench'), round: v.optional(int(10, 1_000_000)) }),
  /** Nothing: the guest idles. */
  v.strictObject({ run: v.literal('idle') }),
  /** hv-memtouch: MiB of the guest's memory filled and held, then idle. */
  v.strictObject({ run: v.literal('memtouch'), mib: int(1, 4096) }),
  /** TCP to another guest on the same network as fast as it takes it: the score is the Mbit/s that guest received. */
  v.strictObject({ run: v.literal('net'), to: name }),
  /** Any shell command, started in the background at the start and stopped at the end. */
  v.strictObject({
    run: v.literal('command'),
    command: text('the command'),
    /** A regular expression with one group: the number it captures (its last match in the output) is the score. */
    score: v.optional(v.string()),
    /** true: it keeps a CPU busy (the simulator models it so); default true. */
    busy: v.optional(v.boolean()),
  }),
]);

const GUEST = v.strictObject({
  ...GUEST_NAMING,
  ...GUEST_CPU_FIELDS,
  /** The experiment network its NIC is attached to (none: connected to nothing). */
  network: v.optional(name),
  /** Its NIC's limit at the switch, Mbit/s (null: none). */
  nicMbps: v.optional(v.nullable(v.pipe(v.number(), v.minValue(0.1), v.maxValue(10_000)))),
  workload: v.optional(WORKLOAD),
});

/** The metrics an experiment can record. Per VM: share (% of one pCPU), MIPS, ready %, the workload's score; per host: busy %. */
export const METRICS = ['share', 'mips', 'ready', 'score', 'busy'] as const;
export type MetricName = (typeof METRICS)[number];

/** A swept parameter: host.pcpus, host.sliceMs, host.periodMs, or guests.NAME.FIELD (NAME: a guest's name or prefix). */
export const SWEEP_KEY_RE = /^(host\.(pcpus|sliceMs|periodMs)|guests\.[a-z0-9][a-z0-9-]*\.(weight|capPct|reservationPct|memoryMiB|count|nicMbps))$/;

const seconds = (min: number, max: number) => v.pipe(v.number(), v.minValue(min), v.maxValue(max));

export const EXPERIMENT_SCHEMA = v.strictObject({
  version: v.literal(EXPERIMENT_FORMAT_VERSION),
  title: text('the title'),
  description: v.optional(v.string()),
  host: v.optional(HOST),
  /** Networks (each a VLAN of its own on the host's switch), made for every run and deleted after it. */
  networks: v.optional(v.array(NETWORK)),
  guests: v.pipe(v.array(GUEST), v.minLength(1, 'an experiment needs at least one guest')),
  /** Parameters to sweep, each with its values: every combination is a sweep point. */
  sweep: v.optional(v.record(v.string(), v.pipe(v.array(v.nullable(v.number())), v.minLength(1, 'a swept parameter needs at least one value')))),
  /** Seconds the workloads run before measuring (v86 compiles hot code as it runs). */
  warmUpS: v.optional(seconds(0, 600)),
  /** Seconds measured. */
  durationS: seconds(1, 3600),
  /** Length of one measured window, seconds (default 1): the CSV has a row per VM and window. */
  windowS: v.optional(seconds(0.1, 600)),
  /** Runs of every sweep point (default 1): the summary gives a mean and a 95 % confidence interval over them. */
  repeats: v.optional(int(1, 100)),
  /** What is recorded (default all). */
  metrics: v.optional(v.pipe(v.array(v.picklist(METRICS)), v.minLength(1, 'list at least one metric'))),
  /** The plot: x a swept parameter (default the first), y metrics (default every per-VM metric recorded). */
  plot: v.optional(v.strictObject({ x: v.optional(v.string()), y: v.optional(v.array(v.picklist(METRICS))) })),
});

export type ExperimentFile = v.InferOutput<typeof EXPERIMENT_SCHEMA>;
export type WorkloadSpec = v.InferOutput<typeof WORKLOAD>;
