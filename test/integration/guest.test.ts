// Issue: real Linux guests in workers. Boots real guests in Node worker_threads
// and checks what they print and what the host can see of them.
import { copyFileSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Guest } from '../../src/host/guest.ts';
import { liveGuestThreads } from '../../src/host/node-workers.ts';
import { isHvError } from '../../src/core/errors.ts';
import { bootGuest, destroyAll, testImage } from './helpers.ts';
import { JIT_PAGES } from '../../workers/v86-tuning.ts';

const KiB_PER_MiB = 1024;

describe('two real guests side by side', () => {
  let a: Guest | undefined;
  let b: Guest | undefined;

  beforeAll(async () => {
    [a, b] = await Promise.all([bootGuest('alpha', 96), bootGuest('beta', 160)]);
  });
  afterAll(() => destroyAll(a, b));

  it('answers exec with the kernel release and exit status', async () => {
    const uname = await a!.exec('uname -r');
    expect(uname.status).toBe(0);
    expect(uname.output.trim()).toBe(a!.ready!.kernel);
    expect(uname.output.trim()).toMatch(/^6\.1\./);
    // It booted interpreted and switched v86's JIT on at its ready line.
    const counters = await a!.api.counters();
    expect(counters.jit).toBe(true);
    // v86 compiles one guest page per wasm function (v86-tuning.ts: V8 optimizes small functions sooner).
    expect(counters.jitPages).toBe(JIT_PAGES);
    const fail = await a!.exec('ls /does-not-exist');
    expect(fail.status).not.toBe(0);
    expect(fail.output).toMatch(/No such file/);
  });

  it('each guest has its own name and sees only its own RAM', async () => {
    const [ha, hb] = await Promise.all([a!.exec('hostname'), b!.exec('hostname')]);
    expect(ha.output.trim()).toBe('alpha');
    expect(hb.output.trim()).toBe('beta');
    const memTotal = async (g: Guest) => Number((await g.exec("awk '/^MemTotal:/{print $2}' /proc/meminfo")).output.trim());
    const [ma, mb] = [await memTotal(a!), await memTotal(b!)];
    // The kernel keeps some RAM for itself; MemTotal is what is left of the request.
    for (const [kib, requested] of [[ma, 96], [mb, 160]] as const) {
      expect(kib).toBeLessThanOrEqual(requested * KiB_PER_MiB);
      expect(kib).toBeGreaterThan((requested - 40) * KiB_PER_MiB);
    }
    // The difference between the two is the difference between the requests.
    expect(Math.abs(mb - ma - 64 * KiB_PER_MiB)).toBeLessThan(4 * KiB_PER_MiB);
    expect(a!.ready!.memKiB).toBe(ma);
  });

  it('takes its console size from the host, and the program in the foreground gets SIGWINCH', async () => {
    const from = a!.transcript.end;
    // Waits in the foreground for SIGWINCH and prints the size it then sees
    // (the words are split in the command so its echo does not match).
    const waiting = a!.exec(`sh -c 'trap "echo WIN""CH \\$(stty size); exit 0" WINCH; echo WAIT""ING; while :; do sleep 1; done'`, 30_000);
    await a!.waitFor(/WAITING/, 10_000, from);
    a!.resizeConsole(100, 30);
    const got = await waiting;
    expect(got.output).toMatch(/WINCH 30 100/);
    expect((await a!.exec('stty size')).output.trim()).toBe('30 100');
    // The other guest's console did not change.
    expect((await b!.exec('stty size')).output).not.toMatch(/30 100/);
    expect(() => a!.resizeConsole(0, 30)).toThrow('a console needs a whole number of columns from 2 to 1000, got 0');
  });

  it('finds a marker in the RAM of the guest that wrote it, and not in the other', async () => {
    const marker = `HVMARK-${Math.random().toString(36).slice(2, 12)}`;
    const held = a!.transcript.end;
    const started = await a!.exec(`hv-memtouch 4 ${marker} &`);
    expect(started.status).toBe(0);
    await a!.waitFor(/HV-MEMTOUCH held mib=4/, 30_000, held);
    const [inA, inB] = await Promise.all([a!.searchMemory(marker, 16), b!.searchMemory(marker, 16)]);
    expect(inA.hits.length).toBeGreaterThan(0);
    expect(inA.bytesScanned).toBe(96 * 1024 * 1024);
    expect(inB.hits).toEqual([]);
    expect(inB.bytesScanned).toBe(160 * 1024 * 1024);
    // The host can read the guest's physical memory at a hit and see the marker there.
    const at = inA.hits[0]!.address;
    const bytes = await a!.api.readMemory(at, marker.length);
    expect(new TextDecoder().decode(bytes)).toBe(marker);
  });
});

