import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { experimentJsonSchemaText } from './json-schema.ts';
import { formatProblem } from './locate.ts';
import { parseExperiment, sweepPoints, type ExperimentParse } from './experiment-parse.ts';
import type { LabContext } from './parse.ts';

const CTX: LabContext = {
  images: [{ id: 'hv', minMiB: 68, maxMiB: 2048 }],
  maxPcpus: 8,
  maxMemoryMiB: 4096,
  defaultPcpus: 1,
  defaultMemoryMiB: 1024,
};
const dir = new URL('../../../experiments/', import.meta.url);

const BASE = `version: 1
title: T
host:
  pcpus: 1
  memoryMiB: 512
guests:
  - name: a
    workload: { run: burn }
  - prefix: w
    count: 2
    weight: 500
    workload: { run: bench }
sweep:
  guests.w.weight: [500, 1000]
  host.sliceMs: [5, 10, 20]
durationS: 4
repeats: 2
`;

const problems = (r: ExperimentParse): string[] => (r.ok ? [] : r.problems.map((p) => formatProblem('e.yaml', p)));

describe('experiment files', () => {
  it('parses a valid file with defaults; sweep points are every combination, the first key slowest', () => {
    const r = parseExperiment(BASE, CTX);
    if (!r.ok) throw new Error(problems(r).join('\n'));
    const e = r.experiment;
    expect(e).toMatchObject({ warmUpS: 2, durationS: 4, windowS: 1, repeats: 2, metrics: ['share', 'mips', 'ready', 'score', 'busy'] });
    expect(e.plot).toEqual({ x: 'guests.w.weight', y: ['share', 'mips', 'ready', 'score'] });
    const points = sweepPoints(e.sweep).map((p) => p.map((x) => x.value));
    expect(points).toEqual([[500, 5], [500, 10], [500, 20], [1000, 5], [1000, 10], [1000, 20]]);
  });

  it('refuses a malformed file with the line, column and field of each problem', () => {
    const text = BASE.replace('durationS: 4', 'durationS: 0').replace('    workload: { run: burn }', '    workload: { run: sprint }').replace('repeats: 2', 'repeats: 2\nextra: 1');
    expect(problems(parseExperiment(text, CTX))).toEqual([
      'e.yaml:8:22: guests[0].workload.run: must be one of burn | bench | idle | memtouch | net | command, got "sprint"',
      'e.yaml:16:12: durationS: expected >=1 but received 0',
      'e.yaml:18:1: extra: unknown key "extra"',
    ]);
  });

  it('reports a YAML syntax error at its line', () => {
    const r = parseExperiment('version: 1\ntitle: [\n', CTX);
    expect(r.ok).toBe(false);
    expect(r.ok ? 0 : r.problems[0]!.line).toBeGreaterThan(1);
  });

  it('checks sweep keys, swept values and each sweep point the host must run', () => {
    const bad = BASE.replace('  host.sliceMs: [5, 10, 20]', '  host.sliceMs: [5]\n  guests.x.weight: [1]\n  host.color: [1]\n  guests.a.weight: [null]');
    expect(problems(parseExperiment(bad, CTX))).toEqual([
      'e.yaml:16:3: sweep.guests.x.weight: there is no guest "x" (guests: a, w)',
      'e.yaml:17:3: sweep.host.color: "host.color" is not a parameter that can be swept (host.pcpus, host.sliceMs, host.periodMs, or guests.NAME.weight|capPct|reservationPct|memoryMiB|count|nicMbps)',
      'e.yaml:18:21: sweep.guests.a.weight[0]: only capPct, reservationPct and nicMbps may be null (none)',
    ]);
    // Points a host cannot run: found at the field, naming the first point with it.
    const points = BASE.replace('  host.sliceMs: [5, 10, 20]', '  host.sliceMs: [5, 10, 200]\n  guests.a.memoryMiB: [80, 400]').replace('  guests.w.weight: [500, 1000]\n', '');
    expect(problems(parseExperiment(points, CTX))).toEqual([
      'e.yaml:4:3: host.sliceMs: a 200 ms slice is longer than the 100 ms period (at host.sliceMs=200, guests.a.memoryMiB=80 and 1 more sweep point)',
      'e.yaml:7:3: guests: the guests need 560 MiB, more than the 512 MiB pool (set host.overcommit or host.memoryMiB) (at host.sliceMs=5, guests.a.memoryMiB=400 and 2 more sweep points)',
    ]);
  });

  it('checks a score pattern has one group, and the plot names a swept parameter and recorded metrics', () => {
    const text = BASE.replace('    workload: { run: burn }', '    workload: { run: command, command: "x", score: "a(b)(c)" }') + 'metrics: [share]\nplot: { x: host.pcpus, y: [mips] }\n';
    const out = problems(parseExperiment(text, CTX));
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/guests\[0\]\.workload\.score: a score pattern needs exactly one group .* it has 2/),
        expect.stringMatching(/plot\.x: the plot's x must be a swept parameter \(guests\.w\.weight, host\.sliceMs\)/),
        expect.stringMatching(/plot\.y\[0\]: "mips" is not recorded \(metrics: share\)/),
      ]),
    );
  });

  it('checks networks: a guest\'s network exists, a net workload sends to a guest on it, one sender per receiver', () => {
    const text = `version: 1
title: net
networks: [{ name: lan }]
guests:
  - { name: a, network: lan, workload: { run: net, to: b } }
  - { name: b, network: lan }
  - { name: c, network: wan, workload: { run: net, to: b } }
  - { name: d, nicMbps: 5, workload: { run: net, to: a } }
durationS: 2
`;
    expect(problems(parseExperiment(text, CTX))).toEqual([
      'e.yaml:7:25: guests[2].network: there is no network "wan" (networks: lan)',
      'e.yaml:7:56: guests[2].workload.to: b is not on c\'s network (wan): a net workload sends to a guest on its own network',
      'e.yaml:8:25: guests[3].nicMbps: a NIC limit needs a network: give the guest a network: first',
      'e.yaml:8:54: guests[3].workload.to: a is not on d\'s network (none): a net workload sends to a guest on its own network',
    ]);
    const twice = text.replace('network: wan', 'network: lan').replace('  - { name: d, nicMbps: 5, workload: { run: net, to: a } }\n', '');
    expect(problems(parseExperiment(twice, CTX))).toEqual(['e.yaml:7:56: guests[2].workload.to: b already receives from a: a guest receives from one sender (its bytes are the sender\'s score)']);
  });

  it('ships experiments that parse, and the JSON Schema generated from the same source', () => {
    const shipped = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(shipped.length).toBeGreaterThanOrEqual(3);
    for (const f of shipped) expect(problems(parseExperiment(readFileSync(new URL(f, dir), 'utf8'), CTX)), f).toEqual([]);
    expect(readFileSync(new URL('experiment.schema.json', dir), 'utf8')).toBe(experimentJsonSchemaText());
    const schema = JSON.parse(experimentJsonSchemaText()) as { required: string[] };
    expect(schema.required).toEqual(expect.arrayContaining(['version', 'title', 'guests', 'durationS']));
  });
});
