import { describe, expect, it } from 'vitest';
import { Transcript, execLine, parseExec, plainText } from './console-text.ts';

describe('console text', () => {
  it('strips control sequences and carriage returns', () => {
    expect(plainText('web1:~# \x1b[6nls\r\nA\x1b[0;32mB\x1b[0m\r\n')).toBe('web1:~# ls\nAB\n');
  });

  it('frames a command so that the echo does not contain the markers', () => {
    const line = execLine(7, "echo 'hi' &");
    expect(line).toBe(`printf '\\036HVX-B 7\\n'; eval 'echo '\\''hi'\\'' &'; printf '\\036HVX-E 7 %d\\n' $?\n`);
    expect(line).not.toContain('\x1e');
    expect(() => execLine(1, 'a\nb')).toThrow(/single line/);
  });

  it('parses output and status, ignoring the echo and other ids', () => {
    const echo = execLine(3, 'uname -r');
    const text = `web1:~# ${echo}\x1eHVX-B 3\n6.1.0-hv\n\x1eHVX-E 3 0\nweb1:~# `;
    expect(parseExec(3, text)).toEqual({ output: '6.1.0-hv\n', status: 0, end: text.indexOf('web1:~# ', 10) });
    expect(parseExec(4, text)).toBeNull();
    expect(parseExec(3, `\x1eHVX-B 3\npartial`)).toBeNull();
    expect(parseExec(5, `\x1eHVX-B 5\n\x1eHVX-E 5 127\n`)?.status).toBe(127);
  });

  it('keeps a bounded transcript with absolute positions', () => {
    const t = new Transcript(10);
    const enc = new TextEncoder();
    t.append(enc.encode('0123456789'));
    const mark = t.end;
    t.append(enc.encode('abcdefghijKLMNOPQRSTUVWXYZ'));
    expect(t.end).toBe(36);
    expect(t.since(mark).endsWith('XYZ')).toBe(true);
    expect(t.since(30)).toBe('UVWXYZ');
  });

  it('decodes UTF-8 split across chunks', () => {
    const t = new Transcript();
    const bytes = new TextEncoder().encode('grüß');
    t.append(bytes.slice(0, 3));
    t.append(bytes.slice(3));
    expect(t.since(0)).toBe('grüß');
  });
});