describe('bad input gives a clear error and leaves other guests running', () => {
  let healthy: Guest | undefined;
  const threadsBefore = () => liveGuestThreads();

  beforeAll(async () => {
    healthy = await bootGuest('healthy', 80);
  });
  afterAll(() => destroyAll(healthy));

  async function expectRefusal(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
    const before = threadsBefore();
    const err = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, 'the call should have failed').not.toBeNull();
    expect(isHvError(err), String(err)).toBe(true);
    expect((err as { code: string }).code).toBe(code);
    expect((err as Error).message).toMatch(message);
    expect(liveGuestThreads()).toBeLessThanOrEqual(before);
    // The healthy guest is unaffected.
    const r = await healthy!.exec('echo still-here');
    expect(r.output.trim()).toBe('still-here');
  }

  it.each([
    [32, /at least \d+ MiB/],
    [65, /at least \d+ MiB/],
    [4096, /above the maximum/],
    ['lots', /not a number/],
    [100.5, /whole number/],
  ])('refuses a memory size of %s', async (memory, message) => {
    await expectRefusal(bootGuest('bad-mem', memory as number), 'invalid-argument', message);
  });

  it('refuses a missing image file', async () => {
    const image = testImage();
    const missing = { ...image, initrd: { ...image.initrd, url: pathToFileURL('/nonexistent/initramfs.cpio').href } };
    await expectRefusal(bootGuest('no-image', 96, { image: missing }), 'image-missing', /initramfs\.cpio could not be loaded/);
  });

  it('refuses a corrupted image file (sha256 differs from the manifest)', async () => {
    const image = testImage();
    const dir = mkdtempSync(join(tmpdir(), 'hv-corrupt-'));
    const path = join(dir, 'initramfs.cpio');
    copyFileSync(new URL(image.initrd.url), path);
    const bytes = readFileSync(path);
    bytes[1000] = bytes[1000]! ^ 0xff; // one flipped byte
    writeFileSync(path, bytes);
    const corrupt = { ...image, initrd: { ...image.initrd, url: pathToFileURL(path).href } };
    await expectRefusal(bootGuest('corrupt', 96, { image: corrupt }), 'image-corrupt', /initramfs\.cpio is corrupted: sha256/);
  });

  it('gives up on a guest that never prints its ready line, and releases its worker', async () => {
    const image = testImage();
    // `busybox sleep 3600` as the first process (bare words on the kernel command
    // line become init's arguments): the kernel boots, but no shell ever starts.
    const silent = { ...image, cmdline: `${image.cmdline} rdinit=/bin/busybox sleep 3600` };
    await expectRefusal(bootGuest('silent', 96, { image: silent, readyTimeoutMs: 20_000 }), 'boot-timeout', /did not print its ready line within 20 s/);
  });

  it('leaves no worker thread alive once every guest is destroyed', async () => {
    const g = await bootGuest('short-lived', 80);
    expect(liveGuestThreads()).toBeGreaterThanOrEqual(2);
    await g.destroy();
    await healthy!.destroy();
    expect(liveGuestThreads()).toBe(0);
  });
});
