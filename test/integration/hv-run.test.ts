// The experiment runner's command line on real guests (issue: experiments as
// files): bin/hv-run.js runs as its own process, as a user runs it. An
// experiment of two guests, two sweep points and two repeats runs end to end;
// shards merge back into the unsharded run's rows; a malformed file is refused
// with its line and field; Ctrl+C leaves no worker thread.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { fromCsv } from '../../src/host/experiments/outputs.ts';
import { textSha256 } from '../../src/core/bytes.ts';
import type { Row } from '../../src/core/experiment/results.ts';

const BIN = new URL('../../bin/hv-run.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'hv-run-'));

const EXPERIMENT = `version: 1
title: two guests, two weights
host: { pcpus: 1, memoryMiB: 512 }
guests:
  - { name: a, memoryMiB: 80, weight: 1000, workload: { run: burn } }
  - { name: b, memoryMiB: 80, weight: 1000, workload: { run: bench } }
sweep:
  guests.b.weight: [1000, 3000]
warmUpS: 1
durationS: 3
windowS: 1
repeats: 2
`;
const file = join(dir, 'exp.yaml');
writeFileSync(file, EXPERIMENT);

interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run hv-run with args; resolves when it exits. `onStderr` sees its progress as it comes. */
function hvRun(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Done> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const csv = (out: string, name: string): Row[] => fromCsv(readFileSync(join(out, name), 'utf8'), name);
const keys = (rows: Row[]): string[] => rows.map((r) => `${r['run']}/${r['vm']}/${r['window'] ?? ''}`);

describe('hv-run', () => {
  const full = join(dir, 'full');

  it('runs two guests over two sweep points twice: tidy CSV, shares near the weights, a summary with its provenance, an SVG that parses', async () => {
    const done = await hvRun([file, '--out', full]);
    expect(done.code, done.stderr).toBe(0);
    console.log(done.stdout);
    const header = readFileSync(join(full, 'windows.csv'), 'utf8').split('\n')[0];
    expect(header).toBe('run,point,repeat,guests.b.weight,vm,window,start_s,share_pct,entitlement_pct,mips,ready_pct,host_busy_pct');
    const windows = csv(full, 'windows.csv');
    // 2 points x 2 repeats x 2 VMs x 3 one-second windows.
    expect(windows).toHaveLength(24);
    expect(new Set(keys(windows)).size).toBe(24);
    const runs = csv(full, 'runs.csv');
    expect(runs).toHaveLength(8);
    for (const run of new Set(runs.map((r) => r['run']))) {
      const [a, b] = ['a', 'b'].map((vm) => runs.find((r) => r['run'] === run && r['vm'] === vm)!);
      const ratio = Number(b!['share_pct']) / Number(a!['share_pct']);
      const weight = Number(b!['guests.b.weight']) / 1000;
      // Generous: the scheduler holds weights within ~1.3 points; the machine is shared.
      expect(ratio, `${String(run)}: b/a ${ratio.toFixed(2)} for weights ${weight}:1`).toBeGreaterThan(weight * 0.6);
      expect(ratio).toBeLessThan(weight * 1.6);
      expect(Number(b!['score'])).toBeGreaterThan(0); // hv-bench's iterations per second
      expect(Number(a!['host_busy_pct'])).toBeGreaterThan(80);
    }
    const summary = JSON.parse(readFileSync(join(full, 'summary.json'), 'utf8')) as {
      experimentSha256: string;
      mode: string;
      version: string;
      images: { kernel: string }[];
      host: { cores: number; loadBefore: number[]; loadAfter: number[] };
      points: { vms: { vm: string; metrics: Record<string, { n: number; mean: number; ci95: number | null }> }[] }[];
    };
    expect(summary.experimentSha256).toBe(textSha256(EXPERIMENT));
    expect(summary).toMatchObject({ mode: 'guests', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(summary.images[0]!.kernel).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.host.loadBefore).toHaveLength(3);
    expect(summary.points).toHaveLength(2);
    const share = summary.points[1]!.vms.find((v) => v.vm === 'b')!.metrics['share_pct']!;
    expect(share.n).toBe(2);
    expect(share.ci95).not.toBeNull();
    for (const svg of ['share_pct.svg', 'score.svg']) {
      const text = readFileSync(join(full, svg), 'utf8');
      expect(XMLValidator.validate(text), svg).toBe(true);
      expect(text).toMatch(/^<svg /);
    }
  });

  it('merges shards 1/2 and 2/2 (two processes) into the unsharded run\'s rows', async () => {
    const [one, two] = await Promise.all([hvRun([file, '--out', join(dir, 's1'), '--shard', '1/2']), hvRun([file, '--out', join(dir, 's2'), '--shard', '2/2'])]);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    expect(csv(join(dir, 's1'), 'runs.csv').map((r) => r['run'])).toEqual(['p1-r1', 'p1-r1', 'p2-r1', 'p2-r1']);
    const merged = await hvRun(['merge', join(dir, 's1'), join(dir, 's2'), '--out', join(dir, 'merged')]);
    expect(merged.code, merged.stderr).toBe(0);
    expect(keys(csv(join(dir, 'merged'), 'windows.csv'))).toEqual(keys(csv(full, 'windows.csv')));
    expect(keys(csv(join(dir, 'merged'), 'runs.csv'))).toEqual(keys(csv(full, 'runs.csv')));
    // A shard merged twice is refused.
    const twice = await hvRun(['merge', join(dir, 's1'), join(dir, 's1'), '--out', join(dir, 'bad')]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/run p1-r1 is in both/);
  });

  it('ships a Kubernetes Indexed Job whose pods run one shard each of as many as it has completions', () => {
    const job = parseAllDocuments(readFileSync(new URL('../../examples/batch/job.yaml', import.meta.url), 'utf8'))[0]!.toJS() as {
      spec: { completionMode: string; completions: number; template: { spec: { containers: { args: string[] }[] } } };
    };
    expect(job.spec.completionMode).toBe('Indexed');
    const args = job.spec.template.spec.containers[0]!.args.join(' ');
    expect(args).toContain(`--shard $((JOB_COMPLETION_INDEX + 1))/${job.spec.completions}`);
    expect(args).toMatch(/bin\/hv-run\.js experiments\/\S+\.yaml/);
  });

  it('on the simulator, shards 1/3, 2/3 and 3/3 (three processes) merge into exactly the unsharded rows', async () => {
    const sim = (extra: string[], out: string) => hvRun([file, '--simulate', '--quiet', '--out', join(dir, out), ...extra]);
    const [whole, ...shards] = await Promise.all([sim([], 'sim'), sim(['--shard', '1/3'], 'sim1'), sim(['--shard', '2/3'], 'sim2'), sim(['--shard', '3/3'], 'sim3')]);
    for (const d of [whole!, ...shards]) expect(d.code, d.stderr).toBe(0);
    const merged = await hvRun(['merge', join(dir, 'sim1'), join(dir, 'sim2'), join(dir, 'sim3'), '--out', join(dir, 'simmerged')]);
    expect(merged.code, merged.stderr).toBe(0);
    for (const name of ['windows.csv', 'runs.csv']) {
      expect(readFileSync(join(dir, 'simmerged', name), 'utf8')).toBe(readFileSync(join(dir, 'sim', name), 'utf8'));
    }
    // The ideal: b's share is its weight's part of the pCPU.
    const b = csv(join(dir, 'sim'), 'runs.csv').filter((r) => r['vm'] === 'b');
    expect(b.map((r) => r['share_pct'])).toEqual([50, 50, 75, 75]);
  });

  it('runs a net workload on a network: the sender\'s score is what its peer received, and the NIC limit holds it down', async () => {
    const net = join(dir, 'net.yaml');
    writeFileSync(
      net,
      `version: 1
title: net
host: { pcpus: 2, memoryMiB: 512 }
networks: [{ name: lan }]
guests:
  - { name: src, memoryMiB: 80, network: lan, workload: { run: net, to: dst } }
  - { name: dst, memoryMiB: 80, network: lan }
sweep:
  guests.src.nicMbps: [null, 3]
warmUpS: 2
durationS: 4
metrics: [share, score]
`,
    );
    const done = await hvRun([net, '--out', join(dir, 'net'), '--quiet']);
    expect(done.code, done.stderr).toBe(0);
    const runs = csv(join(dir, 'net'), 'runs.csv');
    const score = (p: number): number => Number(runs.find((r) => r['point'] === p && r['vm'] === 'src')!['score']);
    console.log(`net: unlimited ${score(1)} Mbit/s, limited to 3: ${score(2)} Mbit/s`);
    expect(score(1)).toBeGreaterThan(3);
    expect(score(2)).toBeGreaterThan(0.3);
    expect(score(2)).toBeLessThan(3.3); // TCP under a policer stays below its rate
    expect(runs.find((r) => r['point'] === 1 && r['vm'] === 'dst')!['score']).toBeNull();
  });

  it('refuses a malformed file with its line and field, and runs nothing', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, EXPERIMENT.replace('durationS: 3', 'durationS: three'));
    const done = await hvRun([bad, '--out', join(dir, 'never')]);
    expect(done.code).toBe(1);
    expect(done.stderr).toContain(`${bad}:10:12: durationS: expected number, got "three"`);
    expect(existsSync(join(dir, 'never'))).toBe(false);
    const usage = await hvRun([file]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--out DIR is required/);
    const help = await hvRun(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--shard I\/N/);
  });

  it('stops on Ctrl+C: every guest destroyed, no worker thread left, status 130', async () => {
    const long = join(dir, 'long.yaml');
    writeFileSync(long, EXPERIMENT.replace('durationS: 3', 'durationS: 120'));
    let sent = false;
    const done = await hvRun([long, '--out', join(dir, 'stopped')], (text, child) => {
      if (!sent && /measuring/.test(text)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(done.code, done.stderr).toBe(130);
    expect(done.stderr).toMatch(/stopped: guests destroyed, 0 worker threads left/);
    expect(existsSync(join(dir, 'stopped'))).toBe(false);
  });
});
