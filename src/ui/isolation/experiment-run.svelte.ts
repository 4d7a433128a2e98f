// One experiment as the view runs it: its progress, result or error as
// replaced (never deeply mutated) state, and an AbortController to cancel it.
import type { ExperimentProgress } from '../../host/experiments/index.ts';

export type ExperimentFn<R> = (options: { onProgress: (p: ExperimentProgress) => void; signal: AbortSignal }) => Promise<R>;

export class ExperimentRun<R> {
  running = $state(false);
  progress = $state.raw<ExperimentProgress | null>(null);
  result = $state.raw<R | null>(null);
  error = $state<string | null>(null);
  /** Wall ms since the run started, updated every second while it runs. */
  elapsedMs = $state(0);
  private controller: AbortController | null = null;

  /** Run fn; an earlier result stays visible until the new one replaces it. */
  async start(fn: ExperimentFn<R>): Promise<void> {
    if (this.running) return;
    const controller = new AbortController();
    this.controller = controller;
    this.running = true;
    this.error = null;
    this.progress = null;
    const t0 = performance.now();
    this.elapsedMs = 0;
    const tick = setInterval(() => (this.elapsedMs = performance.now() - t0), 1000);
    try {
      this.result = await fn({ onProgress: (p) => (this.progress = p), signal: controller.signal });
    } catch (err) {
      this.error = controller.signal.aborted
        ? 'Cancelled. The guests this experiment had created were destroyed.'
        : err instanceof Error
          ? err.message
          : String(err);
    } finally {
      clearInterval(tick);
      this.running = false;
      this.controller = null;
    }
  }

  cancel(): void {
    this.controller?.abort(new DOMException('the user cancelled the experiment', 'AbortError'));
  }
}
