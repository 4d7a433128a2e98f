// The dashboard's event log: one short sentence per lifecycle transition,
// refusal, resource or host change, with the host time it happened.
import { fmtMiB, fmtNumber } from '../core/format.ts';
import type { VmResources } from '../core/scheduler-types.ts';
import type { HostSettings, HvEvent } from '../host/hypervisor.ts';

export type LogKind = 'state' | 'refusal' | 'resources' | 'host' | 'crash' | 'note' | 'fault';

export interface LogEntry {
  seq: number;
  /** Wall-clock time, ms since the epoch (shown as hh:mm:ss.mmm). */
  wallMs: number;
  kind: LogKind;
  vmId: string | null;
  text: string;
}

/** Most entries kept; older ones drop off. */
export const LOG_LIMIT = 500;

/** "cap 50 %" / "no cap": a VM's CPU settings in words. */
export function describeResources(r: VmResources): string {
  const cap = r.capPct === null ? 'no cap' : `cap ${fmtNumber(r.capPct)} %`;
  const res = r.reservationPct === null ? 'no reservation' : `reservation ${fmtNumber(r.reservationPct)} %`;
  return `weight ${r.weight}, ${cap}, ${res}`;
}

function describeHostChange(before: HostSettings | null, after: HostSettings): string {
  const parts: string[] = [];
  const diff = <K extends keyof HostSettings>(key: K, label: string, show: (v: HostSettings[K]) => string): void => {
    if (!before) parts.push(`${label} ${show(after[key])}`);
    else if (before[key] !== after[key]) parts.push(`${label} ${show(before[key])} → ${show(after[key])}`);
  };
  diff('pcpus', 'pCPUs', String);
  diff('memoryMiB', 'memory pool', fmtMiB);
  diff('overcommit', 'overcommit', (v) => (v ? 'on' : 'off'));
  diff('periodMs', 'period', (v) => `${v} ms`);
  diff('sliceMs', 'slice', (v) => `${v} ms`);
  return parts.length ? `host: ${parts.join(', ')}` : 'host: settings unchanged';
}

/**
 * The log entry for an event, or null for events that are not logged
 * (accounting periods and boot progress come several times a second).
 * `nameOf` resolves a VM id to its name; `previousHost` is the settings before a host change.
 */
export function logEntryFor(
  e: HvEvent,
  nameOf: (vmId: string) => string,
  previousHost: HostSettings | null,
  extra: { bootLabel?: string } = {},
): Omit<LogEntry, 'seq' | 'wallMs'> | null {
  switch (e.type) {
    case 'vm-state': {
      const from = e.previous ? `${e.previous} → ` : '';
      if (e.state === 'crashed') {
        return { kind: 'crash', vmId: e.vmId, text: `${e.name}: ${from}crashed${e.reason ? `: ${e.reason}` : ''}` };
      }
      const note = e.state === 'running' && extra.bootLabel ? ` (${extra.bootLabel})` : e.state === 'defined' ? ' (created)' : '';
      return { kind: 'state', vmId: e.vmId, text: `${e.name}: ${from}${e.state}${note}` };
    }
    case 'vm-resources':
      return { kind: 'resources', vmId: e.vmId, text: `${e.name}: ${describeResources(e.resources)}` };
    case 'host-settings':
      return { kind: 'host', vmId: null, text: describeHostChange(previousHost, e.settings) };
    case 'refusal': {
      const who = e.vmId ? ` ${nameOf(e.vmId)}` : '';
      return { kind: 'refusal', vmId: e.vmId, text: `refused ${e.action}${who}: ${e.error.message}` };
    }
    case 'vm-address':
      return { kind: 'note', vmId: e.vmId, text: e.ip ? `${e.name}: took the address ${e.ip} (DHCP)` : `${e.name}: gave its address back` };
    case 'vm-note':
      return { kind: 'note', vmId: e.vmId, text: `${e.name}: ${e.message}` };
    case 'fault':
      return { kind: 'fault', vmId: e.vmId, text: `hypervisor: ${e.message}` };
    default:
      return null;
  }
}

/** hh:mm:ss.mmm in local time. */
export function clockTime(wallMs: number): string {
  const d = new Date(wallMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
