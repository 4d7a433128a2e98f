// An experiment's results as files: windows.csv and runs.csv (tidy: one row
// per VM and window, one per VM and run), summary.json (the reproducibility
// record, and mean and 95 % CI per sweep point, VM and metric), one SVG per
// plotted metric (Vega-Lite, rendered by Vega without a DOM: the same code in
// Node and in the page, where its expression interpreter keeps it within the
// page's Content-Security-Policy), and the experiment file itself. Shards'
// results merge back into one set.
import Papa from 'papaparse';
import { HvError } from '../../core/errors.ts';
import type { Experiment } from '../../core/lab/experiment-parse.ts';
import { plotSpecs } from '../../core/experiment/plot-spec.ts';
import { runColumns, sortRows, summarizeRuns, windowColumns, type Row } from '../../core/experiment/results.ts';
import type { ResultMeta, ResultSet } from './runner.ts';

export interface OutputFile {
  name: string;
  mime: string;
  text: string;
}

/** Rows as CSV with these columns, in this order (missing cells empty). */
export function toCsv(rows: readonly Row[], columns: readonly string[]): string {
  return `${Papa.unparse({ fields: [...columns], data: rows.map((r) => columns.map((c) => r[c] ?? '')) }, { newline: '\n' })}\n`;
}

/** CSV text back to rows (numbers as numbers, empty cells null). */
export function fromCsv(text: string, file: string): Row[] {
  const parsed = Papa.parse<Record<string, string>>(text.trim(), { header: true, skipEmptyLines: true });
  if (parsed.errors.length > 0) {
    const e = parsed.errors[0]!;
    throw new HvError('invalid-argument', `${file}: row ${(e.row ?? 0) + 2}: ${e.message}`, {});
  }
  return parsed.data.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === '' ? null : Number.isNaN(Number(v)) ? v : Number(v)])));
}

/** Render a Vega-Lite specification to SVG text (no DOM needed). */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const [vl, vega, { expressionInterpreter }] = await Promise.all([import('vega-lite'), import('vega'), import('vega-interpreter')]);
  const compiled = vl.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled, undefined, { ast: true }), { renderer: 'none', expr: expressionInterpreter });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** summary.json's content. */
export function summaryJson(experiment: Experiment, result: ResultSet): string {
  return `${JSON.stringify(
    {
      ...result.meta,
      durationS: experiment.durationS,
      warmUpS: experiment.warmUpS,
      windowS: experiment.windowS,
      repeats: experiment.repeats,
      sweep: experiment.sweep,
      metrics: experiment.metrics,
      points: result.summary,
    },
    null,
    2,
  )}\n`;
}

/** Every output file of a result set (the SVGs rendered now). */
export async function resultFiles(experiment: Experiment, text: string, result: ResultSet): Promise<OutputFile[]> {
  const files: OutputFile[] = [
    { name: 'windows.csv', mime: 'text/csv', text: toCsv(result.windows, windowColumns(experiment)) },
    { name: 'runs.csv', mime: 'text/csv', text: toCsv(result.runs, runColumns(experiment)) },
    { name: 'summary.json', mime: 'application/json', text: summaryJson(experiment, result) },
    { name: 'experiment.yaml', mime: 'application/yaml', text },
  ];
  for (const plot of plotSpecs(experiment, result.summary)) {
    files.push({ name: plot.file, mime: 'image/svg+xml', text: await renderSvg(plot.spec) });
  }
  return files;
}

/** One part of a result to merge: its meta (summary.json) and rows (the CSVs). */
export interface ResultPart {
  from: string;
  meta: ResultMeta;
  windows: Row[];
  runs: Row[];
}

/** Shards' results as one set: same experiment (sha256) and mode, each run once, every shard there. */
export function mergeResults(experiment: Experiment, parts: readonly ResultPart[]): ResultSet {
  if (parts.length === 0) throw new HvError('invalid-argument', 'nothing to merge: give the output folders of the shards', {});
  const first = parts[0]!;
  for (const p of parts) {
    if (p.meta.experimentSha256 !== first.meta.experimentSha256) {
      throw new HvError('invalid-argument', `${p.from} ran another experiment file (sha256 ${p.meta.experimentSha256.slice(0, 12)}, ${first.from} ${first.meta.experimentSha256.slice(0, 12)})`, {});
    }
    if (p.meta.mode !== first.meta.mode) throw new HvError('invalid-argument', `${p.from} ran on ${p.meta.mode}, ${first.from} on ${first.meta.mode}: they do not mix`, {});
  }
  const seen = new Map<string, string>();
  for (const p of parts) {
    for (const key of p.meta.runs) {
      if (seen.has(key)) throw new HvError('invalid-argument', `run ${key} is in both ${seen.get(key)} and ${p.from}`, {});
      seen.set(key, p.from);
    }
  }
  const count = first.meta.shard.count;
  const have = new Set(parts.map((p) => p.meta.shard.index));
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !have.has(i));
  const warnings = [...new Set(parts.flatMap((p) => p.meta.warnings.map((w) => `shard ${p.meta.shard.index}/${p.meta.shard.count}: ${w}`)))];
  if (missing.length > 0) warnings.push(`shards ${missing.map((i) => `${i}/${count}`).join(', ')} are missing: their runs are not in these results`);
  const runs = sortRows(parts.flatMap((p) => p.runs));
  return {
    meta: {
      ...first.meta,
      warnings,
      shard: { index: 1, count: 1 },
      runs: [...seen.keys()].sort((a, b) => runOrder(a) - runOrder(b)),
      elapsedS: Math.max(...parts.map((p) => p.meta.elapsedS)),
      host: first.meta.host,
    },
    windows: sortRows(parts.flatMap((p) => p.windows)),
    runs,
    summary: summarizeRuns(experiment, runs),
  };
}

// "p2-r3" in run order.
function runOrder(key: string): number {
  const m = /^p(\d+)-r(\d+)$/.exec(key);
  return m ? Number(m[1]) * 1e6 + Number(m[2]) : 0;
}
