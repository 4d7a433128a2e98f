// Where a student's lab progress is kept in the browser: localStorage, one key
// per lab URL. Storage can be missing or refused (private windows, blocked
// third-party storage in an iframe): then progress lives only as long as the
// page, and the lab says so.
import type { LabProgress } from '../../core/lab/progress.ts';

export interface ProgressStore {
  load(labUrl: string): unknown;
  /** Save; returns why it could not, or null. */
  save(progress: LabProgress): string | null;
  clear(labUrl: string): void;
}

const key = (labUrl: string): string => `hv-lab-progress:${labUrl}`;

export function localProgressStore(storage: Storage | null = safeLocalStorage()): ProgressStore {
  return {
    load(labUrl) {
      try {
        const text = storage?.getItem(key(labUrl));
        return text ? (JSON.parse(text) as unknown) : null;
      } catch {
        return { unreadable: true };
      }
    },
    save(progress) {
      if (!storage) return 'this browser gives the page no storage here, so progress lasts only until the page is closed';
      try {
        storage.setItem(key(progress.labUrl), JSON.stringify(progress));
        return null;
      } catch (err) {
        return `progress could not be saved (${(err as Error).message}); it lasts only until the page is closed`;
      }
    },
    clear(labUrl) {
      try {
        storage?.removeItem(key(labUrl));
      } catch {
        // nothing kept, nothing to clear
      }
    },
  };
}

function safeLocalStorage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // access itself throws where storage is blocked
  }
}
