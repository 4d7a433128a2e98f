// A VM snapshot as a file: what a user downloads, keeps and uploads again.
//
//   offset 0   8 bytes  magic "HVSNAP\r\n" (a text-mode copy mangles the CR LF)
//          8   u16 BE   format version (SNAPSHOT_FORMAT_VERSION)
//         10   u32 BE   header length H
//         14   H bytes  header, UTF-8 JSON (SnapshotHeader)
//     14 + H   P bytes  payload: the v86 state, zstd-compressed (header.payloadBytes)
//   14 + H + P 32 bytes SHA-256 of every byte before it
//
// decodeSnapshotFile refuses, with an error that names the problem, a file
// that is not a snapshot, one of a newer format, one cut short or with bytes
// after its end, one whose checksum does not match (any flipped byte), and
// one whose header is not what this format says. Whether the snapshot fits a
// VM (its images, RAM, NIC) is the host's question (snapshotFits).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import * as v from 'valibot';
import { HvError } from '../errors.ts';
import { utf8Decode, utf8Encode } from '../net/utf8.ts';
import { ETH_MTU } from '../net/ethernet.ts';

export const SNAPSHOT_MAGIC = new Uint8Array([0x48, 0x56, 0x53, 0x4e, 0x41, 0x50, 0x0d, 0x0a]); // HVSNAP\r\n
export const SNAPSHOT_FORMAT_VERSION = 1;
const FIXED = 14;
const SUM = 32;
/** A header longer than this is not one of ours. */
const MAX_HEADER = 64 * 1024;

const sha = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'));
const HeaderSchema = v.strictObject({
  /** The snapshot's name, and the VM it was taken of. */
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  vm: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  /** When it was taken, ms since 1970. */
  takenAt: v.pipe(v.number(), v.minValue(0)),
  /** What the state was made from: a state restores only into the same image files, RAM and NIC. */
  image: v.strictObject({ id: v.string(), kernelSha256: sha, initrdSha256: sha, biosSha256: sha }),
  memoryMiB: v.pipe(v.number(), v.integer(), v.minValue(1)),
  nic: v.nullable(v.picklist(['virtio', 'ne2k'])),
  /** The NIC's MTU when it was not 1500 (its guest's driver took it at boot). */
  mtu: v.optional(v.pipe(v.number(), v.integer(), v.minValue(68), v.maxValue(65535))),
  /** The guest's MAC address in the state (a revert keeps it), or null. */
  mac: v.nullable(v.pipe(v.string(), v.regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/))),
  /** The guest clock at the save (SavedState.clockMs). */
  clockMs: v.pipe(v.number(), v.minValue(0)),
  /** The guest's ready line when it was taken: name, RAM seen by the kernel, kernel release. */
  ready: v.nullable(v.strictObject({ name: v.string(), memKiB: v.number(), kernel: v.string() })),
  /** Volumes attached when it was taken, and the volume snapshot holding each one's blocks then (the state holds no disk). */
  volumes: v.optional(v.array(v.strictObject({ slot: v.picklist(['hda', 'hdb']), volume: v.string(), snapshot: v.string() }))),
  codec: v.literal('zstd'),
  /** The state's size before compression, and the payload's. */
  stateBytes: v.pipe(v.number(), v.integer(), v.minValue(1)),
  payloadBytes: v.pipe(v.number(), v.integer(), v.minValue(1)),
});

export type SnapshotHeader = v.InferOutput<typeof HeaderSchema>;

const bad = (what: string, detail: Record<string, unknown> = {}): HvError => new HvError('invalid-argument', `not a usable snapshot file: ${what}`, detail);

/** The file for a header and its payload (the header's payloadBytes is set from it). */
export function encodeSnapshotFile(header: Omit<SnapshotHeader, 'payloadBytes'>, payload: Uint8Array): Uint8Array {
  return encodeSnapshot(header, payload).file;
}

/** The file, and its header and payload (a view into it) as decodeSnapshotFile would give them, without checking again what was just written. */
export function encodeSnapshot(header: Omit<SnapshotHeader, 'payloadBytes'>, payload: Uint8Array): { file: Uint8Array; header: SnapshotHeader; payload: Uint8Array } {
  const full = { ...header, payloadBytes: payload.length } as SnapshotHeader;
  const json = utf8Encode(JSON.stringify(full));
  const file = new Uint8Array(FIXED + json.length + payload.length + SUM);
  const view = new DataView(file.buffer);
  file.set(SNAPSHOT_MAGIC, 0);
  view.setUint16(8, SNAPSHOT_FORMAT_VERSION);
  view.setUint32(10, json.length);
  file.set(json, FIXED);
  file.set(payload, FIXED + json.length);
  const end = file.length - SUM;
  file.set(sha256(file.subarray(0, end)), end);
  return { file, header: full, payload: file.subarray(FIXED + json.length, end) };
}

