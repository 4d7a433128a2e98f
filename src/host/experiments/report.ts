// Plain-text reports of experiment results, for logs, the headless runner and
// issue notes. Every number with its unit.
import type { FaultIsolationResult } from './fault-isolation.ts';
import type { MemoryIsolationResult } from './memory-isolation.ts';
import type { PerformanceIsolationResult } from './performance-isolation.ts';

const f1 = (v: number): string => v.toFixed(1);
const mib = (bytes: number): string => f1(bytes / (1 << 20));
const hex = (a: number): string => `0x${a.toString(16).padStart(8, '0')}`;
const verdict = (v: { pass: boolean; reason: string }): string => `${v.pass ? 'PASS' : 'FAIL'}: ${v.reason}`;

export function reportMemory(r: MemoryIsolationResult): string[] {
  const g = r.guestSearch;
  return [
    `memory isolation (${(r.durationMs / 1000).toFixed(1)} s): secret ${JSON.stringify(r.secret.value)} (${r.secret.source}, ${r.secret.bytes} bytes) held by ${r.holder.name} in ${r.holder.heldMiB} MiB`,
    ...r.hostSearch.map(
      (h) =>
        `  hypervisor search in ${h.name} (${h.role}): ${h.found ? `FOUND ${h.hits}${h.truncated ? '+' : ''} hits at ${h.addresses.slice(0, 3).map(hex).join(', ')}` : 'not found'}; ${mib(h.bytesScanned)} MiB in ${f1(h.ms)} ms`,
    ),
    `  ${g.name}'s own hv-memscan: secret ${g.secretHits} hits, control marker ${g.controlHits} hits; ${mib(g.bytesScanned)} MiB of /dev/mem up to ${hex(g.ramEnd)} (${mib(g.bytesSkipped)} MiB unreadable holes) in ${g.ms} ms guest time`,
    `  ${verdict(r.verdict)}`,
  ];
}

export function reportFault(r: FaultIsolationResult): string[] {
  const c = r.crashed;
  return [
    `fault isolation (${(r.durationMs / 1000).toFixed(1)} s): ${c.name} -> ${c.state} (${c.reason}) detected ${Math.round(c.detectMs)} ms after '${c.trigger}'; restarted in ${f1(c.restartMs / 1000)} s, answered: ${c.answeredAfterRestart}`,
    ...r.observers.map(
      (o) =>
        `  ${o.name} (${o.role}): ${f1(o.before.mips)} -> ${f1(o.after.mips)} MIPS (${f1(o.mipsChangePct)} %), share ${f1(o.before.sharePct)} -> ${f1(o.after.sharePct)} % of a pCPU, ${f1(o.before.mipsWhileRunning)} -> ${f1(o.after.mipsWhileRunning)} MIPS while running; ` +
        `answered ${o.execOk}/${o.execTotal} commands, slowest ${Math.round(o.maxExecMs)} ms; ${o.stateAfter}${o.judged ? '' : ' (idle: not judged)'}`,
    ),
    `  warm-up ${f1(r.warmUp.ms / 1000)} s${r.warmUp.steady ? '' : ' (speed still rising)'}; noise bound: a drop of ${f1(r.noiseBoundPct)} % over ${r.windowMs / 1000} s windows`,
    `  ${verdict(r.verdict)}`,
  ];
}

export function reportPerformance(r: PerformanceIsolationResult): string[] {
  return [
    `performance isolation (${(r.durationMs / 1000).toFixed(1)} s) on ${r.pcpus} pCPU: ${r.victim.name} against ${r.neighbours.map((n) => `${n.name} (${n.load})`).join(', ')}`,
    ...r.runs.map(
      (run) =>
        `  ${run.label} [${run.setting}]: ${r.victim.name} ${f1(run.victim.sharePct)} % of a pCPU (promise ${f1(run.victim.entitlementPct)} %), ${f1(run.victim.mips)} MIPS, ready ${f1(run.victim.readyPct)} %, ` +
        `hv-bench ${run.victim.bench.perS} iterations/s over ${f1(run.victim.bench.ms / 1000)} s; neighbours ${run.neighbours.map((n) => `${f1(n.sharePct)} %`).join(' / ')}; pCPU busy ${f1(run.hostBusyPct)} % (victim's part ${f1(run.victimPartPct)} %); ${run.periods}/${run.expectedPeriods} periods`,
    ),
    `  warm-up before the runs: ${f1(r.warmUp.ms / 1000)} s${r.warmUp.steady ? '' : ' (speed still rising)'}`,
    `  neighbours after: ${r.neighbours.map((n) => `${n.name} ${n.stateAfter}${n.answersAfter ? '' : ' (does not answer)'}`).join(', ')}`,
    `  ${verdict(r.verdict)}`,
  ];
}
