// Volumes: the hypervisor's disks, like OpenStack's volumes or a datastore's
// virtual disks. A volume is a size, an optional base image (read-only,
// shared by every volume made from it) and its own overlay: the blocks
// written to it (src/core/storage/blocks.ts). Snapshots and clones copy the
// overlay, never the disk. A volume is attached to at most one VM, as IDE hda
// or hdb, while that VM is not running; its guest's worker gets the base and
// the overlay at boot and sends the blocks it writes back here.
import { HvError } from '../../core/errors.ts';
import { BlockMap, DISK_BLOCK_BYTES, type OverlayBlocks } from '../../core/storage/blocks.ts';
import { checkDiskImage, describeImageKind, parseVolumeSize, type DiskImageKind } from '../../core/storage/image-check.ts';
import { NAME_RULE, VM_NAME_RE } from '../../core/vm-name.ts';
import type { DiskSlot, DiskSpec } from '../../protocol/guest-api.ts';

export interface BaseImageInfo {
  name: string;
  bytes: number;
  kind: DiskImageKind;
  /** Volumes made from it. */
  volumes: string[];
}

export interface VolumeSnapshotInfo {
  name: string;
  takenAt: number;
  /** Blocks it holds (the overlay then), and their bytes. */
  blocks: number;
  bytes: number;
}

export interface VolumeInfo {
  name: string;
  /** The disk's size, bytes. */
  bytes: number;
  /** The base image it was made from, or null (it started empty). */
  base: string | null;
  /** Blocks written to it (its overlay), and their bytes: what it costs beyond its base. */
  usedBlocks: number;
  usedBytes: number;
  /** The VM it is attached to (by name) and where, or null. */
  attachedTo: { vm: string; slot: DiskSlot } | null;
  snapshots: VolumeSnapshotInfo[];
  createdAt: number;
}

export interface VolumeSpec {
  name: string;
  /** MiB or text ("64", "1 GiB"); default: the base's size. */
  size?: number | string;
  /** A base image's name: the volume starts as a copy of it. */
  base?: string | null;
}

/** A volume as persistence keeps it (its blocks are kept one by one beside it). */
export interface SavedVolume {
  name: string;
  bytes: number;
  base: string | null;
  createdAt: number;
  snapshots: { name: string; takenAt: number; overlay: OverlayBlocks }[];
}

interface Volume {
  name: string;
  bytes: number;
  base: string | null;
  overlay: BlockMap;
  attachedTo: { vm: string; slot: DiskSlot } | null;
  snapshots: Map<string, { takenAt: number; overlay: BlockMap }>;
  createdAt: number;
}

interface Base {
  name: string;
  bytes: Uint8Array;
  kind: DiskImageKind;
}

export class VolumeStore {
  private readonly volumes = new Map<string, Volume>();
  private readonly bases = new Map<string, Base>();

  list(): VolumeInfo[] {
    return [...this.volumes.values()].map(info);
  }

  get(name: string): VolumeInfo {
    return info(this.volume(name));
  }

  baseImages(): BaseImageInfo[] {
    return [...this.bases.values()].map((b) => ({
      name: b.name,
      bytes: b.bytes.length,
      kind: b.kind,
      volumes: [...this.volumes.values()].filter((v) => v.base === b.name).map((v) => v.name),
    }));
  }

  /** Keep an uploaded image as a base (checked: sectors, size, a known disk format). */
  addBase(name: string, bytes: Uint8Array, declaredBytes?: number): BaseImageInfo {
    checkName('base image', name);
    if (this.bases.has(name)) throw new HvError('duplicate-name', `a base image named ${name} exists already`, { name });
    if (!(bytes instanceof Uint8Array)) throw new HvError('invalid-argument', `an image upload must be the file's bytes`, { name });
    const kind = checkDiskImage(bytes, name, declaredBytes === undefined ? {} : { declaredBytes });
    this.bases.set(name, { name, bytes: bytes.slice(), kind });
    return this.baseImages().find((b) => b.name === name)!;
  }

