// The framing of requests to the guest's agent (images/rootfs/usr/local/bin/hv-agent)
// on the second serial port, and of its answers. Scripts travel as base64 in
// lines short enough for the tty's line buffer (4095 bytes in canonical mode).

/** Base64 characters per request line: a multiple of 4, well under the tty's 4095-byte line. */
export const AGENT_CHUNK = 3000;

/** Base64 of a string's UTF-8 bytes (btoa exists in browsers and Node). */
export function utf8ToBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The UTF-8 text behind base64 (invalid bytes become U+FFFD). */
export function base64ToUtf8(b64: string): string {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/** True when every line of `script` can travel as it is: no control characters but tab, lines short enough. */
export function plainScript(script: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(script)) return false;
  return script.split('\n').every((l) => new TextEncoder().encode(l).length < AGENT_CHUNK);
}

/**
 * The request lines that make the agent run `script` as request `id`, killed
 * after `seconds`: its lines as they are (l lines, then r) when it has no
 * control characters, which saves the guest a base64 process; else base64
 * (p lines, then x).
 */
export function agentRequest(id: number, seconds: number, script: string): string {
  const whole = Math.max(1, Math.ceil(seconds));
  if (plainScript(script)) {
    const lines = script === '' ? [] : script.replace(/\n$/, '').split('\n');
    return lines.map((l) => `l ${l}\n`).join('') + `r ${id} ${whole}\n`;
  }
  const b64 = utf8ToBase64(script);
  const chunks: string[] = [];
  for (let i = 0; i < b64.length; i += AGENT_CHUNK) chunks.push(b64.slice(i, i + AGENT_CHUNK));
  const last = chunks.pop() ?? '';
  return chunks.map((c) => `p ${c}\n`).join('') + `x ${id} ${whole} ${last}\n`;
}

/** The agent's answer to request id in text (the agent's line, CRs removed); null while incomplete. */
export function parseAgentReply(id: number, text: string): { output: string; status: number } | null {
  const head = `HV-AGENT-OUT ${id}\n`;
  const begin = text.indexOf(head);
  if (begin < 0) return null;
  const m = new RegExp(`(?:^|\\n)HV-AGENT-END ${id} (\\d+)\\n`).exec(text.slice(begin + head.length - 1));
  if (!m) return null;
  const body = text.slice(begin + head.length, begin + head.length - 1 + m.index).replace(/\s+/g, '');
  return { output: base64ToUtf8(body), status: Number(m[1]) };
}
