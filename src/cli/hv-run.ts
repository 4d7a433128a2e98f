// hv-run: run experiment files headless on real guests in Node worker threads
// (or on the scheduler simulator), one shard of a sweep or all of it; merge
// shards; check files; print the JSON Schema. See HELP below and the README's
// "Experiments" section.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, platform } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { formatProblem } from '../core/lab/locate.ts';
import { parseExperiment, type Experiment } from '../core/lab/experiment-parse.ts';
import { experimentJsonSchemaText } from '../core/lab/json-schema.ts';
import { parseShard } from '../core/experiment/plan.ts';
import { planRuns } from '../core/experiment/plan.ts';
import { labContext } from '../host/lab/lab-session.ts';
import { nodeImages } from '../host/node-images.ts';
import { liveGuestThreads } from '../host/node-workers.ts';
import { fromCsv, mergeResults, resultFiles, type ResultPart } from '../host/experiments/outputs.ts';
import { runExperiment, type ResultMeta, type ResultSet, type RunnerProgress } from '../host/experiments/runner.ts';

const HELP = `hv-run: run a hypervisor playground experiment file headless

usage:
  hv-run EXPERIMENT.yaml --out DIR [--shard I/N] [--simulate] [--quiet]
  hv-run merge DIR... --out DIR
  hv-run check EXPERIMENT.yaml...
  hv-run schema
  hv-run --help

run         boots the experiment's guests (clones of a booted template) in
            Node worker threads, once per sweep point and repeat, and writes
            to DIR:
              windows.csv   one row per VM and measured window
              runs.csv      one row per VM and run (the whole measured time)
              summary.json  mean and 95 % confidence interval per sweep point,
                            VM and metric; the experiment file's sha256, the
                            images' sha256, the project version, the host
                            (CPU model, cores, load average before and after)
                            and warnings (a busy machine)
              METRIC.svg    one plot per plotted metric (Vega-Lite)
              experiment.yaml  the file that ran
  --shard I/N   run only the runs with index mod N = I-1 (1 <= I <= N)
  --simulate    run on the scheduler simulator instead of guests: the
                scheduler's ideal, in the same files
  --quiet       no progress bar
merge       merges the DIRs of shards of one experiment into --out DIR
check       validates experiment files (problems with line, column, field)
schema      prints the experiment files' JSON Schema

Ctrl+C stops the run: every guest is destroyed and every worker thread
ended before hv-run exits (status 130).

exit status: 0 done, 1 a bad file or a failed run, 2 bad arguments, 130 stopped`;

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

class UsageError extends Error {}

