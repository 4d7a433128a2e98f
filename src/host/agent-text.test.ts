import { describe, expect, it } from 'vitest';
import { AGENT_CHUNK, agentRequest, base64ToUtf8, parseAgentReply, plainScript, utf8ToBase64 } from './agent-text.ts';

describe('agent framing', () => {
  it('round-trips UTF-8 through base64', () => {
    for (const s of ['', 'echo hi', 'grüße ✓\n\ttab', 'x'.repeat(70_000)]) expect(base64ToUtf8(utf8ToBase64(s))).toBe(s);
  });

  it('sends a script without control characters as its own lines (l), then r with its id and whole seconds', () => {
    expect(agentRequest(7, 2.2, 'true')).toBe('l true\nr 7 3\n');
    expect(agentRequest(1, 0, 'true')).toBe('l true\nr 1 1\n');
    expect(agentRequest(2, 5, 'echo "a  b"\n\n\tgrüße $HOME \\\n')).toBe('l echo "a  b"\nl \nl \tgrüße $HOME \\\nr 2 5\n');
    expect(agentRequest(3, 1, '')).toBe('r 3 1\n');
  });

  it('sends base64 when a line has a control character or is too long for the tty', () => {
    for (const script of ['printf "\u0003"', 'a\rb', 'x\u007f', 'echo ' + 'a'.repeat(AGENT_CHUNK)]) {
      expect(plainScript(script)).toBe(false);
      expect(agentRequest(4, 1, script)).toMatch(/^(p [^\n]+\n)*x 4 1 [A-Za-z0-9+/=]+\n$/);
    }
    expect(plainScript(`${'a'.repeat(AGENT_CHUNK - 1)}\n${'b'.repeat(AGENT_CHUNK - 1)}`)).toBe(true);
  });

  it('splits a long base64 script into p lines of at most AGENT_CHUNK characters, then the x line', () => {
    const script = '\u0001echo ' + 'a'.repeat(10_000);
    const lines = agentRequest(3, 5, script).trimEnd().split('\n');
    expect(lines.length).toBe(Math.ceil(utf8ToBase64(script).length / AGENT_CHUNK));
    for (const l of lines.slice(0, -1)) expect(l).toMatch(/^p [A-Za-z0-9+/=]+$/);
    for (const l of lines) expect(l.length).toBeLessThan(4000);
    const joined = lines.map((l) => l.split(' ').at(-1)).join('');
    expect(base64ToUtf8(joined)).toBe(script);
  });

  it('finds the reply of its own id only, once complete', () => {
    const out = utf8ToBase64('line 1\nline 2\n');
    const text = `HV-AGENT-OUT 4\n${utf8ToBase64('other')}\nHV-AGENT-END 4 0\nHV-AGENT-OUT 5\n${out.slice(0, 8)}\n${out.slice(8)}\n`;
    expect(parseAgentReply(5, text)).toBeNull();
    expect(parseAgentReply(5, text + 'HV-AGENT-END 5 3\n')).toEqual({ output: 'line 1\nline 2\n', status: 3 });
    expect(parseAgentReply(4, text)).toEqual({ output: 'other', status: 0 });
    expect(parseAgentReply(9, text)).toBeNull();
  });

  it('reads an empty output', () => {
    expect(parseAgentReply(2, 'HV-AGENT-OUT 2\nHV-AGENT-END 2 1\n')).toEqual({ output: '', status: 1 });
  });
});
