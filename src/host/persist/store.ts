// What the dashboard keeps across page reloads: networks, VM definitions,
// snapshots (as their files), booted templates (zstd states), volumes (each written block a record, so a
// flush writes only what changed) and base images. IndexedDB (through idb, a thin promise layer
// over it) rather than OPFS: the data are a few records and files of a few
// MiB, looked up by key, and IndexedDB works in the hypervisor's worker in
// every browser, where OPFS's synchronous handles are Chromium's and Safari's
// worker-only API. Storage that is denied (some private windows) or full is
// an error with that reason; the hypervisor goes on without it.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { NetworkSpec } from '../net/networks.ts';
import type { VmSpec } from '../hypervisor.ts';
import type { SavedVolume } from '../storage/volumes.ts';
import { DISK_BLOCK_BYTES, type OverlayBlocks } from '../../core/storage/blocks.ts';
import type { TemplateKey } from '../templates.ts';

/** A VM as kept: the spec it is created again from (its name is the key). */
export type SavedVm = Omit<VmSpec, 'memoryMiB'> & { memoryMiB: number };

export interface SavedSnapshot {
  /** The VM's name and the snapshot's: the key. */
  vm: string;
  name: string;
  /** The snapshot file (src/core/snapshot/file.ts). */
  file: Uint8Array;
}

/** A booted template as kept: its key, its state (zstd, as v86 restores it), the clock it was saved at. */
export interface SavedTemplate {
  /** templateSlot(key): the record's key. */
  slot: string;
  key: TemplateKey;
  state: Uint8Array;
  clockMs: number;
  bootMs: number;
  savedAt: number;
}

export interface SavedWorld {
  networks: NetworkSpec[];
  vms: SavedVm[];
  snapshots: SavedSnapshot[];
  bases: { name: string; bytes: Uint8Array }[];
  volumes: { volume: SavedVolume; blocks: OverlayBlocks }[];
}

/** Where the hypervisor keeps what survives a reload. */
export interface Persistence {
  load(): Promise<SavedWorld>;
  putNetwork(spec: NetworkSpec): Promise<void>;
  deleteNetwork(name: string): Promise<void>;
  putVm(vm: SavedVm): Promise<void>;
  /** A VM and its snapshots. */
  deleteVm(name: string): Promise<void>;
  putSnapshot(s: SavedSnapshot): Promise<void>;
  deleteSnapshot(vm: string, name: string): Promise<void>;
  putBase(name: string, bytes: Uint8Array): Promise<void>;
  deleteBase(name: string): Promise<void>;
  /** A volume's description (its snapshots included); its blocks go with putBlocks. */
  putVolume(v: SavedVolume): Promise<void>;
  /** Blocks written to a volume (they replace the ones kept). */
  putBlocks(volume: string, blocks: OverlayBlocks): Promise<void>;
  /** Replace all of a volume's blocks (a revert). */
  replaceBlocks(volume: string, blocks: OverlayBlocks): Promise<void>;
  /** A volume and its blocks. */
  deleteVolume(name: string): Promise<void>;
  /** A booted template by its slot, or null (read when a clone needs it, not with load()). */
  getTemplate(slot: string): Promise<SavedTemplate | null>;
  putTemplate(t: SavedTemplate): Promise<void>;
  deleteTemplate(slot: string): Promise<void>;
  /** Bytes this origin stores, and how many it may (null: the browser does not say). */
  usage(): Promise<{ usedBytes: number; quotaBytes: number | null }>;
}

interface Schema extends DBSchema {
  networks: { key: string; value: NetworkSpec };
  vms: { key: string; value: SavedVm };
  snapshots: { key: [string, string]; value: SavedSnapshot; indexes: { vm: string } };
  bases: { key: string; value: { name: string; bytes: Uint8Array } };
  volumes: { key: string; value: SavedVolume };
  blocks: { key: [string, number]; value: { volume: string; block: number; data: Uint8Array }; indexes: { volume: string } };
  templates: { key: string; value: SavedTemplate };
}

/** 1: networks, VMs, snapshots; 2: base images, volumes and their blocks; 3: booted templates. */
const VERSION = 3;

/** What a storage failure means to the user (QuotaExceededError, a denied open). */
export function storageProblem(err: unknown): string {
  const name = (err as { name?: string } | null)?.name ?? '';
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'QuotaExceededError') return `the browser's storage for this site is full (${message}): delete snapshots or VMs, or download them`;
  if (name === 'SecurityError' || name === 'InvalidStateError') return `the browser does not let this page store data (${message}; a private window?)`;
  return message || name || 'unknown storage error';
}