  deleteBase(name: string): void {
    this.base(name);
    const users = [...this.volumes.values()].filter((v) => v.base === name).map((v) => v.name);
    if (users.length) throw new HvError('illegal-state', `base image ${name} is in use by ${users.join(', ')}: delete those volumes first`, { name, users });
    this.bases.delete(name);
  }

  /** The base's bytes (not copied). */
  baseBytes(name: string): Uint8Array {
    return this.base(name).bytes;
  }

  create(spec: VolumeSpec, createdAt = Date.now()): VolumeInfo {
    const name = String(spec.name ?? '').trim();
    this.checkNew(name);
    const base = spec.base ? this.base(spec.base) : null;
    const bytes = spec.size === undefined || spec.size === null ? base?.bytes.length : parseVolumeSize(spec.size);
    if (bytes === undefined) throw new HvError('invalid-argument', `volume ${name} needs a size or a base image`, { name });
    if (base && bytes < base.bytes.length) {
      throw new HvError('invalid-argument', `volume ${name}: ${bytes} bytes is smaller than its base image ${base.name} (${base.bytes.length} bytes)`, { name });
    }
    const v: Volume = { name, bytes, base: base?.name ?? null, overlay: new BlockMap(), attachedTo: null, snapshots: new Map(), createdAt };
    this.volumes.set(name, v);
    return info(v);
  }

  /** A new volume with the same base and a copy of the overlay: its own disk from now on. */
  clone(from: string, name: string, createdAt = Date.now()): VolumeInfo {
    const src = this.volume(from);
    this.checkNew(name);
    const v: Volume = { name, bytes: src.bytes, base: src.base, overlay: src.overlay.copy(), attachedTo: null, snapshots: new Map(), createdAt };
    this.volumes.set(name, v);
    return info(v);
  }

  delete(name: string): void {
    const v = this.volume(name);
    if (v.attachedTo) throw new HvError('illegal-state', `volume ${name} is attached to ${v.attachedTo.vm}: detach it first`, { name });
    this.volumes.delete(name);
  }

  /** Keep the overlay as `snapshot`; a VM snapshot's own (`VM/NAME`, see vmSnapshotName) skips the name rule. */
  snapshot(name: string, snapshot: string, takenAt = Date.now()): VolumeSnapshotInfo {
    const v = this.volume(name);
    if (!isVmSnapshotName(snapshot)) checkName('volume snapshot', snapshot);
    if (v.snapshots.has(snapshot)) throw new HvError('duplicate-name', `volume ${name} has a snapshot named ${snapshot} already`, { name, snapshot });
    v.snapshots.set(snapshot, { takenAt, overlay: v.overlay.copy() });
    return info(v).snapshots.find((s) => s.name === snapshot)!;
  }

  /** Put the volume back to a snapshot (it must not be in use by a running guest: the caller checks). */
  revert(name: string, snapshot: string): void {
    const v = this.volume(name);
    const s = v.snapshots.get(snapshot);
    if (!s) throw new HvError('not-found', `volume ${name} has no snapshot named ${snapshot}`, { name, snapshot });
    v.overlay = s.overlay.copy();
  }

  deleteSnapshot(name: string, snapshot: string): void {
    const v = this.volume(name);
    if (!v.snapshots.delete(snapshot)) throw new HvError('not-found', `volume ${name} has no snapshot named ${snapshot}`, { name, snapshot });
  }

  attach(name: string, vm: string, slot: DiskSlot): void {
    const v = this.volume(name);
    if (v.attachedTo && (v.attachedTo.vm !== vm || v.attachedTo.slot !== slot)) {
      throw new HvError('illegal-state', `volume ${name} is attached to ${v.attachedTo.vm} already (${v.attachedTo.slot}): detach it first`, { name });
    }
    v.attachedTo = { vm, slot };
  }

  detach(name: string): void {
    this.volume(name).attachedTo = null;
  }

  /** The VM it is attached to was renamed or is gone. */
  detachFrom(vm: string): void {
    for (const v of this.volumes.values()) if (v.attachedTo?.vm === vm) v.attachedTo = null;
  }

  /** Blocks a guest wrote: they replace the volume's. */
  write(name: string, blocks: OverlayBlocks): void {
    const v = this.volumes.get(name);
    if (v) v.overlay.apply(blocks);
  }

