// The hypervisor's side of the page protocol (protocol.ts): builds the
// Hypervisor when the page says how, runs the page's calls on it, and sends
// its events, state and console output to the page in batches. Console bytes
// are passed on as they came (the exec markers are found here, in Guest).
// Runs in the browser's hypervisor worker; tests run it in Node over a
// MessageChannel.
import { concatBytes } from '../../core/bytes.ts';
import { HvError } from '../../core/errors.ts';
import type { Guest } from '../guest.ts';
import type { Hypervisor, HvEvent } from '../hypervisor.ts';
import { FORWARDED_CALLS, VM_COMMANDS, type VmCommand } from '../host-api.ts';
import type { Batch, GuestRef, GuestState, HvCall, HvMessage, PageMessage, RemoteInit, WorkerCounts } from './protocol.ts';

/** A message port, a worker's global scope or a Node MessagePort. */
export interface Endpoint {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  start?(): void;
}

/** Batches go out at most this often (a frame): a quiet spell's first event leaves at once. */
export const BATCH_MS = 16;

interface Attached {
  boot: number;
  guest: Guest;
  off: () => void;
  /** What the page was last told of this boot. */
  sent: string | null;
}

export class HypervisorServer {
  private hv: Hypervisor | null = null;
  private initError: HvError | null = null;
  private events: HvEvent[] = [];
  private vmsChanged = false;
  private readonly attached = new Map<string, Attached>();
  private readonly boots = new Map<string, number>();
  private readonly output = new Map<string, { guest: GuestRef; chunks: Uint8Array[] }>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastFlush = -Infinity;
  private disposed = false;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly build: (init: RemoteInit) => Hypervisor,
    private readonly workerCounts: () => WorkerCounts | null = () => null,
  ) {
    endpoint.addEventListener('message', (e) => this.onMessage(e.data as PageMessage));
    endpoint.start?.();
  }

  private onMessage(m: PageMessage): void {
    switch (m.kind) {
      case 'init':
        return this.init(m.init);
      case 'call':
        void this.answer(m.seq, m.call);
        return;
      case 'input': {
        const a = this.attached.get(m.guest.vmId);
        if (a && a.boot === m.guest.boot && !a.guest.isDestroyed) a.guest.write(m.data);
        return;
      }
      case 'resize':
        try {
          this.hv?.resizeConsole(m.vmId, m.cols, m.rows);
        } catch (err) {
          // The VM went away while its pane measured itself: nothing to tell.
          if (HvError.from(err).code !== 'not-found') console.warn(`console size not applied: ${HvError.from(err).message}`);
        }
        return;
    }
  }

  private init(init: RemoteInit): void {
    try {
      const hv = this.build(init);
      this.hv = hv;
      hv.on((e) => this.onEvent(e));
      hv.onGuest((vmId, guest) => this.attach(vmId, guest));
      this.post({ kind: 'hello', timeOrigin: performance.timeOrigin, settings: hv.settings, memory: hv.memory, vms: hv.vms() });
    } catch (err) {
      this.initError = HvError.from(err);
      this.post({ kind: 'init-failed', error: this.initError.toJSON() });
    }
  }

  private async answer(seq: number, call: HvCall): Promise<void> {
    let reply: HvMessage;
    try {
      reply = { kind: 'reply', seq, ok: true, value: (await this.run(call)) ?? null };
    } catch (err) {
      reply = { kind: 'reply', seq, ok: false, error: HvError.from(err).toJSON() };
    }
    // What the call changed reaches the page before its answer.
    this.flush();
    this.post(reply);
  }

  private async run(call: HvCall): Promise<unknown> {
    const hv = this.hv;
    if (!hv) throw this.initError ?? new HvError('illegal-state', 'the hypervisor has not been set up', {});
    if (isVmCommand(call.op)) return hv[call.op]((call as { id: string }).id);
    switch (call.op) {
      case 'createVm':
        return hv.createVm(call.spec);
      case 'setResources':
        return hv.setResources(call.id, call.change);
      case 'setHost':
        return hv.setHost(call.change);
      case 'exec':
        return hv.exec(call.id, call.command, call.timeoutMs);
      case 'guestExec':
        return this.guestOf(call.guest).exec(call.command, call.timeoutMs);
      case 'guestAgent':
        return this.guestOf(call.guest).agent(call.script, call.timeoutMs);
      case 'guestSearch':
        return this.guestOf(call.guest).searchMemory(call.pattern, call.maxHits);
      case 'createNetwork':
        return hv.createNetwork(call.spec);
      case 'deleteNetwork':
        return hv.deleteNetwork(call.name);
      case 'setNetwork':
        return hv.setNetwork(call.id, call.network, call.trunk);
      case 'addMirror':
        return hv.addMirror(call.spec);
      case 'removeMirror':
        return hv.removeMirror(call.name);
      case 'setNicLimit':
        return hv.setNicLimit(call.id, call.limit);
      case 'networkView':
        return hv.networkView(call.frames);
      case 'startCapture':
        return hv.startCapture(call.network);
      case 'stopCapture':
        return hv.stopCapture(call.network);
      case 'capturePcapng':
        return hv.capturePcapng(call.network, call.vm);
      case 'takeSnapshot':
        return hv.takeSnapshot(call.id, call.name);
      case 'snapshots':
        return hv.snapshots(call.vmId);
      case 'revertSnapshot':
        return hv.revertSnapshot(call.snapshotId);
      case 'deleteSnapshot':
        return hv.deleteSnapshot(call.snapshotId);
      case 'exportSnapshot':
        return hv.exportSnapshot(call.snapshotId);
      case 'importSnapshot':
        return hv.importSnapshot(call.file, call.vm);
      case 'restoreSaved':
        return hv.restoreSaved();
      case 'suspendAll':
        return hv.suspendAll();
      case 'resumeSuspended':
        return hv.resumeSuspended();
      case 'storageInfo':
        return hv.storageInfo();
      case 'forward': {
        if (!FORWARDED_CALLS.includes(call.call)) throw new HvError('invalid-argument', `unknown forwarded call ${String(call.call)}`, {});
        const fn = hv[call.call] as (...args: unknown[]) => unknown;
        return fn.apply(hv, call.args);
      }
      case 'migrateVia':
        return hv.migrateVia(call.id, call.channel, call.options);
      case 'acceptMigrations':
        return hv.acceptMigrations(call.channel, call.purpose);
      case 'prepareTemplates':
        return hv.prepareTemplates(call.guests);
      case 'standbyReady':
        return hv.standbyReady();
      case 'workerCounts':
        return this.workerCounts();
      case 'dispose':
        await hv.dispose();
        this.dispose();
        return null;
    }
    throw new HvError('invalid-argument', `unknown call ${(call as { op: string }).op}`, {});
  }

  /** The guest a page-side handle stands for, if that boot still runs. */
  private guestOf(ref: GuestRef): Guest {
    const a = this.attached.get(ref.vmId);
    if (!a || a.boot !== ref.boot || a.guest.isDestroyed) {
      throw new HvError('illegal-state', `that boot of ${a?.guest.name ?? ref.vmId} has ended`, { vmId: ref.vmId });
    }
    return a.guest;
  }

  private attach(vmId: string, guest: Guest): void {
    this.attached.get(vmId)?.off();
    const boot = (this.boots.get(vmId) ?? 0) + 1;
    this.boots.set(vmId, boot);
    const ref = { vmId, boot };
    const off = guest.onSerial((bytes) => {
      const key = `${vmId}/${boot}`;
      const out = this.output.get(key) ?? { guest: ref, chunks: [] };
      out.chunks.push(bytes);
      this.output.set(key, out);
      this.schedule();
    });
    this.attached.set(vmId, { boot, guest, off, sent: null });
    this.schedule();
  }

  private onEvent(e: HvEvent): void {
    this.events.push(e);
    if (e.type !== 'period') this.vmsChanged = true;
    if (e.type === 'vm-state' && e.state === 'destroyed') {
      // Its console's last bytes still go out with this batch.
      this.attached.get(e.vmId)?.off();
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null || this.disposed) return;
    const wait = Math.max(0, this.lastFlush + BATCH_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const hv = this.hv;
    if (!hv) return;
    this.lastFlush = performance.now();
    const guests: GuestState[] = [];
    for (const [vmId, a] of this.attached) {
      const state: GuestState = { vmId, boot: a.boot, name: a.guest.name, destroyed: a.guest.isDestroyed };
      const key = `${state.boot}/${state.destroyed}`;
      if (key !== a.sent) {
        guests.push(state);
        a.sent = key;
      }
    }
    const console: Batch['console'] = [];
    for (const { guest, chunks } of this.output.values()) console.push({ guest, bytes: concatBytes(chunks) });
    this.output.clear();
    if (this.events.length === 0 && guests.length === 0 && console.length === 0 && !this.vmsChanged) return;
    const batch: Batch = { kind: 'batch', events: this.events, console };
    this.events = [];
    if (this.vmsChanged || guests.length > 0) {
      batch.vms = hv.vms();
      this.vmsChanged = false;
    }
    // Cheap, and templates change the pool's host share without an event.
    batch.memory = hv.memory;
    batch.settings = hv.settings;
    if (guests.length > 0) batch.guests = guests;
    for (const vm of batch.events) if (vm.type === 'vm-state' && vm.state === 'destroyed') this.attached.delete(vm.vmId);
    this.post(batch, console.map((c) => c.bytes.buffer as ArrayBuffer));
  }

  private post(message: HvMessage, transfer: Transferable[] = []): void {
    this.endpoint.postMessage(message, transfer);
  }

  private dispose(): void {
    this.disposed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const a of this.attached.values()) a.off();
  }
}

function isVmCommand(op: string): op is VmCommand {
  return (VM_COMMANDS as readonly string[]).includes(op);
}