function readExperiment(file: string): { text: string; experiment: Experiment } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read it: ${(err as Error).message}`);
  }
  const parsed = parseExperiment(text, labContext(nodeImages()));
  if (!parsed.ok) {
    for (const p of parsed.problems) console.error(formatProblem(file, p));
    throw new BadFile(`${file}: ${parsed.problems.length} problem(s); nothing ran`);
  }
  return { text, experiment: parsed.experiment };
}

class BadFile extends Error {}

async function write(dir: string, experiment: Experiment, text: string, result: ResultSet): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files = await resultFiles(experiment, text, result);
  for (const f of files) writeFileSync(join(dir, f.name), f.text);
  return files.map((f) => join(dir, f.name));
}

function report(result: ResultSet, files: string[]): void {
  const f = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(1));
  for (const p of result.summary) {
    const params = Object.entries(p.params).map(([k, v]) => `${k}=${v ?? 'none'}`).join(', ') || 'one point';
    console.log(`point ${p.point} (${params}):`);
    for (const vm of p.vms) {
      const cols = Object.entries(vm.metrics)
        .filter(([, m]) => m.n > 0)
        .map(([c, m]) => `${c} ${f(m.mean)}${m.ci95 !== null ? ` ±${f(m.ci95)}` : ''}`);
      console.log(`  ${vm.vm}: ${cols.join(', ')}`);
    }
  }
  for (const w of result.meta.warnings) console.log(`warning: ${w}`);
  console.log(`wrote ${files.join(', ')}`);
}

function progressReporter(quiet: boolean): { update: (p: RunnerProgress) => void; stop: () => void } {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: 'run {run}/{runs} {key} {phase} [{bar}] {percentage}% | ETA {eta_formatted}', etaBuffer: 50, hideCursor: true, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    bar.start(1000, 0, { run: 0, runs: 0, key: '', phase: 'starting' });
    return { update: (p) => bar.update(Math.round(p.fraction * 1000), { ...p }), stop: () => bar.stop() };
  }
  // Not a terminal (CI, a batch job's log): a line per phase.
  const t0 = Date.now();
  let last = '';
  return {
    update: (p) => {
      const line = `run ${p.run}/${p.runs} ${p.key} ${p.phase}`;
      if (line === last) return;
      last = line;
      const elapsed = (Date.now() - t0) / 1000;
      const eta = p.fraction > 0.02 ? ` (ETA ${Math.round((elapsed / p.fraction) * (1 - p.fraction))} s)` : '';
      console.error(`${line} ${Math.round(p.fraction * 100)}%${eta}`);
    },
    stop: () => undefined,
  };
}

async function run(file: string, out: string, shardText: string | undefined, simulate: boolean, quiet: boolean): Promise<number> {
  const shard = shardText ? parseShard(shardText) : undefined;
  const { text, experiment } = readExperiment(file);
  const runs = planRuns(experiment, shard);
  console.log(`${experiment.title}: ${runs.length} run(s)${shard ? ` (shard ${shard.index}/${shard.count})` : ''} of ${experiment.warmUpS} s warm-up + ${experiment.durationS} s${simulate ? ', simulated' : ''}`);
  const controller = new AbortController();
  const { nodeHypervisor } = await import('../host/node-hypervisor.ts');
  const hv = simulate ? null : nodeHypervisor({ pcpus: 1, memoryMiB: 1024 }, 1);
  let stops = 0;
  const onSigint = (): void => {
    stops++;
    if (stops > 1) process.exit(130);
    console.error('\nstopping: destroying the guests (Ctrl+C again to quit at once)');
    controller.abort(new Error('stopped by Ctrl+C'));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const progress = progressReporter(quiet);
  try {
    const result = await runExperiment(hv, experiment, {
      text,
      ctx: labContext(nodeImages()),
      images: nodeImages(),
      host: { cpuModel: cpus()[0]?.model ?? null, cores: availableParallelism(), platform: `${platform()} node ${process.versions.node}`, loadavg: () => loadavg() },
      version,
      ...(shard ? { shard } : {}),
      simulate,
      signal: controller.signal,
      onProgress: (p) => progress.update(p),
    });
    progress.stop();
    report(result, await write(out, experiment, text, result));
    return 0;
  } catch (err) {
    progress.stop();
    if (controller.signal.aborted) return 130;
    throw err;
  } finally {
    await hv?.dispose();
    if (controller.signal.aborted) console.error(`stopped: guests destroyed, ${liveGuestThreads()} worker threads left`);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

async function merge(dirs: string[], out: string): Promise<number> {
  if (dirs.length === 0) throw new UsageError('merge needs the output folders of the shards');
  const parts: ResultPart[] = [];
  let experiment: { text: string; experiment: Experiment } | null = null;
  for (const dir of dirs) {
    const read = (name: string): string => {
      try {
        return readFileSync(join(dir, name), 'utf8');
      } catch {
        throw new BadFile(`${dir}: no ${name}: is it an hv-run output folder?`);
      }
    };
    let meta: ResultMeta;
    try {
      meta = JSON.parse(read('summary.json')) as ResultMeta;
    } catch (err) {
      if (err instanceof BadFile) throw err;
      throw new BadFile(`${dir}/summary.json: not JSON: ${(err as Error).message}`);
    }
    experiment ??= readExperiment(join(dir, 'experiment.yaml'));
    parts.push({ from: dir, meta, windows: fromCsv(read('windows.csv'), `${dir}/windows.csv`), runs: fromCsv(read('runs.csv'), `${dir}/runs.csv`) });
  }
  const result = mergeResults(experiment!.experiment, parts);
  report(result, await write(out, experiment!.experiment, experiment!.text, result));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  const parse = (a: string[]) =>
    parseArgs({ args: a, allowPositionals: true, options: { out: { type: 'string', short: 'o' }, shard: { type: 'string' }, simulate: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' } } });
  try {
    args = parse(argv);
  } catch (err) {
    console.error(`hv-run: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help || positionals.length === 0) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  try {
    const [verb, ...rest] = positionals as [string, ...string[]];
    if (verb === 'schema') {
      process.stdout.write(experimentJsonSchemaText());
      return 0;
    }
    if (verb === 'check') {
      if (rest.length === 0) throw new UsageError('check needs experiment files');
      let bad = 0;
      for (const file of rest) {
        try {
          const { experiment } = readExperiment(file);
          console.log(`${file}: ok (${planRuns(experiment).length} runs)`);
        } catch (err) {
          if (!(err instanceof BadFile)) throw err;
          bad++;
        }
      }
      return bad ? 1 : 0;
    }
    if (!values.out) throw new UsageError('--out DIR is required: where the results go');
    if (verb === 'merge') return await merge(rest, values.out);
    if (rest.length > 0) throw new UsageError(`one experiment file at a time (got ${positionals.join(', ')})`);
    return await run(verb, values.out, values.shard, values.simulate === true, values.quiet === true);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`hv-run: ${err.message} (hv-run --help)`);
      return 2;
    }
    console.error(`hv-run: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
