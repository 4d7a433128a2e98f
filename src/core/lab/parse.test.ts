import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { labJsonSchemaText } from './json-schema.ts';
import { formatProblem } from './locate.ts';
import { parseLab, type LabContext } from './parse.ts';

const CTX: LabContext = {
  images: [
    { id: 'hv', minMiB: 68, maxMiB: 2048 },
    { id: 'debian', minMiB: 90, maxMiB: 2048 },
  ],
  maxPcpus: 8,
  maxMemoryMiB: 4096,
  defaultPcpus: 1,
  defaultMemoryMiB: 1024,
};
const labsDir = new URL('../../../labs/', import.meta.url);
const shipped = readdirSync(labsDir).filter((f) => f.endsWith('.yaml'));

/** A small valid lab; `patch` replaces whole lines of it. */
const BASE = `version: 1
title: T
host:
  pcpus: 1
  memoryMiB: 512
guests:
  - name: a
    memoryMiB: 80
  - name: b
steps:
  - id: one
    title: First
    instructions: Do it.
    checks:
      - type: command
        guest: a
        command: "true"
`;

describe('lab files', () => {
  it.each(shipped)('accepts the shipped lab %s', (file) => {
    const r = parseLab(readFileSync(new URL(file, labsDir), 'utf8'), CTX);
    expect(r.ok ? [] : r.problems).toEqual([]);
  });

  it('accepts the base lab and fills in defaults', () => {
    const r = parseLab(BASE, CTX);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.lab.guests.map((g) => [g.name, g.memoryMiB, g.boot, g.start])).toEqual([
      ['a', 80, 'clone', true],
      ['b', 80, 'clone', true],
    ]);
    expect(r.lab.consoles).toEqual(['a', 'b']);
    expect(r.lab.host).toEqual({ pcpus: 1, memoryMiB: 512, overcommit: false });
  });

  it('expands a count and a prefix into names', () => {
    const r = parseLab(BASE.replace('  - name: b\n', '  - prefix: web\n    count: 3\n'), CTX);
    expect(r.ok && r.lab.guests.map((g) => g.name)).toEqual(['a', 'web1', 'web2', 'web3']);
  });

  // [what is broken, text, expected line, column, path, message pattern]
  const broken: [string, string, number, number, string, RegExp][] = [
    ['YAML syntax', BASE.replace('title: T', 'title: [T'), 3, 1, '', /flow sequence|end with a \]/i],
    ['a wrong type', BASE.replace('pcpus: 1', 'pcpus: two'), 4, 10, 'host.pcpus', /expected number, got "two"/],
    ['an unknown key', BASE.replace('    memoryMiB: 80\n', '    memoryMiB: 80\n    colour: red\n'), 9, 5, 'guests[0].colour', /unknown key "colour"/],
    ['a check naming a missing guest', BASE.replace('guest: a', 'guest: zed'), 16, 16, 'steps[0].checks[0].guest', /no guest "zed".*a, b/],
    ['a step without instructions', BASE.replace('    instructions: Do it.\n', ''), 11, 5, 'steps[0].instructions', /"instructions" is required/],
    ['empty instructions', BASE.replace('instructions: Do it.', 'instructions: "  "'), 13, 19, 'steps[0].instructions', /must not be empty/],
    ['duplicate guest names', BASE.replace('  - name: b', '  - name: a'), 9, 11, 'guests[1].name', /"a" is used twice/],
    ['RAM below the image minimum', BASE.replace('memoryMiB: 80', 'memoryMiB: 40'), 8, 16, 'guests[0].memoryMiB', /40 MiB is below the 68 MiB that image "hv" needs/],
    ['more reservation than the host has', BASE.replace('    memoryMiB: 80\n', '    memoryMiB: 80\n    reservationPct: 70\n').replace('  - name: b\n', '  - name: b\n    reservationPct: 40\n'), 7, 3, 'guests', /reserve 110 % .* 1 pCPU\(s\) \(100 %\)/],
    ['more pCPUs than the playground allows', BASE.replace('pcpus: 1', 'pcpus: 12'), 4, 10, 'host.pcpus', /12 pCPUs is more than this playground allows \(8\)/],
    ['an unknown image', BASE.replace('    memoryMiB: 80\n', '    memoryMiB: 80\n    image: windows\n'), 9, 12, 'guests[0].image', /no image "windows" \(images: hv, debian\)/],
    ['an unknown check type', BASE.replace('type: command', 'type: ping'), 15, 15, 'steps[0].checks[0].type', /must be one of command \| metric/],
    ['a bad output pattern', BASE.replace('command: "true"', 'command: "true"\n        output: "(["'), 18, 17, 'steps[0].checks[0].output', /not a regular expression/],
    ['RAM beyond the pool', BASE.replace('memoryMiB: 512', 'memoryMiB: 128'), 7, 3, 'guests', /need 160 MiB, more than the 128 MiB pool/],
    ['a guest with both a name and a prefix', BASE.replace('  - name: b', '  - name: b\n    prefix: web'), 9, 5, 'guests[1]', /either a name, or a prefix and a count/],
    ['a metric check without a target', BASE.replace('      - type: command\n        guest: a\n        command: "true"\n', '      - type: metric\n        guest: a\n        metric: share\n'), 15, 9, 'steps[0].checks[0]', /needs a target/],
    ['a solution naming a missing guest', BASE.replace('    checks:', '    solution:\n      - { do: pause, guest: q }\n    checks:'), 15, 29, 'steps[0].solution[0].guest', /no guest "q"/],
    ['a trunk carrying the guest\'s own network', BASE.replace('guests:\n', 'networks:\n  - { name: lan }\nguests:\n').replace('    memoryMiB: 80\n', '    memoryMiB: 80\n    network: lan\n    trunk: [lan]\n'), 12, 13, 'guests[0].trunk[0]', /"lan" is the guest's own \(untagged\) network/],
    ['a trunk without a network', BASE.replace('guests:\n', 'networks:\n  - { name: lan }\nguests:\n').replace('    memoryMiB: 80\n', '    memoryMiB: 80\n    trunk: [lan]\n'), 11, 12, 'guests[0].trunk', /give the guest a network: first/],
    ['a mirror to its own source', BASE.replace('steps:\n', 'mirrors:\n  - { name: m, from: { guest: a }, to: a }\nsteps:\n'), 11, 40, 'mirrors[0].to', /copy a's port to itself/],
    ['a mirror from a missing guest', BASE.replace('steps:\n', 'mirrors:\n  - { name: m, from: { guest: zed }, to: a }\nsteps:\n'), 11, 31, 'mirrors[0].from.guest', /no guest "zed"/],
    ['a wrong version', BASE.replace('version: 1', 'version: 2'), 1, 10, 'version', /expected 1, got 2/],
    ['a guest on an undeclared network', BASE.replace('    memoryMiB: 80\n', '    memoryMiB: 80\n    network: lan\n'), 9, 14, 'guests[0].network', /no network "lan": declare it under networks:/],
    ['two networks on one VLAN', BASE.replace('guests:\n', 'networks:\n  - { name: lan, vlan: 10 }\n  - { name: dmz, vlan: 10 }\nguests:\n'), 8, 24, 'networks[1].vlan', /VLAN 10 is networks\[0\]'s already/],
    ['a VLAN out of range', BASE.replace('guests:\n', 'networks:\n  - { name: lan, vlan: 5000 }\nguests:\n'), 7, 24, 'networks[0].vlan', /4094/],
    ['a capture check on an unknown network', BASE.replace('      - type: command\n        guest: a\n        command: "true"\n', '      - { type: capture, network: wan, contains: "ARP", expect: true }\n'), 15, 35, 'steps[0].checks[0].network', /no network "wan"/],
    ['a bad capture pattern', BASE.replace('guests:\n', 'networks:\n  - { name: lan }\nguests:\n').replace('      - type: command\n        guest: a\n        command: "true"\n', '      - { type: capture, network: lan, contains: "([", expect: true }\n'), 17, 50, 'steps[0].checks[0].contains', /not a regular expression/],
  ];

  it.each(broken)('refuses %s, naming line, column and field', (_, text, line, col, path, message) => {
    const r = parseLab(text, CTX);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const p = r.problems.find((x) => x.path === path);
    expect(p, r.problems.map((x) => formatProblem('lab.yaml', x)).join('\n')).toBeDefined();
    expect(p!.message).toMatch(message);
    expect([p!.line, p!.col]).toEqual([line, col]);
  });

  it('reports every schema problem at once', () => {
    const text = BASE.replace('pcpus: 1', 'pcpus: 0').replace('title: First', 'title: ""').replace('    memoryMiB: 80\n', '    memoryMiB: 80\n    oops: 1\n');
    const r = parseLab(text, CTX);
    expect(r.ok ? [] : r.problems.map((p) => p.path)).toEqual(['host.pcpus', 'guests[0].oops', 'steps[0].title']);
  });

  it('checks a lab\'s other hosts, and the hosts its moves and migration checks name', () => {
    const text = BASE.replace('guests:', 'hosts:\n  - { name: host1 }\n  - { name: h2 }\nguests:').replace(
      '        command: "true"\n',
      '        command: "true"\n      - { type: migration, guest: a, on: h3, max: 300 }\n    solution:\n      - { do: migrate, guest: a, to: h9 }\n',
    );
    const r = parseLab(text, CTX);
    expect(r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'hosts[0].name: host1 is the lab\'s own host: name the others otherwise',
      'steps[0].checks[1].on: there is no host "h3" (hosts: host1, h2)',
      'steps[0].solution[0].to: there is no host "h9" (hosts: host1, h2)',
    ]);
  });

  it('formats a problem as file:line:col: path: message', () => {
    expect(formatProblem('x.yaml', { line: 3, col: 7, path: 'host.pcpus', message: 'bad' })).toBe('x.yaml:3:7: host.pcpus: bad');
  });

  it('publishes the JSON Schema generated from the same source (labs/lab.schema.json is up to date)', () => {
    expect(readFileSync(new URL('lab.schema.json', labsDir), 'utf8')).toBe(labJsonSchemaText());
    const schema = JSON.parse(labJsonSchemaText()) as { required: string[]; additionalProperties: boolean };
    expect(schema.required).toEqual(expect.arrayContaining(['version', 'title', 'guests', 'steps']));
    expect(schema.additionalProperties).toBe(false);
  });
});
