import { describe, expect, it } from 'vitest';
import { decodeSnapshotFile, encodeSnapshot, encodeSnapshotFile, snapshotMismatch, SNAPSHOT_FORMAT_VERSION, type SnapshotHeader } from './file.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const HEADER: Omit<SnapshotHeader, 'payloadBytes'> = {
  name: 'before-upgrade',
  vm: 'web1',
  takenAt: 1_780_000_000_000,
  image: { id: 'hv', kernelSha256: A, initrdSha256: A, biosSha256: A },
  memoryMiB: 128,
  nic: 'virtio',
  mac: '02:00:00:12:34:56',
  clockMs: 5123.5,
  ready: { name: 'web1', memKiB: 120_000, kernel: '6.1.0-hv' },
  codec: 'zstd',
  stateBytes: 12_000_000,
};
const PAYLOAD = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 255);

describe('snapshot files', () => {
  it('round-trips header and payload', () => {
    const file = encodeSnapshotFile(HEADER, PAYLOAD);
    const { header, payload } = decodeSnapshotFile(file);
    expect(header).toEqual({ ...HEADER, payloadBytes: PAYLOAD.length });
    expect([...payload]).toEqual([...PAYLOAD]);
  });

  it('gives, with the file it writes, the header and payload that decoding it gives', () => {
    const made = encodeSnapshot(HEADER, PAYLOAD);
    const decoded = decodeSnapshotFile(made.file);
    expect(made.header).toEqual(decoded.header);
    expect(made.payload.byteOffset).toBe(decoded.payload.byteOffset);
    expect([...made.payload]).toEqual([...PAYLOAD]);
  });

  it('refuses any single flipped byte, naming the checksum (or the magic, or the version)', () => {
    const file = encodeSnapshotFile(HEADER, PAYLOAD);
    for (let at = 0; at < file.length; at += 97) {
      const bent = file.slice();
      bent[at]! ^= 0x10;
      expect(() => decodeSnapshotFile(bent), `byte ${at}`).toThrow(/not a usable snapshot file: (it does not begin with HVSNAP|it is format version|its SHA-256 checksum does not match|it is cut short|it has \d+ bytes after|its header claims)/);
    }
  });

  // [what, the file, the message]
  const broken: [string, (f: Uint8Array) => Uint8Array, RegExp][] = [
    ['another kind of file', () => new TextEncoder().encode('PK\x03\x04 a zip'), /does not begin with HVSNAP/],
    ['an empty file', () => new Uint8Array(0), /does not begin with HVSNAP/],
    ['a file cut in its payload', (f) => f.subarray(0, f.length - 100), /cut short \(\d+ of \d+ bytes\)/],
    ['a file cut in its header', (f) => f.subarray(0, 30), /cut short/],
    ['bytes after the end', (f) => new Uint8Array([...f, 0, 0]), /2 bytes after its end/],
    [
      'a newer format',
      (f) => {
        const g = f.slice();
        new DataView(g.buffer).setUint16(8, SNAPSHOT_FORMAT_VERSION + 1);
        return g;
      },
      /format version 2, newer than this playground reads \(1\)/,
    ],
  ];
  it.each(broken)('refuses %s with a clear error', (_, make, message) => {
    expect(() => decodeSnapshotFile(make(encodeSnapshotFile(HEADER, PAYLOAD)))).toThrow(message);
  });

  it('refuses a header that is not this format, even with a right checksum', () => {
    const file = encodeSnapshotFile({ ...HEADER, memoryMiB: -1 }, PAYLOAD);
    expect(() => decodeSnapshotFile(file)).toThrow(/its header at memoryMiB: /);
  });

  it('says why a snapshot does not fit a VM', () => {
    const header = { ...HEADER, payloadBytes: 1 };
    const target = { image: header.image, memoryMiB: 128, nic: 'virtio' as const, mtu: 1500 };
    expect(snapshotMismatch(header, target)).toBeNull();
    expect(snapshotMismatch(header, { ...target, memoryMiB: 96 })).toMatch(/a 128 MiB guest, not 96 MiB/);
    expect(snapshotMismatch(header, { ...target, image: { ...header.image, id: 'debian' } })).toMatch(/image "hv", not "debian"/);
    expect(snapshotMismatch(header, { ...target, image: { ...header.image, kernelSha256: B } })).toMatch(/other files of image "hv"/);
    expect(snapshotMismatch(header, { ...target, nic: null })).toMatch(/NIC virtio, not none/);
    expect(snapshotMismatch(header, { ...target, mtu: 9000 })).toMatch(/its NIC has an MTU of 1500, the VM's network 9000/);
    expect(snapshotMismatch({ ...header, mtu: 9000 }, { ...target, mtu: 9000 })).toBeNull();
  });
});
