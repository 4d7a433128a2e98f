// Snapshots the user keeps: per VM, by name, each held as the file it
// downloads as (src/core/snapshot/file.ts: a header, the zstd-compressed v86
// state, a SHA-256), so that a download is a copy and an upload goes through
// the same checks as any file. They live in the hypervisor's memory: a page
// reload loses them (download them to keep them).
import { HvError } from '../../core/errors.ts';
import { decodeSnapshotFile, encodeSnapshot, type SnapshotHeader } from '../../core/snapshot/file.ts';
import { NAME_RULE, VM_NAME_RE } from '../../core/vm-name.ts';

export interface SnapshotInfo {
  id: string;
  name: string;
  /** The VM it belongs to (id and name). */
  vmId: string;
  vm: string;
  /** When it was taken, ms since 1970. */
  takenAt: number;
  image: string;
  memoryMiB: number;
  mac: string | null;
  /** The file's size, and the state's before compression, bytes. */
  bytes: number;
  stateBytes: number;
  /** How long taking it took (save and compress), ms; null for an uploaded one. */
  takeMs: number | null;
}

interface Held {
  info: SnapshotInfo;
  header: SnapshotHeader;
  file: Uint8Array;
  payload: Uint8Array;
}

export class SnapshotStore {
  private readonly held = new Map<string, Held>();
  private nextId = 1;

  /** Keep a snapshot of VM `vmId` from its header and compressed state. */
  add(vmId: string, header: Omit<SnapshotHeader, 'payloadBytes'>, payload: Uint8Array, takeMs: number): SnapshotInfo {
    this.checkName(vmId, header.vm, header.name);
    // Its checksum is computed once, here: checking the file just written would cost as much again.
    const made = encodeSnapshot(header, payload);
    return this.keep(vmId, made.file, takeMs, undefined, made);
  }

  /** Keep an uploaded file for VM `vmId` (named `vmName`) after every check of its format; `fits` says why it cannot restore there, or null. */
  addFile(vmId: string, vmName: string, file: Uint8Array, fits: (header: SnapshotHeader) => string | null): SnapshotInfo {
    const { header } = decodeSnapshotFile(file);
    const why = fits(header);
    if (why) throw new HvError('invalid-argument', `snapshot ${header.name} cannot restore into ${vmName}: ${why}`, { snapshot: header.name, vm: vmName });
    this.checkName(vmId, vmName, header.name);
    return this.keep(vmId, file.slice(), null, vmName);
  }

  list(vmId?: string): SnapshotInfo[] {
    return [...this.held.values()].filter((h) => vmId === undefined || h.info.vmId === vmId).map((h) => ({ ...h.info }));
  }

  get(id: string): { info: SnapshotInfo; header: SnapshotHeader; payload: Uint8Array } {
    const h = this.held.get(id);
    if (!h) throw new HvError('not-found', `there is no snapshot with id ${id}`, { snapshot: id });
    return { info: { ...h.info }, header: h.header, payload: h.payload };
  }

  /** The file to download (a copy). */
  file(id: string): Uint8Array {
    this.get(id);
    return this.held.get(id)!.file.slice();
  }

  remove(id: string): void {
    this.get(id);
    this.held.delete(id);
  }

  /** Forget a VM's snapshots (the VM is gone). */
  removeVm(vmId: string): void {
    for (const [id, h] of this.held) if (h.info.vmId === vmId) this.held.delete(id);
  }

  /** Refuse a name that is not valid or that VM `vmId` has a snapshot of already. */
  checkName(vmId: string, vmName: string, name: string): void {
    if (!VM_NAME_RE.test(name)) throw new HvError('invalid-argument', `snapshot name "${name}" is not valid: ${NAME_RULE}`, { name });
    if ([...this.held.values()].some((h) => h.info.vmId === vmId && h.info.name === name)) {
      throw new HvError('duplicate-name', `${vmName} has a snapshot named ${name} already`, { name });
    }
  }

  private keep(vmId: string, file: Uint8Array, takeMs: number | null, vmName?: string, parts?: { header: SnapshotHeader; payload: Uint8Array }): SnapshotInfo {
    const { header, payload } = parts ?? decodeSnapshotFile(file);
    const info: SnapshotInfo = {
      id: `snap${this.nextId++}`,
      name: header.name,
      vmId,
      vm: vmName ?? header.vm,
      takenAt: header.takenAt,
      image: header.image.id,
      memoryMiB: header.memoryMiB,
      mac: header.mac,
      bytes: file.length,
      stateBytes: header.stateBytes,
      takeMs,
    };
    this.held.set(info.id, { info, header, file, payload });
    return { ...info };
  }
}
