// The parts of DHCP and DNS messages that both the host's services (which
// answer them) and the capture's one-line summaries (which describe them)
// read: DHCP's options, and a DNS message's question.
import { u16 } from './ipv4.ts';
import { utf8Decode } from './utf8.ts';

/** The magic cookie that begins a DHCP message's options (after the 236-byte BOOTP header). */
export const DHCP_MAGIC = 0x63825363;

/** DHCP options (the bytes after the magic cookie) by code; pad bytes are skipped, the end option stops. */
export function dhcpOptions(b: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let at = 0;
  while (at < b.length && b[at] !== 255) {
    if (b[at] === 0) {
      at++;
      continue;
    }
    const len = b[at + 1] ?? 0;
    out.set(b[at]!, b.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return out;
}

export interface DnsQuestion {
  /** The name, labels joined by dots (no trailing dot). */
  name: string;
  qtype: number;
  /** Offset just past the question (its type and class). */
  end: number;
}

/**
 * A DNS message's first question (at byte 12); null when it is cut short or
 * a label is longer than 63 bytes (a compression pointer has no place there).
 */
export function dnsQuestion(m: Uint8Array): DnsQuestion | null {
  const labels: string[] = [];
  let at = 12;
  while (at < m.length && m[at] !== 0) {
    const len = m[at]!;
    if (len > 63 || at + 1 + len > m.length) return null;
    labels.push(utf8Decode(m.subarray(at + 1, at + 1 + len)));
    at += 1 + len;
  }
  if (at + 5 > m.length) return null;
  return { name: labels.join('.'), qtype: u16(m, at + 1), end: at + 5 };
}
