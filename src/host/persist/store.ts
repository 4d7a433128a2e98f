// What the dashboard keeps across page reloads: networks, VM definitions and
// snapshots (as their files). IndexedDB (through idb, a thin promise layer
// over it) rather than OPFS: the data are a few records and files of a few
// MiB, looked up by key, and IndexedDB works in the hypervisor's worker in
// every browser, where OPFS's synchronous handles are Chromium's and Safari's
// worker-only API. Storage that is denied (some private windows) or full is
// an error with that reason; the hypervisor goes on without it.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { NetworkSpec } from '../net/networks.ts';
import type { VmSpec } from '../hypervisor.ts';

/** A VM as kept: the spec it is created again from (its name is the key). */
export type SavedVm = Omit<VmSpec, 'memoryMiB'> & { memoryMiB: number };

export interface SavedSnapshot {
  /** The VM's name and the snapshot's: the key. */
  vm: string;
  name: string;
  /** The snapshot file (src/core/snapshot/file.ts). */
  file: Uint8Array;
}

export interface SavedWorld {
  networks: NetworkSpec[];
  vms: SavedVm[];
  snapshots: SavedSnapshot[];
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
  /** Bytes this origin stores, and how many it may (null: the browser does not say). */
  usage(): Promise<{ usedBytes: number; quotaBytes: number | null }>;
}

interface Schema extends DBSchema {
  networks: { key: string; value: NetworkSpec };
  vms: { key: string; value: SavedVm };
  snapshots: { key: [string, string]; value: SavedSnapshot; indexes: { vm: string } };
}

const VERSION = 1;

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
      upgrade(d) {
        d.createObjectStore('networks', { keyPath: 'name' });
        d.createObjectStore('vms', { keyPath: 'name' });
        d.createObjectStore('snapshots', { keyPath: ['vm', 'name'] }).createIndex('vm', 'vm');
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
      const [networks, vms, snapshots] = await Promise.all([d.getAll('networks'), d.getAll('vms'), d.getAll('snapshots')]);
      return { networks, vms, snapshots };
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
    async usage() {
      const estimate = typeof navigator !== 'undefined' && navigator.storage?.estimate ? await navigator.storage.estimate() : null;
      if (estimate) return { usedBytes: estimate.usage ?? 0, quotaBytes: estimate.quota ?? null };
      // No estimate (Node): the snapshot files are nearly all of it.
      const snaps = await (await open()).getAll('snapshots');
      return { usedBytes: snaps.reduce((n, s) => n + s.file.length, 0), quotaBytes: null };
    },
  };
}
