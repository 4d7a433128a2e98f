import { HvError } from '../core/errors.ts';

/**
 * One control's action at a time: which one runs (`busy`), what the last one
 * said (`note`) or why it was refused (`error`, the hypervisor's message).
 */
export class ActionState {
  busy = $state<string | null>(null);
  note = $state<string | null>(null);
  error = $state<string | null>(null);

  async run(what: string, fn: () => Promise<string | null>): Promise<void> {
    this.busy = what;
    this.error = this.note = null;
    try {
      this.note = await fn();
    } catch (err) {
      this.error = HvError.from(err).message;
    } finally {
      this.busy = null;
    }
  }
}
