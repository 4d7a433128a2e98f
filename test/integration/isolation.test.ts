// Issue 5: guests are isolated from each other. The three experiments of
// src/host/experiments run on real guests, as the Isolation view runs them.
import { afterEach, describe, expect, it } from 'vitest';
import type { Hypervisor } from '../../src/host/hypervisor.ts';
import {
  reportFault,
  reportMemory,
  reportPerformance,
  runFaultIsolation,
  runMemoryIsolation,
  runPerformanceIsolation,
  type ExperimentProgress,
} from '../../src/host/experiments/index.ts';
import { isHvError } from '../../src/core/errors.ts';
import { liveGuestThreads } from '../../src/host/node-workers.ts';
import { nodeHypervisor } from './hypervisor-helpers.ts';

let hv: Hypervisor | undefined;
afterEach(async () => {
  await hv?.dispose();
  hv = undefined;
});

const log = (lines: string[]) => console.log(lines.join('\n'));

describe('memory isolation', () => {
  it('finds a typed secret in A only; B searching its own physical memory does not find it', { timeout: 300_000 }, async () => {
    hv = nodeHypervisor({ pcpus: 2, memoryMiB: 512 });
    const progress: ExperimentProgress[] = [];
    // Typed by a user: quotes, a shell variable and a backslash must arrive as typed.
    const secret = `it's my "secret" $HOME \\ ${Date.now() % 100000}`;
    const r = await runMemoryIsolation(hv, { secret, onProgress: (p) => progress.push(p) });
    log(reportMemory(r));
    expect(r.secret).toEqual({ value: secret, source: 'user', bytes: secret.length });

    const [a, b] = [r.hostSearch.find((h) => h.name === 'iso-a')!, r.hostSearch.find((h) => h.name === 'iso-b')!];
    expect(a.found).toBe(true);
    expect(a.addresses.length).toBeGreaterThan(0);
    expect(b.found).toBe(false);
    expect(b.bytesScanned).toBe(80 << 20);
    // B's own tool worked (it found its own marker) and did not find the secret.
    expect(r.guestSearch.controlHits).toBeGreaterThan(0);
    expect(r.guestSearch.secretHits).toBe(0);
    expect(r.guestSearch.bytesScanned).toBeGreaterThan(60 << 20);
    expect(r.guestSearch.command).not.toContain(r.secret.value);
    expect(r.verdict.pass).toBe(true);
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // The experiment cleaned up after itself.
    expect(hv.vms()).toEqual([]);
    expect(hv.memory.reservedMiB).toBe(0);
  });

  it('refuses a bad user secret before creating any guest', async () => {
    hv = nodeHypervisor({ pcpus: 1, memoryMiB: 512 });
    const err = await runMemoryIsolation(hv, { secret: 'short' }).catch((e: unknown) => e);
    expect(isHvError(err, 'invalid-argument')).toBe(true);
    expect((err as Error).message).toMatch(/8 to 64 characters long, got 5/);
    expect(hv.vms()).toEqual([]);
  });
});

describe('fault isolation', () => {
  it('a real panic crashes one guest only; the others keep running and answering; restart works', { timeout: 300_000 }, async () => {
    hv = nodeHypervisor({ pcpus: 1, memoryMiB: 512 });
    const states: string[] = [];
    hv.on((e) => {
      if (e.type === 'vm-state' && e.name === 'iso-crash') states.push(e.state);
    });
    // A crash that stalls the others drops their MIPS towards 100 %. Run after
    // other experiments in this process, the emulator's own speed moved the
    // 10-second windows by up to 21 % either way with the pCPU shares steady
    // (background teardown of the earlier guests), so the bound here is wider
    // than the view's default; the shares are checked tightly below.
    const r = await runFaultIsolation(hv, { maxDropPct: 40 });
    log(reportFault(r));

    expect(r.crashed.state).toBe('crashed');
    expect(r.crashed.reason).toMatch(/Kernel panic - not syncing: sysrq triggered crash/);
    expect(states).toEqual(['defined', 'booting', 'running', 'crashed', 'booting', 'running', 'destroyed']);
    expect(r.crashed.answeredAfterRestart).toBe(true);
    expect(r.observers.map((o) => o.name)).toEqual(['iso-f1', 'iso-f2']);
    for (const o of r.observers) {
      expect(o.stateAfter).toBe('running');
      expect(o.execTotal).toBeGreaterThanOrEqual(8);
      expect(o.execOk).toBe(o.execTotal);
      // Their share of the pCPU did not shrink (it is the hypervisor's own
      // accounting, immune to other load on this machine; MIPS are judged
      // by the verdict against the measured noise).
      expect(o.after.sharePct).toBeGreaterThan(o.before.sharePct - 5);
    }
    expect(r.verdict.pass, r.verdict.reason).toBe(true);
    expect(hv.vms()).toEqual([]);
  });
});

describe('performance isolation (noisy neighbour)', () => {
  it('with a 50 % reservation the victim keeps at least 45 % of the pCPU against three burners and a fork bomb', { timeout: 400_000 }, async () => {
    hv = nodeHypervisor({ pcpus: 2, memoryMiB: 512 });
    const r = await runPerformanceIsolation(hv, { reservationPct: 50 });
    log(reportPerformance(r));

    const equal = r.runs.find((x) => x.label === 'equal weights')!;
    const reserved = r.runs.find((x) => x.label === 'reservation')!;
    expect(equal.victim.entitlementPct).toBeCloseTo(25, 0);
    // Its fair quarter: of a whole pCPU, or (when this machine is so busy that
    // the pCPU itself ran short) of the time the pCPU did run guests.
    expect(Math.max(equal.victim.sharePct, equal.victimPartPct)).toBeGreaterThan(20);
    expect(reserved.victim.entitlementPct).toBeCloseTo(50, 0);
    expect(reserved.victim.sharePct).toBeGreaterThanOrEqual(45);
    // One pCPU: everyone together used at most one pCPU's time.
    const total = reserved.victim.sharePct + reserved.neighbours.reduce((s, n) => s + n.sharePct, 0);
    expect(total).toBeLessThan(103);
    expect(r.verdict.pass, r.verdict.reason).toBe(true);
    // The hypervisor is back as it was: its pCPUs restored, no guest left.
    expect(hv.settings.pcpus).toBe(2);
    expect(hv.vms()).toEqual([]);
    await hv.dispose();
    hv = undefined;
    expect(liveGuestThreads()).toBe(0);
  });
});
