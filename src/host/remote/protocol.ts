// The one protocol between the page and the hypervisor's worker: the page
// sends calls (answered in order, each with its result or an HvError) and
// console input; the hypervisor sends batches (events, the VM list, the pool,
// settings and console output) at most once a frame, and flushes the pending
// batch before every answer, so a caller that awaited a command reads the
// state that command left.
import type { HvErrorJSON } from '../../core/errors.ts';
import type { VmResourcesInput } from '../../core/scheduler-types.ts';
import type { GuestImage } from '../../protocol/guest-api.ts';
import type { HostSettings, HvEvent, MemoryView, MirrorSpec, RemoteMigrationOptions, VmInfo, VmSpec } from '../hypervisor.ts';
import type { ForwardedCall, VmCommand } from '../host-api.ts';
import type { NetworkSpec } from '../net/networks.ts';
import type { RateLimit } from '../../core/net/token-bucket.ts';

/** What the hypervisor's worker needs to build a Hypervisor (URLs absolute: a worker resolves relative ones against its script). */
export interface RemoteEnv {
  images: GuestImage[];
  wasmUrl: string;
  standbyWorkers: number;
  /** The site's prebuilt templates folder, or null for none. */
  templatesUrl: string | null;
  /** Read the templates index at once (a lab will clone). */
  primeTemplates: boolean;
  /** Keep networks, VMs and snapshots in this IndexedDB database across reloads (the dashboard), or null (a lab, whose guests are its own). */
  persistIn?: string | null;
}

export interface RemoteInit {
  env: RemoteEnv;
  settings: Pick<HostSettings, 'pcpus' | 'memoryMiB'> & Partial<HostSettings>;
}

/** A call by VM id and boot: the boot a page-side guest handle stands for. */
export interface GuestRef {
  vmId: string;
  boot: number;
}

export type HvCall =
  | { op: 'createVm'; spec: VmSpec }
  | { op: VmCommand; id: string }
  | { op: 'setResources'; id: string; change: VmResourcesInput }
  | { op: 'setHost'; change: Partial<HostSettings> }
  | { op: 'exec'; id: string; command: string; timeoutMs?: number }
  | { op: 'guestExec'; guest: GuestRef; command: string; timeoutMs?: number }
  | { op: 'guestAgent'; guest: GuestRef; script: string; timeoutMs?: number }
  | { op: 'guestSearch'; guest: GuestRef; pattern: Uint8Array | string; maxHits?: number }
  | { op: 'createNetwork'; spec: NetworkSpec }
  | { op: 'deleteNetwork'; name: string }
  | { op: 'setNetwork'; id: string; network: string | null; trunk: string[] }
  | { op: 'addMirror'; spec: MirrorSpec }
  | { op: 'removeMirror'; name: string }
  | { op: 'setNicLimit'; id: string; limit: RateLimit | null }
  | { op: 'networkView'; frames?: number }
  | { op: 'startCapture' | 'stopCapture'; network: string }
  | { op: 'capturePcapng'; network: string; vm?: string }
  | { op: 'takeSnapshot'; id: string; name: string }
  | { op: 'snapshots'; vmId?: string }
  | { op: 'revertSnapshot' | 'deleteSnapshot' | 'exportSnapshot'; snapshotId: string }
  | { op: 'importSnapshot'; file: Uint8Array; vm?: string }
  | { op: 'restoreSaved' | 'suspendAll' | 'resumeSuspended' | 'storageInfo' }
  /** A call of HostApi FORWARDED_CALLS, with its arguments as given. */
  | { op: 'forward'; call: ForwardedCall; args: unknown[] }
  | { op: 'migrateVia'; id: string; channel: string; options: RemoteMigrationOptions }
  | { op: 'acceptMigrations'; channel: string | null; purpose?: string }
  | { op: 'prepareTemplates'; guests: { image?: string; memoryMiB: number; mtu?: number }[] }
  | { op: 'standbyReady' }
  | { op: 'workerCounts' }
  | { op: 'dispose' };

export type PageMessage =
  | { kind: 'init'; init: RemoteInit }
  | { kind: 'call'; seq: number; call: HvCall }
  | { kind: 'input'; guest: GuestRef; data: Uint8Array }
  | { kind: 'resize'; vmId: string; cols: number; rows: number };

/** A VM's current boot as the page's handles see it. */
export interface GuestState {
  vmId: string;
  boot: number;
  name: string;
  destroyed: boolean;
}

export interface Batch {
  kind: 'batch';
  events: HvEvent[];
  /** Present when something changed since the last batch. */
  vms?: VmInfo[];
  memory?: MemoryView;
  settings?: HostSettings;
  guests?: GuestState[];
  /** Console output since the last batch, one chunk per boot. */
  console: { guest: GuestRef; bytes: Uint8Array }[];
}

export type HvMessage =
  | { kind: 'hello'; timeOrigin: number; settings: HostSettings; memory: MemoryView; vms: VmInfo[] }
  | { kind: 'init-failed'; error: HvErrorJSON }
  | Batch
  | { kind: 'reply'; seq: number; ok: true; value: unknown }
  | { kind: 'reply'; seq: number; ok: false; error: HvErrorJSON };

/** Guest workers the hypervisor's worker has started and terminated (tests read them). */
export interface WorkerCounts {
  started: number;
  terminated: number;
}