/** The IndexedDB database `name`, opened on first use (tests install fake-indexeddb as the global one). */
export function indexedDbStore(name = 'hv-playground'): Persistence {
  let db: Promise<IDBPDatabase<Schema>> | null = null;
  const open = (): Promise<IDBPDatabase<Schema>> => {
    if (typeof indexedDB === 'undefined') return Promise.reject(Object.assign(new Error('IndexedDB is not available here'), { name: 'InvalidStateError' }));
    db ??= openDB<Schema>(name, VERSION, {
      upgrade(d, oldVersion) {
        if (oldVersion < 1) {
          d.createObjectStore('networks', { keyPath: 'name' });
          d.createObjectStore('vms', { keyPath: 'name' });
          d.createObjectStore('snapshots', { keyPath: ['vm', 'name'] }).createIndex('vm', 'vm');
        }
        if (oldVersion < 2) {
          d.createObjectStore('bases', { keyPath: 'name' });
          d.createObjectStore('volumes', { keyPath: 'name' });
          d.createObjectStore('blocks', { keyPath: ['volume', 'block'] }).createIndex('volume', 'volume');
        }
        if (oldVersion < 3) d.createObjectStore('templates', { keyPath: 'slot' });
      },
    }).catch((err: unknown) => {
      db = null; // a later call tries again
      throw err;
    });
    return db;
  };
  return {
    async load() {
      const d = await open();
      const [networks, vms, snapshots, bases, saved] = await Promise.all([
        d.getAll('networks'),
        d.getAll('vms'),
        d.getAll('snapshots'),
        d.getAll('bases'),
        d.getAll('volumes'),
      ]);
      const volumes = await Promise.all(
        saved.map(async (volume) => ({ volume, blocks: packBlocks(await d.getAllFromIndex('blocks', 'volume', volume.name)) })),
      );
      return { networks, vms, snapshots, bases, volumes };
    },
    async putNetwork(spec) {
      await (await open()).put('networks', spec);
    },
    async deleteNetwork(n) {
      await (await open()).delete('networks', n);
    },
    async putVm(vm) {
      await (await open()).put('vms', vm);
    },
    async deleteVm(vm) {
      const d = await open();
      const tx = d.transaction(['vms', 'snapshots'], 'readwrite');
      const snaps = tx.objectStore('snapshots');
      const keys = await snaps.index('vm').getAllKeys(vm);
      await Promise.all([tx.objectStore('vms').delete(vm), ...keys.map((k) => snaps.delete(k)), tx.done]);
    },
    async putSnapshot(s) {
      await (await open()).put('snapshots', s);
    },
    async deleteSnapshot(vm, n) {
      await (await open()).delete('snapshots', [vm, n]);
    },
    async putBase(n, bytes) {
      await (await open()).put('bases', { name: n, bytes });
    },
    async deleteBase(n) {
      await (await open()).delete('bases', n);
    },
    async putVolume(v) {
      await (await open()).put('volumes', v);
    },
    async putBlocks(volume, o) {
      await writeBlocks(await open(), volume, o, false);
    },
    async replaceBlocks(volume, o) {
      await writeBlocks(await open(), volume, o, true);
    },
    async deleteVolume(n) {
      const d = await open();
      const tx = d.transaction(['volumes', 'blocks'], 'readwrite');
      const blocks = tx.objectStore('blocks');
      const keys = await blocks.index('volume').getAllKeys(n);
      await Promise.all([tx.objectStore('volumes').delete(n), ...keys.map((k) => blocks.delete(k)), tx.done]);
    },
    async getTemplate(slot) {
      return (await (await open()).get('templates', slot)) ?? null;
    },
    async putTemplate(t) {
      await (await open()).put('templates', t);
    },
    async deleteTemplate(slot) {
      await (await open()).delete('templates', slot);
    },
    async usage() {
      const estimate = typeof navigator !== 'undefined' && navigator.storage?.estimate ? await navigator.storage.estimate() : null;
      if (estimate) return { usedBytes: estimate.usage ?? 0, quotaBytes: estimate.quota ?? null };
      // No estimate (Node): the snapshot files are nearly all of it.
      const snaps = await (await open()).getAll('snapshots');
      return { usedBytes: snaps.reduce((n, s) => n + s.file.length, 0), quotaBytes: null };
    },
  };
}

/** A volume's blocks into the store, in one transaction; `replace`: its blocks kept before go first. */
async function writeBlocks(d: IDBPDatabase<Schema>, volume: string, o: OverlayBlocks, replace: boolean): Promise<void> {
  const tx = d.transaction('blocks', 'readwrite');
  if (replace) {
    const keys = await tx.store.index('volume').getAllKeys(volume);
    await Promise.all(keys.map((k) => tx.store.delete(k)));
  }
  const puts = Array.from(o.blocks, (block, i) => tx.store.put({ volume, block, data: o.data.slice(i * DISK_BLOCK_BYTES, (i + 1) * DISK_BLOCK_BYTES) }));
  await Promise.all([...puts, tx.done]);
}

/** Block records (any order) in travelling form. */
function packBlocks(records: { block: number; data: Uint8Array }[]): OverlayBlocks {
  const sorted = [...records].sort((a, b) => a.block - b.block);
  const data = new Uint8Array(sorted.length * DISK_BLOCK_BYTES);
  sorted.forEach((r, i) => data.set(r.data, i * DISK_BLOCK_BYTES));
  return { blocks: Uint32Array.from(sorted, (r) => r.block), data };
}
