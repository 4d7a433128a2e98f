// Issue: guests that start in well under a second. The small kernel provides
// what the labs need; clones restored from a booted template take their own
// identity; a stale template is rebuilt, a failed restore falls back to a cold boot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hypervisor } from '../../src/host/hypervisor.ts';
import { templateKey } from '../../src/host/templates.ts';
import { nodeImage } from '../../src/host/node-images.ts';
import { nodeHypervisor } from './hypervisor-helpers.ts';

describe('the small kernel', () => {
  let hv: Hypervisor;
  let id: string;

  beforeAll(async () => {
    hv = nodeHypervisor({ pcpus: 1, memoryMiB: 512 });
    id = hv.createVm({ name: 'small', memoryMiB: 80, image: 'hv' }).id;
    await hv.start(id);
  });
  afterAll(() => hv?.dispose());

  it('boots and answers exec', async () => {
    const r = await hv.exec(id, 'uname -r');
    expect(r.status).toBe(0);
    expect(r.output.trim()).toMatch(/^6\.1\.\d+-hv$/);
  });

  it('provides what the labs need: serial console, virtio-net, sysrq, /dev/mem', async () => {
    expect((await hv.exec(id, 'cat /sys/class/tty/ttyS0/dev')).output.trim()).toBe('4:64');
    const virtio = await hv.exec(id, 'for d in /sys/bus/virtio/devices/*; do cat $d/device; done');
    expect(virtio.output.split('\n').map((l) => l.trim())).toContain('0x0001'); // virtio device id 1: network
    expect((await hv.exec(id, 'ls /sys/class/net')).output).toMatch(/eth0/);
    expect((await hv.exec(id, 'test -w /proc/sysrq-trigger')).status).toBe(0);
    expect((await hv.exec(id, 'test -c /dev/mem')).status).toBe(0);
  });
});

describe('clones from a booted template', () => {
  let hv: Hypervisor;
  const ids: string[] = [];

  beforeAll(async () => {
    hv = nodeHypervisor({ pcpus: 1, memoryMiB: 1024 });
    for (let i = 1; i <= 4; i++) ids.push(hv.createVm({ name: `web${i}`, memoryMiB: 80, image: 'hv', boot: 'clone' }).id);
    await Promise.all(ids.map((id) => hv.start(id)));
  });
  afterAll(() => hv?.dispose());

  it('boots one template for four clones', () => {
    expect(hv.templates.builds).toBe(1);
    for (const id of ids) expect(hv.vm(id)).toMatchObject({ state: 'running', bootedBy: 'clone', bootNote: null });
  });

  it('gives each clone its own hostname, MAC and random seed', async () => {
    const facts = await Promise.all(
      ids.map(async (id) => {
        const r = await hv.exec(id, 'hostname; cat /sys/class/net/eth0/address; cat /run/hv-seed; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo');
        return r.output.trim().split('\n');
      }),
    );
    expect(facts.map((f) => f[0])).toEqual(['web1', 'web2', 'web3', 'web4']);
    for (const column of [1, 2, 3]) expect(new Set(facts.map((f) => f[column])).size, `column ${column}: ${facts.map((f) => f[column])}`).toBe(4);
    // The MACs the hypervisor assigned: locally administered unicast (low bits of the first byte 10).
    for (const f of facts) {
      expect(f[1]).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      expect(parseInt(f[1]!.slice(0, 2), 16) & 0x03).toBe(0x02);
    }
    // Each clone reports its own name in its ready line too.
    expect(ids.map((id) => hv.vm(id).ready?.name)).toEqual(['web1', 'web2', 'web3', 'web4']);
  });

  it('sets the wall clock of a clone (a restored clock lags by the time since the save)', async () => {
    const r = await hv.exec(ids[0]!, 'date +%s');
    expect(Math.abs(Number(r.output.trim()) - Date.now() / 1000)).toBeLessThan(5);
  });

  it('rebuilds a template that no longer matches its image instead of restoring it', async () => {
    const image = nodeImage('hv');
    const key = templateKey(image, 80, 'virtio');
    const current = hv.templates.list().find((t) => t.key.memoryMiB === 80)!;
    // A template saved from an older initramfs build (another sha256) in the same slot.
    hv.templates.put({ ...current, key: { ...key, initrdSha256: '0'.repeat(64) } });
    const builds = hv.templates.builds;
    const id = hv.createVm({ name: 'web5', memoryMiB: 80, image: 'hv', boot: 'clone' }).id;
    await hv.start(id);
    expect(hv.templates.builds).toBe(builds + 1);
    expect((await hv.exec(id, 'hostname')).output.trim()).toBe('web5');
  });

  it('falls back to a cold boot when the restore fails, and says so', async () => {
    const current = hv.templates.list().find((t) => t.key.memoryMiB === 80)!;
    // A corrupted state with a matching key: v86 cannot restore it.
    const garbage = new Uint8Array(current.saved.state.byteLength);
    garbage.set(new Uint8Array(current.saved.state, 0, 64));
    hv.templates.put({ ...current, saved: { ...current.saved, state: garbage.buffer } });
    const id = hv.createVm({ name: 'web6', memoryMiB: 80, image: 'hv', boot: 'clone' }).id;
    await hv.start(id);
    expect(hv.vm(id)).toMatchObject({ state: 'running', bootedBy: 'cold' });
    expect(hv.vm(id).bootNote).toMatch(/cloning web6 from its template failed .*booting it cold instead/);
    expect((await hv.exec(id, 'hostname')).output.trim()).toBe('web6');
  });
});
