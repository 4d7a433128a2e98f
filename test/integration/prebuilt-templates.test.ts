// Templates built ahead (npm run templates, the site's templates/ folder):
// a clone restores one instead of booting a template first; a broken one is
// reported and a template is booted instead, so the guest still starts.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hypervisor } from '../../src/host/hypervisor.ts';
import { nodeHypervisor, nodeTemplateFiles } from '../../src/host/node-hypervisor.ts';
import type { TemplateIndex } from '../../src/host/template-files.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('prebuilt templates', () => {
  let dir: string;
  let index: TemplateIndex;
  const hvs: Hypervisor[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hv-templates-'));
    const run = spawnSync('npx', ['tsx', 'scripts/templates.ts', '--out', join(dir, 'site')], { cwd: root, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`npm run templates failed: ${run.stderr}`);
    index = JSON.parse(readFileSync(join(dir, 'site/index.json'), 'utf8')) as TemplateIndex;
  });
  afterAll(async () => {
    await Promise.all(hvs.map((hv) => hv.dispose()));
    rmSync(dir, { recursive: true, force: true });
  });

  const withTemplates = (folder: string) => {
    const hv = nodeHypervisor({ pcpus: 1, memoryMiB: 1024 }, 1, 'hv', { templates: nodeTemplateFiles(folder) });
    hvs.push(hv);
    return hv;
  };

  it('are written for the RAM sizes the bundled labs clone (80 and 96 MiB)', () => {
    expect(index.templates.map((t) => t.key.memoryMiB).sort()).toEqual([80, 96]);
  });

  it('start clones without booting a template, each with its own identity', async () => {
    const hv = withTemplates(join(dir, 'site'));
    const ids = ['pa', 'pb'].map((name) => hv.createVm({ name, memoryMiB: 80, image: 'hv', boot: 'clone' }).id);
    await Promise.all(ids.map((id) => hv.start(id)));
    expect(hv.templates.builds).toBe(0);
    expect(hv.templates.loads).toBe(1);
    for (const id of ids) {
      expect(hv.vm(id)).toMatchObject({ state: 'running', bootedBy: 'clone', bootNote: null });
      expect((await hv.exec(id, 'hostname')).output.trim()).toBe(hv.vm(id)!.name);
    }
    expect(hv.faults()).toEqual([]);
  });

  it('a broken template file is reported, and a template is booted instead', async () => {
    const broken = join(dir, 'broken');
    cpSync(join(dir, 'site'), broken, { recursive: true });
    const file = join(broken, index.templates.find((t) => t.key.memoryMiB === 80)!.file);
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    const hv = withTemplates(broken);
    const id = hv.createVm({ name: 'pc', memoryMiB: 80, image: 'hv', boot: 'clone' }).id;
    await hv.start(id);
    expect(hv.vm(id)).toMatchObject({ state: 'running', bootedBy: 'clone' });
    expect(hv.templates.builds).toBe(1);
    expect(hv.faults().map((f) => f.message).join('\n')).toMatch(/prebuilt template hv\/80\/virtio cannot be used \(.*has 1000 bytes, not the \d+ its index says/);
    expect((await hv.exec(id, 'echo ok')).output.trim()).toBe('ok');
  });

  it('a state that v86 cannot restore boots that clone cold, and the next clone from a booted template', async () => {
    const corrupt = join(dir, 'corrupt');
    cpSync(join(dir, 'site'), corrupt, { recursive: true });
    const file = join(corrupt, index.templates.find((t) => t.key.memoryMiB === 96)!.file);
    const bytes = readFileSync(file);
    bytes.fill(0x55, 64, bytes.length - 64); // size and magic number intact, the frame garbage
    writeFileSync(file, bytes);
    const hv = withTemplates(corrupt);
    const first = hv.createVm({ name: 'pd', memoryMiB: 96, image: 'hv', boot: 'clone' }).id;
    await hv.start(first);
    expect(hv.vm(first)).toMatchObject({ state: 'running', bootedBy: 'cold' });
    expect(hv.vm(first)!.bootNote).toMatch(/cloning pd from its template failed .*booting it cold instead/);
    const second = hv.createVm({ name: 'pe', memoryMiB: 96, image: 'hv', boot: 'clone' }).id;
    await hv.start(second);
    expect(hv.vm(second)).toMatchObject({ state: 'running', bootedBy: 'clone', bootNote: null });
    expect(hv.templates).toMatchObject({ loads: 1, builds: 1 });
    expect((await hv.exec(second, 'hostname')).output.trim()).toBe('pe');
  });
});
