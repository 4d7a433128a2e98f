// Hosts side by side in one page, as vCenter's cluster: the page's first host
// (the dashboard's) and hosts added here, each a hypervisor in a worker of its
// own with its own pCPUs, memory pool, scheduler and accounting. Every host
// takes migrations on a BroadcastChannel named for this page and host, so a
// running guest moves between them live (Hypervisor.migrateVia); each move's
// rounds arrive as events while it runs.
import type { HostApi } from '../../host/host-api.ts';
import type { HostSettings, HvEvent, MigrationReport, MigrationRound } from '../../host/hypervisor.ts';
import { Dashboard } from '../dashboard.svelte.ts';

/** Most hosts a page holds (each has its own workers: a hypervisor, a CPU scheduler, its guests). */
export const MAX_HOSTS = 4;

export interface ClusterHost {
  name: string;
  dash: Dashboard;
  /** The BroadcastChannel it takes migrations on. */
  channel: string;
}

/** A move as it goes: its rounds so far, then its report or why it failed. */
export interface MoveView {
  vm: string;
  from: string;
  to: string;
  rounds: MigrationRound[];
  report: MigrationReport | null;
  error: string | null;
  startedMs: number;
}

export type HostFactory = (settings: Pick<HostSettings, 'pcpus' | 'memoryMiB'>) => HostApi;

export class Cluster {
  hosts = $state.raw<ClusterHost[]>([]);
  move = $state.raw<MoveView | null>(null);
  error = $state<string | null>(null);
  /** Distinct per page: another tab's hosts never answer this page's moves. */
  private readonly pageId = Math.random().toString(36).slice(2, 10);
  private readonly offs: (() => void)[] = [];
  private ready: Promise<void> = Promise.resolve();

  /**
   * The first host is the dashboard's. With `makeHost`, hosts are added here;
   * with `adopted` instead, the hosts are someone else's (a lab's: its
   * session made them and their channels), shown and moved between as they are.
   */
  constructor(
    first: Dashboard,
    private readonly makeHost: HostFactory | null,
    adopted: { name: string; hv: HostApi; channel: string }[] = [],
  ) {
    if (adopted.length > 0) {
      this.hosts = adopted.map((h, i) => ({ name: h.name, dash: i === 0 ? first : new Dashboard(h.hv), channel: h.channel }));
      for (const h of this.hosts) this.offs.push(h.dash.hv.on((e) => this.onEvent(h.name, e)));
    } else {
      this.ready = this.join('host1', first);
    }
  }

  /** Hosts can be added and removed here (not in a lab: its hosts are its own). */
  get canAdd(): boolean {
    return this.makeHost !== null;
  }

  /** Add a host (1 pCPU, a 1 GiB pool) beside the others. */
  async addHost(): Promise<ClusterHost> {
    await this.ready;
    if (!this.makeHost) throw new Error('the hosts here are the lab\'s: none can be added');
    if (this.hosts.length >= MAX_HOSTS) throw new Error(`a page holds at most ${MAX_HOSTS} hosts (each runs its own workers)`);
    const taken = new Set(this.hosts.map((h) => h.name));
    let n = 2;
    while (taken.has(`host${n}`)) n++;
    const dash = new Dashboard(this.makeHost({ pcpus: 1, memoryMiB: 1024 }));
    const joined = this.join(`host${n}`, dash);
    this.ready = joined;
    await joined;
    return this.hosts.find((h) => h.dash === dash)!;
  }

  /** Remove an added host: its guests are destroyed, its workers end. The first host stays. */
  async removeHost(name: string): Promise<void> {
    const host = this.hosts.find((h) => h.name === name);
    if (!host || host === this.hosts[0] || !this.makeHost) return;
    this.hosts = this.hosts.filter((h) => h !== host);
    await host.dash.dispose();
  }

  /** Move a running guest from one host to another, live; the move's rounds show as they come. */
  async moveGuest(from: string, vmId: string, to: string): Promise<MigrationReport> {
    const source = this.host(from);
    const target = this.host(to);
    const vm = source.dash.hv.vm(vmId);
    this.move = { vm: vm.name, from, to, rounds: [], report: null, error: null, startedMs: performance.now() };
    try {
      return await source.dash.hv.migrateVia(vmId, target.channel);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.move?.vm === vm.name) this.move = { ...this.move, error: message };
      throw err;
    }
  }

  /** End every added host (the first is the dashboard's: it stays). */
  async dispose(): Promise<void> {
    for (const off of this.offs) off();
    await Promise.all(this.hosts.slice(1).map((h) => h.dash.dispose()));
  }

  private host(name: string): ClusterHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`there is no host ${name}`);
    return h;
  }

  private async join(name: string, dash: Dashboard): Promise<void> {
    const channel = `hv-cluster-${this.pageId}-${name}`;
    await dash.hv.acceptMigrations(channel, 'cluster');
    this.offs.push(dash.hv.on((e) => this.onEvent(name, e)));
    this.hosts = [...this.hosts, { name, dash, channel }];
  }

  private onEvent(host: string, e: HvEvent): void {
    const m = this.move;
    if (!m || m.from !== host) return;
    if (e.type === 'migration-round' && e.name === m.vm) this.move = { ...m, rounds: [...m.rounds, e.round] };
    if (e.type === 'migration-end' && e.name === m.vm) this.move = { ...m, report: e.report, error: e.error };
  }
}
