// The page's guests: validates a boot request, starts a session for it, and
// destroys sessions. A refused request throws an HvError and starts nothing.
import type { GuestWorkerFactory } from '../host/worker-port.ts';
import type { GuestImage } from '../protocol/guest-api.ts';
import { HvError } from '../core/errors.ts';
import { initrdMemoryLimits, validateMemoryMiB } from '../core/memory-size.ts';
import { GuestSession } from './guest-session.svelte.ts';

export interface BootRequest {
  imageId: string;
  name: string;
  /** As typed: a number or text such as "128" or "128 MiB". */
  memoryMiB: unknown;
}

// The name becomes the guest's hostname (hv.name= on the kernel command line).
const NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/i;

/** RAM limits of an image, for hints next to the RAM field. */
export function imageMemoryLimits(image: GuestImage): { minMiB: number; maxMiB: number } {
  const { minMiB, maxMiB } = initrdMemoryLimits(image.initrd.bytes);
  return { minMiB, maxMiB };
}

export class Lab {
  sessions = $state.raw<GuestSession[]>([]);
  private nextId = 1;

  constructor(
    readonly images: readonly GuestImage[],
    private readonly factory: GuestWorkerFactory,
    private readonly wasmUrl: string,
  ) {}

  /** Validate the request and start booting; throws HvError (and starts nothing) on a bad request. */
  boot(request: BootRequest): GuestSession {
    const image = this.images.find((i) => i.id === request.imageId);
    if (!image) throw new HvError('not-found', `there is no guest image "${request.imageId}" in this build`, { imageId: request.imageId });
    const name = this.validateName(request.name);
    const memoryMiB = validateMemoryMiB(request.memoryMiB, initrdMemoryLimits(image.initrd.bytes));
    const session = new GuestSession(this.nextId++, name, memoryMiB, image);
    this.sessions = [...this.sessions, session];
    void session.start(this.factory, this.wasmUrl);
    return session;
  }

  /** Destroy a guest and drop it from the page. */
  async remove(session: GuestSession): Promise<void> {
    this.sessions = this.sessions.filter((s) => s !== session);
    await session.destroy();
  }

  /** A free name like guest1, guest2, ... for the form's default. */
  suggestName(): string {
    const taken = new Set(this.sessions.map((s) => s.name));
    let n = 1;
    while (taken.has(`guest${n}`)) n++;
    return `guest${n}`;
  }

  private validateName(raw: string): string {
    const name = raw.trim();
    if (!NAME_RE.test(name)) {
      throw new HvError(
        'invalid-argument',
        `guest name "${name}" is not a valid host name: use 1 to 32 letters, digits or hyphens, not starting or ending with a hyphen`,
        { name },
      );
    }
    if (this.sessions.some((s) => s.name === name)) {
      throw new HvError('duplicate-name', `a guest named "${name}" already exists; choose another name`, { name });
    }
    return name;
  }
}
