import { describe, expect, it } from 'vitest';
import { FramePacker, packFrames, unpackFrames } from './frame-batch.ts';

const frame = (length: number, fill: number) => new Uint8Array(length).fill(fill);

describe('frame batches', () => {
  it('unpack gives back the frames packed, in order, byte for byte', () => {
    const frames = [frame(60, 1), frame(1514, 2), frame(0, 3), frame(9018, 4)];
    const got = unpackFrames(packFrames(frames)!);
    expect(got.map((f) => f.length)).toEqual([60, 1514, 0, 9018]);
    got.forEach((f, i) => expect(f).toEqual(frames[i]));
  });

  it('copies each frame as it is pushed: a buffer reused by its sender after push does not change the batch', () => {
    const packer = new FramePacker(16);
    const reused = frame(10, 7);
    packer.push(reused);
    reused.fill(9);
    packer.push(reused); // grows past 16 bytes
    const [a, b] = unpackFrames(packer.take()!);
    expect(a).toEqual(frame(10, 7));
    expect(b).toEqual(frame(10, 9));
  });

  it('take starts a new buffer, so a batch transferred away leaves the packer usable', () => {
    const packer = new FramePacker(64);
    packer.push(frame(20, 1));
    const first = packer.take()!;
    structuredClone(first, { transfer: [first.bytes] }); // detaches it, as postMessage does
    expect(packer.take()).toBeNull();
    packer.push(frame(30, 2));
    expect(packer.size).toBe(1);
    expect(unpackFrames(packer.take()!)).toEqual([frame(30, 2)]);
  });

  it('starts each batch at its initial size again after one that grew', () => {
    const packer = new FramePacker(100);
    for (let i = 0; i < 10; i++) packer.push(frame(60, i));
    expect(packer.take()!.bytes.byteLength).toBeGreaterThanOrEqual(600);
    packer.push(frame(60, 1));
    expect(packer.take()!.bytes.byteLength).toBe(100);
  });

  it('packs nothing into no batch', () => {
    expect(packFrames([])).toBeNull();
  });

  it('a batch whose lengths overrun its buffer gives only the frames that fit', () => {
    const batch = packFrames([frame(10, 1), frame(10, 2)])!;
    expect(unpackFrames({ bytes: batch.bytes, lengths: [10, 10, 5] })).toHaveLength(2);
    expect(unpackFrames({ bytes: batch.bytes, lengths: [10, -1, 5] })).toHaveLength(1);
    expect(unpackFrames({ bytes: batch.bytes, lengths: [25] })).toHaveLength(0);
  });
});
