// Command lines for the guest tools the experiments use (images/rootfs and
// images/tools) and parsers for what they print. Pure: no guest needed.
import { HvError } from '../../core/errors.ts';
import type { MaskedPatterns } from './secret.ts';
import { shellQuote } from './secret.ts';

/** hv-memtouch holds MIB MiB of tmpfs filled with marker; its lines go to logFile. */
export function memtouchCommand(mib: number, marker: string, logFile: string): string {
  return `hv-memtouch ${mib} ${shellQuote(marker)} > ${logFile} 2>&1 &`;
}

/** True once hv-memtouch reported that it holds the memory; throws when it failed. */
export function memtouchHeld(output: string, vmName: string): boolean {
  const failed = /hv-memtouch: .*/.exec(output);
  if (failed) throw new HvError('internal', `${vmName}: ${failed[0]}`, { vm: vmName });
  return /HV-MEMTOUCH held mib=\d+/.test(output);
}

/** hv-memscan over the guest's own /dev/mem, up to limitMiB, for masked patterns. */
export function memscanCommand(masked: MaskedPatterns, limitMiB: number): string {
  return `hv-memscan -m ${limitMiB} ${masked.keyHex} ${masked.maskedHex.join(' ')}`;
}

export interface MemscanPattern {
  hits: number;
  /** Physical addresses of the first hits (at most 8). */
  addresses: number[];
}

export interface MemscanResult {
  patterns: MemscanPattern[];
  /** Bytes of /dev/mem read and searched. */
  bytesScanned: number;
  /** Unreadable pages (bytes) between readable ones. */
  bytesSkipped: number;
  /** Physical address where the RAM the guest kernel lets it read ends. */
  ramEnd: number;
  /** Time the scan took on the guest's clock. */
  ms: number;
}

/** Parse hv-memscan's output; throws when a line is missing (the tool failed). */
export function parseMemscan(output: string, patterns: number): MemscanResult {
  const done = /HV-MEMSCAN done bytes=(\d+) skipped=(\d+) end=0x([0-9a-f]+) ms=(\d+)/.exec(output);
  if (!done) throw new HvError('internal', `hv-memscan did not finish: ${lastLine(output)}`, { output: output.slice(-500) });
  const result: MemscanPattern[] = [];
  for (let i = 0; i < patterns; i++) {
    const m = new RegExp(`HV-MEMSCAN pattern=${i} hits=(\\d+) addrs=(\\S+)`).exec(output);
    if (!m) throw new HvError('internal', `hv-memscan printed no line for pattern ${i}`, { output: output.slice(-500) });
    result.push({ hits: Number(m[1]), addresses: m[2] === '-' ? [] : m[2]!.split(',').map((a) => Number.parseInt(a, 16)) });
  }
  return { patterns: result, bytesScanned: Number(done[1]), bytesSkipped: Number(done[2]), ramEnd: Number.parseInt(done[3]!, 16), ms: Number(done[4]) };
}

/** hv-bench: rounds of ROUND shell-loop iterations until SECONDS passed on the guest's clock. */
export function benchCommand(seconds: number, round: number): string {
  return `hv-bench ${Math.round(seconds)} ${Math.round(round)}`;
}

export interface BenchResult {
  iterations: number;
  /** Wall time on the guest's clock (it follows the host's). */
  ms: number;
  /** Loop iterations per second: the benchmark's score. */
  perS: number;
}

export function parseBench(output: string): BenchResult {
  const m = /HV-BENCH rounds=\d+ iterations=(\d+) ms=(\d+) per_s=(\d+)/.exec(output);
  if (!m) throw new HvError('internal', `hv-bench printed no result: ${lastLine(output)}`, { output: output.slice(-500) });
  return { iterations: Number(m[1]), ms: Number(m[2]), perS: Number(m[3]) };
}

function lastLine(output: string): string {
  return output.trim().split('\n').pop() || '(no output)';
}

/** What hv-io printed (images/tools/hv-io.c): requests, bytes, ms, requests/s, MB/s, latency p50/p99 (us). */
export interface HvIoResult {
  ops: number;
  bytes: number;
  ms: number;
  iops: number;
  mbps: number;
  p50_us: number;
  p99_us: number;
}

/** The HV-IO line in output; throws when there is none (the tool failed: its message is in output). */
export function parseHvIo(output: string): HvIoResult {
  const m = /HV-IO mode=\S+ ops=(\d+) bytes=(\d+) ms=(\d+) iops=([\d.]+) mbps=([\d.]+) p50_us=(\d+) p99_us=(\d+)/.exec(output);
  if (!m) throw new HvError('internal', `hv-io printed no HV-IO line: ${output.trim().slice(0, 200)}`, {});
  const [ops, bytes, ms, iops, mbps, p50, p99] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  return { ops, bytes, ms, iops, mbps, p50_us: p50, p99_us: p99 };
}
