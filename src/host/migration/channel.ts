// A live migration over a message channel: the source host's MigrationTarget
// calls become messages, and serveMigrations() answers them on the target
// host with its Hypervisor.incomingMigration(). Any postMessage-like channel
// works: a MessagePort between workers, or a BroadcastChannel between two
// tabs of one browser (which copies what it carries: nothing is transferred).
// Each migration is a session of its own on the channel, so one channel can
// carry several, and other listeners' messages are ignored. A session begins
// with a claim: every host listening answers, the first answer wins, and the
// calls after it name that host, so with several tabs listening on one
// channel the guest moves to one of them and the others make nothing.
import { HvError, type HvErrorJSON } from '../../core/errors.ts';
import type { Hypervisor } from '../hypervisor.ts';
import type { MigrationTarget } from './target.ts';

/** What the transport needs of a channel (MessagePort and BroadcastChannel both have it). */
export interface MigrationChannel {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  start?(): void;
}

type Op = keyof MigrationTarget | 'claim';
interface CallMessage {
  kind: 'hv-migration-call';
  session: string;
  seq: number;
  op: Op;
  args: unknown[];
  /** The host that claimed the session (every call but the claim). */
  to?: string;
}
interface ReplyMessage {
  kind: 'hv-migration-reply';
  session: string;
  seq: number;
  value?: unknown;
  error?: HvErrorJSON;
}

const OPS: readonly Op[] = ['claim', 'prepare', 'write', 'finish', 'snapshot', 'abort'];
/** How long a source waits for a host to claim its migration, ms. */
const CLAIM_TIMEOUT_MS = 5000;
/** How long a finished session still takes the VM's snapshots, ms. */
const SESSION_AFTER_FINISH_MS = 60_000;

/** The source's side: a MigrationTarget whose calls travel on `channel`; a call not answered within `timeoutMs` fails. */
export function channelTarget(channel: MigrationChannel, timeoutMs = 30_000): MigrationTarget {
  const session = randomId();
  let seq = 0;
  let host: Promise<string> | null = null;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: ReturnType<typeof setTimeout> }>();
  const onMessage = (e: MessageEvent): void => {
    const m = e.data as ReplyMessage;
    if (m?.kind !== 'hv-migration-reply' || m.session !== session) return;
    const w = waiting.get(m.seq);
    if (!w) return;
    waiting.delete(m.seq);
    clearTimeout(w.timer);
    if (m.error) w.reject(HvError.from(m.error));
    else w.resolve(m.value);
  };
  channel.addEventListener('message', onMessage);
  channel.start?.();
  const send = (op: Op, args: unknown[], to?: string): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const n = ++seq;
      const ms = op === 'claim' ? Math.min(CLAIM_TIMEOUT_MS, timeoutMs) : timeoutMs;
      const timer = setTimeout(() => {
        waiting.delete(n);
        reject(
          op === 'claim'
            ? new HvError('not-found', `no host takes migrations on this channel (none answered within ${(ms / 1000).toFixed(0)} s)`, { op })
            : new HvError('internal', `the target host did not answer "${op}" within ${Math.round(ms / 1000)} s`, { op }),
        );
      }, ms);
      waiting.set(n, { resolve, reject, timer });
      const message: CallMessage = { kind: 'hv-migration-call', session, seq: n, op, args, ...(to ? { to } : {}) };
      channel.postMessage(message);
    });
  // The first host to answer the claim takes the session; later answers find no one waiting.
  const call = async (op: Op, args: unknown[]): Promise<unknown> => send(op, args, await (host ??= send('claim', []) as Promise<string>));
  const done = <T>(p: Promise<unknown>, last = false): Promise<T> =>
    p.finally(() => {
      if (last) channel.removeEventListener('message', onMessage);
    }) as Promise<T>;
  return {
    prepare: (spec, start, extra) => done(call('prepare', [spec, start, extra])),
    write: (pages, data) => done(call('write', [pages, data])),
    finish: (final, extra) => done(call('finish', [final, extra])),
    snapshot: (file) => done(call('snapshot', [file])),
    // Nothing to undo where no host claimed the session.
    abort: (reason) => done(host === null ? Promise.resolve() : call('abort', [reason]), true),
  };
}

/** The target's side: answer migrations that come in on `channel` with `hv`. Returns a function that stops listening. */
export function serveMigrations(hv: Hypervisor, channel: MigrationChannel): () => void {
  const me = randomId();
  const sessions = new Map<string, MigrationTarget>();
  const onMessage = (e: MessageEvent): void => {
    const m = e.data as CallMessage;
    if (m?.kind !== 'hv-migration-call' || typeof m.session !== 'string' || !OPS.includes(m.op)) return;
    if (m.op === 'claim') {
      const reply: ReplyMessage = { kind: 'hv-migration-reply', session: m.session, seq: m.seq, value: me };
      channel.postMessage(reply);
      return;
    }
    if (m.to !== me) return; // another host's session
    let target = sessions.get(m.session);
    if (!target) {
      target = hv.incomingMigration();
      sessions.set(m.session, target);
    }
    const t = target;
    void (async () => {
      const reply: ReplyMessage = { kind: 'hv-migration-reply', session: m.session, seq: m.seq };
      try {
        reply.value = await (t[m.op as keyof MigrationTarget] as (...a: unknown[]) => Promise<unknown>)(...m.args);
      } catch (err) {
        reply.error = HvError.from(err).toJSON();
      }
      // A session ends with an abort; after a finish the VM's snapshots come at once, then it is forgotten.
      if (m.op === 'abort') sessions.delete(m.session);
      if (m.op === 'finish' && !reply.error) {
        const timer = setTimeout(() => sessions.delete(m.session), SESSION_AFTER_FINISH_MS);
        (timer as { unref?: () => void }).unref?.(); // Node: it keeps no process alive
      }
      channel.postMessage(reply);
    })();
  };
  channel.addEventListener('message', onMessage);
  channel.start?.();
  return () => channel.removeEventListener('message', onMessage);
}

function randomId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
