// The lab page's model: loads a lab file (URL), refuses it with located
// problems or runs it as a LabSession on the dashboard's hypervisor, keeps
// the student's progress, and talks to an embedding course page. Published
// state is $state.raw, replaced, never mutated; components call its commands.
import { HvError } from '../../core/errors.ts';
import type { LabProblem } from '../../core/lab/locate.ts';
import { parseLab, type Lab } from '../../core/lab/parse.ts';
import { labSha256, progressReport, recordCheck, resumeProgress, score, freshProgress, type LabProgress } from '../../core/lab/progress.ts';
import type { ParentToLab } from '../../protocol/lab-embed.ts';
import { LabSession, labContext, type StepCheck } from '../../host/lab/lab-session.ts';
import type { Dashboard } from '../dashboard.svelte.ts';
import { Cluster } from '../cluster/cluster.svelte.ts';
import type { HostApi } from '../../host/host-api.ts';
import { allowedOrigins, EmbedBridge } from './embed-bridge.ts';
import { localProgressStore, type ProgressStore } from './progress-store.ts';

export type LabPhase = 'loading' | 'problems' | 'error' | 'starting' | 'ready';

/** Auto-checks run at most this often, ms. */
const AUTO_CHECK_MS = 1000;
/** Author mode looks for a changed lab file this often, ms. */
const AUTHOR_POLL_MS = 1000;

export interface LabOptions {
  /** The lab file's URL as given (?lab=), resolved against the page. */
  url: string;
  /** ?parentOrigin= */
  parentOrigin: string | null;
  /** ?author=1: reload the lab when its file changes. */
  author: boolean;
  store?: ProgressStore;
  /** Makes the lab's other hosts (its `hosts:`). */
  makeHost?: (settings: { pcpus: number; memoryMiB: number }) => HostApi;
}

export class LabModel {
  phase = $state.raw<LabPhase>('loading');
  lab = $state.raw<Lab | null>(null);
  problems = $state.raw<LabProblem[]>([]);
  error = $state.raw<string | null>(null);
  status = $state.raw<string>('loading the lab file');
  stepIndex = $state.raw(0);
  progress = $state.raw<LabProgress | null>(null);
  /** The last check of each step in this session, by step id. */
  checks = $state.raw<Record<string, StepCheck>>({});
  /** Why progress starts afresh, or cannot be saved. */
  notice = $state.raw<string | null>(null);
  checking = $state.raw(false);
  solving = $state.raw(false);
  /** Hints shown per step id. */
  hints = $state.raw<Record<string, number>>({});
  /** ms after the page's start (performance.now) when the lab's guests were all ready. */
  readyAt = $state.raw<number | null>(null);
  /** The same for the first guest. */
  firstReadyAt = $state.raw<number | null>(null);
  /** The lab's hosts for the full dashboard's Cluster tab (a lab with more than one host), once it started. */
  cluster = $state.raw<Cluster | null>(null);

  readonly url: string;
  private sha = '';
  private text = '';
  private session: LabSession | null = null;
  private readonly store: ProgressStore;
  private readonly bridge: EmbedBridge;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private completedPosted = false;

  constructor(
    readonly dash: Dashboard,
    private readonly options: LabOptions,
  ) {
    this.url = options.url;
    this.store = options.store ?? localProgressStore();
    this.bridge = new EmbedBridge(window, allowedOrigins(options.parentOrigin, []), (c) => this.onParent(c));
    this.timers.push(setInterval(() => void this.autoCheck(), AUTO_CHECK_MS));
    if (options.author) this.timers.push(setInterval(() => void this.pollAuthor(), AUTHOR_POLL_MS));
  }

  get step() {
    return this.lab?.steps[this.stepIndex] ?? null;
  }

  get summary() {
    return this.lab && this.progress ? score(this.progress, this.lab.steps.map((s) => s.id)) : { passed: 0, total: 0, score: 0 };
  }

  /** Fetch, check and start the lab. */
  async load(): Promise<void> {
    this.phase = 'loading';
    let text: string;
    try {
      text = await fetchLab(this.url);
    } catch (err) {
      return this.fail((err as Error).message);
    }
    await this.open(text);
  }

  /** Check lab text and start it (a lab with any problem starts nothing). */
  async open(text: string): Promise<void> {
    this.text = text;
    this.sha = labSha256(text);
    const parsed = parseLab(text, labContext(this.dash.images));
    if (!parsed.ok) {
      this.problems = parsed.problems;
      this.phase = 'problems';
      this.bridge.post({ type: 'lab-error', message: `the lab file has ${parsed.problems.length} problem(s)` });
      return;
    }
    const lab = parsed.lab;
    // Before anything renders: the templates' download overlaps with the page's set-up.
    const mtu = (network: string | undefined) => lab.networks.find((n) => n.name === network)?.mtu;
    this.dash.hv.prepareTemplates(lab.guests.filter((g) => g.boot === 'clone').map((g) => ({ ...g, ...(mtu(g.network) ? { mtu: mtu(g.network) } : {}) })));
    this.problems = [];
    this.lab = lab;
    this.bridge.setOrigins(allowedOrigins(this.options.parentOrigin, lab.allowedOrigins));
    const resumed = resumeProgress(this.store.load(this.url), this.url, this.sha, new Date());
    this.progress = resumed.progress;
    this.notice = resumed.notice;
    this.completedPosted = this.summary.passed === this.summary.total;
    this.checks = {};
    this.stepIndex = Math.max(0, lab.steps.findIndex((s) => !resumed.progress.steps[s.id]?.passed));
    if (this.summary.passed === this.summary.total) this.stepIndex = lab.steps.length - 1;
    await this.startSession(lab);
  }

