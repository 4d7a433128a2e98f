import { describe, expect, it } from 'vitest';
import { FakeTimers } from '../host/fake-timers.test-helper.ts';
import { BURST_BYTES, ConsolePacer, FLOOD_INTERVAL_MS, tailLines } from './console-pacer.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

function paced(keep = 100) {
  const timers = new FakeTimers();
  const batches: string[] = [];
  const pacer = new ConsolePacer((b) => batches.push(dec.decode(b)), () => keep, timers);
  return { timers, batches, pacer };
}

describe('tailLines', () => {
  const chunks = (...s: string[]) => s.map((x) => enc.encode(x));
  const tail = (lines: number, ...s: string[]) => {
    const c = chunks(...s);
    return dec.decode(tailLines(c, c.reduce((n, x) => n + x.byteLength, 0), lines));
  };

  it('keeps the last lines, a final line feed ending the last line', () => {
    expect(tail(2, 'a\nb\nc\n')).toBe('b\nc\n');
    expect(tail(2, 'a\nb\nc')).toBe('b\nc');
    expect(tail(1, 'a\nb\n')).toBe('b\n');
  });

  it('keeps everything when there are no more lines than asked', () => {
    expect(tail(3, 'a\nb\nc\n')).toBe('a\nb\nc\n');
    expect(tail(5, 'no line feed')).toBe('no line feed');
  });

  it('gives back a short single chunk itself, uncopied', () => {
    const c = enc.encode('$ ls\r\n');
    expect(tailLines([c], c.byteLength, 100)).toBe(c);
  });

  it('cuts across chunk boundaries', () => {
    expect(tail(2, 'one\ntw', 'o\nthr', 'ee\n')).toBe('two\nthree\n');
    expect(tail(2, 'x\n', '\n', 'y\n')).toBe('\ny\n');
  });
});

describe('ConsolePacer', () => {
  it('writes ordinary output at once, chunk by chunk', () => {
    const { batches, pacer } = paced();
    pacer.push(enc.encode('$ '));
    pacer.push(enc.encode('ls\r\n'));
    expect(batches).toEqual(['$ ', 'ls\r\n']);
  });

  it('batches a flood a few times a second, keeping the lines the terminal can show', async () => {
    const { timers, batches, pacer } = paced(10);
    const big = 'y\n'.repeat(BURST_BYTES); // more than a burst: the next batch waits
    pacer.push(enc.encode(big));
    expect(batches).toHaveLength(1);
    expect(batches[0]).toBe('y\n'.repeat(10));
    // 50 chunks arrive over the next 90 ms: nothing is written yet ...
    for (let i = 0; i < 50; i++) {
      pacer.push(enc.encode(`line ${i}\n`));
      await timers.advance(1.8);
    }
    expect(batches).toHaveLength(1);
    // ... then one batch at FLOOD_INTERVAL_MS with their last 10 lines.
    await timers.advance(FLOOD_INTERVAL_MS);
    expect(batches).toHaveLength(2);
    expect(batches[1]).toBe(Array.from({ length: 10 }, (_, k) => `line ${40 + k}\n`).join(''));
    expect(pacer.droppedBytes).toBe(enc.encode(big).byteLength - 20 + Array.from({ length: 40 }, (_, k) => `line ${k}\n`).join('').length);
  });

  it('goes back to writing at once when the flood ends', async () => {
    const { timers, batches, pacer } = paced();
    pacer.push(new Uint8Array(BURST_BYTES + 1).fill(0x41));
    await timers.advance(FLOOD_INTERVAL_MS + 1);
    pacer.push(enc.encode('x'));
    expect(batches).toHaveLength(2);
    pacer.push(enc.encode('y'));
    expect(batches).toEqual([expect.any(String), 'x', 'y']);
  });

  it('writes nothing after dispose', async () => {
    const { timers, batches, pacer } = paced();
    pacer.push(new Uint8Array(BURST_BYTES + 1).fill(0x41));
    pacer.push(enc.encode('late'));
    pacer.dispose();
    await timers.advance(1000);
    pacer.push(enc.encode('later'));
    expect(batches).toHaveLength(1);
  });
});