/** The header and payload (a view into `file`) of a snapshot file, or an HvError naming what is wrong with it. */
export function decodeSnapshotFile(file: Uint8Array): { header: SnapshotHeader; payload: Uint8Array } {
  if (file.length < SNAPSHOT_MAGIC.length || SNAPSHOT_MAGIC.some((b, i) => file[i] !== b)) {
    throw bad('it does not begin with HVSNAP (it is some other kind of file)');
  }
  if (file.length < FIXED) throw bad(`it is cut short (${file.length} bytes)`, { bytes: file.length });
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = view.getUint16(8);
  if (version > SNAPSHOT_FORMAT_VERSION) {
    throw bad(`it is format version ${version}, newer than this playground reads (${SNAPSHOT_FORMAT_VERSION}): open it with a newer version`, { version });
  }
  if (version < 1) throw bad(`format version ${version} does not exist`, { version });
  const headerBytes = view.getUint32(10);
  if (headerBytes > MAX_HEADER) throw bad(`its header claims ${headerBytes} bytes (at most ${MAX_HEADER})`, { headerBytes });
  if (file.length < FIXED + headerBytes + SUM) throw bad(`it is cut short (${file.length} bytes; the header alone needs ${FIXED + headerBytes + SUM})`, { bytes: file.length });
  let json: unknown;
  try {
    json = JSON.parse(utf8Decode(file.subarray(FIXED, FIXED + headerBytes)));
  } catch {
    json = undefined;
  }
  const payloadBytes = (json as { payloadBytes?: unknown } | undefined)?.payloadBytes;
  const expected = typeof payloadBytes === 'number' ? FIXED + headerBytes + payloadBytes + SUM : null;
  // Length before checksum: a cut file says so rather than "checksum".
  if (expected !== null && file.length < expected) throw bad(`it is cut short (${file.length} of ${expected} bytes)`, { bytes: file.length, expected });
  if (expected !== null && file.length > expected) throw bad(`it has ${file.length - expected} bytes after its end`, { bytes: file.length, expected });
  const end = file.length - SUM;
  const sum = bytesToHex(sha256(file.subarray(0, end)));
  if (sum !== bytesToHex(file.subarray(end))) throw bad('its SHA-256 checksum does not match (the file was changed or damaged)', {});
  const r = v.safeParse(HeaderSchema, json);
  if (!r.success) {
    const issue = r.issues[0]!;
    const path = v.getDotPath(issue);
    throw bad(`its header${path ? ` at ${path}` : ''}: ${issue.message}`, {});
  }
  return { header: r.output, payload: file.subarray(FIXED + headerBytes, end) };
}

/** Why a snapshot cannot restore into a VM of this image, RAM and NIC (null: it can). */
export function snapshotMismatch(header: SnapshotHeader, target: { image: SnapshotHeader['image']; memoryMiB: number; nic: SnapshotHeader['nic']; mtu: number }): string | null {
  const h = header.image;
  const t = target.image;
  if (h.id !== t.id) return `it was taken of image "${h.id}", not "${t.id}"`;
  if (h.kernelSha256 !== t.kernelSha256 || h.initrdSha256 !== t.initrdSha256 || h.biosSha256 !== t.biosSha256) {
    return `it was taken with other files of image "${h.id}" (another build of its kernel, initramfs or BIOS)`;
  }
  if (header.memoryMiB !== target.memoryMiB) return `it was taken of a ${header.memoryMiB} MiB guest, not ${target.memoryMiB} MiB`;
  if (header.nic !== target.nic) return `it was taken with NIC ${header.nic ?? 'none'}, not ${target.nic ?? 'none'}`;
  if ((header.mtu ?? ETH_MTU) !== target.mtu) return `its NIC has an MTU of ${header.mtu ?? ETH_MTU}, the VM's network ${target.mtu} (attach the VM to a network of the snapshot's MTU)`;
  return null;
}