  private async startSession(lab: Lab): Promise<void> {
    void this.session?.dispose();
    const session = new LabSession(this.dash.hv, lab, {
      onStatus: (m) => (this.status = m),
      onGuestReady: () => (this.firstReadyAt ??= performance.now()),
      ...(this.options.makeHost ? { makeHost: this.options.makeHost } : {}),
    });
    this.session = session;
    this.phase = 'starting';
    this.status = 'starting the guests';
    try {
      await session.start();
    } catch (err) {
      if (this.session === session) this.fail(`the lab's guests could not start: ${HvError.from(err).message}`);
      return;
    }
    if (this.session !== session) return;
    this.cluster = lab.hosts.length > 0 ? new Cluster(this.dash, null, session.hosts()) : null;
    this.readyAt = performance.now();
    this.phase = 'ready';
    this.status = 'ready';
    const passedSteps = lab.steps.filter((s) => this.progress?.steps[s.id]?.passed).map((s) => s.id);
    this.bridge.post({ type: 'lab-loaded', title: lab.title, sha256: this.sha, steps: lab.steps.map((s) => ({ id: s.id, title: s.title })), progress: { ...this.summary, passedSteps } });
  }

  goto(index: number): void {
    if (!this.lab || index < 0 || index >= this.lab.steps.length) return;
    this.stepIndex = index;
    this.session?.beginStep();
  }

  /** Run the current step's checks and record the result. */
  async check(quiet = false): Promise<StepCheck | null> {
    const session = this.session;
    const step = this.step;
    if (!session || !step || this.phase !== 'ready' || this.checking) return null;
    this.checking = true;
    try {
      const result = await session.check(this.stepIndex);
      if (session !== this.session) return null;
      if (quiet && !result.passed) return result; // auto-checks record passes only
      this.checks = { ...this.checks, [step.id]: result };
      this.record(step.id, result);
      return result;
    } finally {
      this.checking = false;
    }
  }

  /** Run the current step's solution ("skip"), then check it. */
  async solve(): Promise<void> {
    const session = this.session;
    if (!session || this.phase !== 'ready' || this.solving) return;
    this.solving = true;
    try {
      await session.solve(this.stepIndex);
    } catch (err) {
      this.status = `the solution failed: ${HvError.from(err).message}`;
    } finally {
      this.solving = false;
    }
    await this.check();
  }

  showHint(stepId: string): void {
    this.hints = { ...this.hints, [stepId]: (this.hints[stepId] ?? 0) + 1 };
  }

  /** Forget the progress and start the lab's guests again. */
  async reset(): Promise<void> {
    if (!this.lab) return;
    this.store.clear(this.url);
    this.progress = freshProgress(this.url, this.sha, new Date());
    this.notice = null;
    this.checks = {};
    this.hints = {};
    this.stepIndex = 0;
    this.completedPosted = false;
    await this.startSession(this.lab);
  }

  /** The progress file a student hands in. */
  exportProgress(): { name: string; text: string } | null {
    if (!this.lab || !this.progress) return null;
    const report = progressReport(this.progress, this.lab, new Date());
    const base = this.url.split('/').pop()?.replace(/\.ya?ml$/, '') || 'lab';
    return { name: `${base}-progress.json`, text: `${JSON.stringify(report, null, 2)}\n` };
  }

  /** "line 3, column 7, host.pcpus: ..." for the problem list. */
  describe(p: LabProblem): string {
    return `line ${p.line}, column ${p.col}${p.path ? `, ${p.path}` : ''}: ${p.message}`;
  }

  dispose(): void {
    for (const t of this.timers) clearInterval(t);
    this.bridge.dispose();
    void this.session?.dispose();
  }

  private record(stepId: string, result: StepCheck): void {
    if (!this.progress || !this.lab) return;
    this.progress = recordCheck(this.progress, stepId, result.passed, result.results, new Date());
    const why = this.store.save(this.progress);
    if (why) this.notice = why;
    const s = this.summary;
    this.bridge.post({ type: 'step-checked', step: stepId, passed: result.passed, score: s.score });
    if (s.passed === s.total && !this.completedPosted) {
      this.completedPosted = true;
      this.bridge.post({ type: 'lab-completed', score: s.score });
    }
  }

  private async autoCheck(): Promise<void> {
    const step = this.step;
    if (!step?.autoCheck || this.progress?.steps[step.id]?.passed || typeof document === 'undefined' || document.hidden) return;
    await this.check(true);
  }

  private async pollAuthor(): Promise<void> {
    if (this.phase === 'loading' || this.phase === 'starting') return;
    const text = await fetchLab(this.url).catch(() => null);
    if (text === null || text === this.text) return;
    this.status = 'the lab file changed: reloading';
    await this.open(text);
  }

  private onParent(command: ParentToLab): void {
    if (command.type === 'reset') {
      void this.reset();
    } else {
      const index = typeof command.step === 'number' ? command.step : (this.lab?.steps.findIndex((s) => s.id === command.step) ?? -1);
      this.goto(index);
    }
  }

  private fail(message: string): void {
    this.error = message;
    this.phase = 'error';
    this.bridge.post({ type: 'lab-error', message });
  }
}

/** The lab file's text, or an error that says what went wrong with the URL. */
export async function fetchLab(url: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-store' });
  } catch (err) {
    const cross = new URL(url, location.href).origin !== location.origin;
    throw new Error(
      `could not load the lab file ${url}: ${(err as Error).message}` +
        (cross ? ' (the server may not allow other sites to read it: it needs an Access-Control-Allow-Origin header)' : ''),
    );
  }
  if (!response.ok) throw new Error(`could not load the lab file ${url}: HTTP ${response.status} ${response.statusText}`.trim());
  return response.text();
}