  /** What a guest's worker needs for this volume: a copy of the base and of the overlay. */
  diskSpec(name: string, slot: DiskSlot): DiskSpec {
    const v = this.volume(name);
    return { slot, volume: v.name, bytes: v.bytes, base: v.base ? this.base(v.base).bytes.slice().buffer : null, overlay: v.overlay.encode() };
  }

  /** The whole disk as a raw image (base under overlay). */
  raw(name: string): Uint8Array {
    const v = this.volume(name);
    const out = new Uint8Array(v.bytes);
    if (v.base) out.set(this.base(v.base).bytes);
    for (const b of v.overlay.numbers()) {
      const at = b * DISK_BLOCK_BYTES;
      out.set(v.overlay.get(b)!.subarray(0, Math.min(DISK_BLOCK_BYTES, v.bytes - at)), at);
    }
    return out;
  }

  overlay(name: string): OverlayBlocks {
    return this.volume(name).overlay.encode();
  }

  /** For persistence: the volume without its blocks. */
  saved(name: string): SavedVolume {
    const v = this.volume(name);
    return {
      name: v.name,
      bytes: v.bytes,
      base: v.base,
      createdAt: v.createdAt,
      snapshots: [...v.snapshots].map(([n, s]) => ({ name: n, takenAt: s.takenAt, overlay: s.overlay.encode() })),
    };
  }

  /** Back from persistence. */
  load(saved: SavedVolume, blocks: OverlayBlocks): void {
    const v: Volume = {
      name: saved.name,
      bytes: saved.bytes,
      base: saved.base,
      overlay: BlockMap.decode(blocks),
      attachedTo: null,
      snapshots: new Map(saved.snapshots.map((s) => [s.name, { takenAt: s.takenAt, overlay: BlockMap.decode(s.overlay) }])),
      createdAt: saved.createdAt,
    };
    this.volumes.set(v.name, v);
  }

  loadBase(name: string, bytes: Uint8Array): void {
    const kind = checkDiskImage(bytes, name);
    this.bases.set(name, { name, bytes, kind });
  }

  describeBase(name: string): string {
    const b = this.base(name);
    return `${b.name} (${describeImageKind(b.kind)}, ${(b.bytes.length / 1024 ** 2).toFixed(1)} MiB)`;
  }

  /** A name a new volume may take: valid, and no volume's yet. */
  private checkNew(name: string): void {
    checkName('volume', name);
    if (this.volumes.has(name)) throw new HvError('duplicate-name', `a volume named ${name} exists already`, { name });
  }

  private volume(name: string): Volume {
    const v = this.volumes.get(name);
    if (!v) throw new HvError('not-found', `there is no volume named ${name}`, { name });
    return v;
  }

  private base(name: string): Base {
    const b = this.bases.get(name);
    if (!b) throw new HvError('not-found', `there is no base image named ${name}`, { name });
    return b;
  }
}

/** The volume snapshot that holds a volume's blocks for VM snapshot `snapshot` of `vm`. */
export function vmSnapshotName(vm: string, snapshot: string): string {
  return `${vm}/${snapshot}`;
}

function isVmSnapshotName(name: string): boolean {
  const [vm, snap, more] = name.split('/');
  return more === undefined && snap !== undefined && VM_NAME_RE.test(vm ?? '') && VM_NAME_RE.test(snap);
}

function checkName(what: string, name: string): void {
  if (!VM_NAME_RE.test(name)) throw new HvError('invalid-argument', `${what} name "${name}" is not valid: ${NAME_RULE}`, { name });
}

function info(v: Volume): VolumeInfo {
  return {
    name: v.name,
    bytes: v.bytes,
    base: v.base,
    usedBlocks: v.overlay.size,
    usedBytes: v.overlay.bytes,
    attachedTo: v.attachedTo ? { ...v.attachedTo } : null,
    snapshots: [...v.snapshots].map(([name, s]) => ({ name, takenAt: s.takenAt, blocks: s.overlay.size, bytes: s.overlay.bytes })),
    createdAt: v.createdAt,
  };
}
