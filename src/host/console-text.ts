// Text helpers for a guest's serial console: a bounded transcript that can be
// searched, and the framing of `exec` (run a command, get output and status).

/** Control sequences a shell prints around its prompt (CSI ... final byte). */
const CSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

/** Remove terminal control sequences and carriage returns. */
export function plainText(s: string): string {
  return s.replace(CSI, '').replace(/\r/g, '');
}

/** Single-quote a string for sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Wrap a command so that its output and exit status can be cut out of the
 * console stream. The markers are written with octal escapes, so the shell's
 * echo of the typed line never contains them; only the command's run does.
 * The command goes through eval so that `cmd &` and `a; b` work unchanged.
 */
export function execLine(id: number, command: string): string {
  if (/[\r\n]/.test(command)) throw new Error('exec takes a single line (no newlines)');
  return `printf '\\036HVX-B ${id}\\n'; eval ${shQuote(command)}; printf '\\036HVX-E ${id} %d\\n' $?\n`;
}

/** Find the framed result of exec id in text; null while incomplete. */
export function parseExec(id: number, text: string): { output: string; status: number; end: number } | null {
  const begin = text.indexOf(`\x1eHVX-B ${id}\n`);
  if (begin < 0) return null;
  const endRe = new RegExp(`\\x1eHVX-E ${id} (\\d+)\\n`, 'g');
  endRe.lastIndex = begin;
  const m = endRe.exec(text);
  if (!m) return null;
  const output = text.slice(begin + `\x1eHVX-B ${id}\n`.length, m.index);
  return { output, status: Number(m[1]), end: m.index + m[0].length };
}

/** The last `limit` characters of a console, with line endings normalised. */
export class Transcript {
  private text = '';
  /** Characters dropped from the front so far (positions stay absolute). */
  private dropped = 0;
  private readonly decoder = new TextDecoder();

  constructor(private readonly limit = 1 << 20) {}

  append(bytes: Uint8Array): void {
    this.text += plainText(this.decoder.decode(bytes, { stream: true }));
    if (this.text.length > this.limit * 2) {
      const cut = this.text.length - this.limit;
      this.text = this.text.slice(cut);
      this.dropped += cut;
    }
  }

  /** Absolute position of the end of the transcript. */
  get end(): number {
    return this.dropped + this.text.length;
  }

  /** Text from absolute position `from` (or as much of it as is kept). */
  since(from: number): string {
    return this.text.slice(Math.max(0, from - this.dropped));
  }

  /** The last n lines, for error messages. */
  tail(lines = 5): string {
    return this.text.split('\n').slice(-lines).join('\n').trim();
  }
}
