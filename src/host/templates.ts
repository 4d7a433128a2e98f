// Booted templates for instant clones: one guest per (image, RAM, NIC and its MTU) is
// booted cold, its state saved once it is ready, and further guests start by
// restoring that state into fresh workers (then take their own identity).
// The template's guest is booted by the host (TemplateHost), which keeps it
// under the CPU scheduler and shows its RAM as the host's own reservation.
import type { GuestImage, NicType, SavedState } from '../protocol/guest-api.ts';
import type { Guest } from './guest.ts';
import type { TemplateSource } from './template-files.ts';
import { ETH_MTU } from '../core/net/ethernet.ts';

/** What a saved state was made from; a template restores only into the same. */
export interface TemplateKey {
  imageId: string;
  kernelSha256: string;
  initrdSha256: string;
  biosSha256: string;
  memoryMiB: number;
  nic: NicType | null;
  /** The NIC's MTU when it is not Ethernet's 1500 (a guest's driver takes it at boot; kept keys have none). */
  mtu?: number;
}

export interface Template {
  key: TemplateKey;
  saved: SavedState;
  /** Wall ms the template's cold boot took, and when it was saved. */
  bootMs: number;
  savedAt: number;
  /** Loaded from files built ahead (TemplateSource), not booted by this host. */
  prebuilt?: boolean;
  /** Loaded from what storage kept of an earlier page's boot (TemplateKeep). */
  kept?: boolean;
}

/** Where templates booted here are kept across page loads (the dashboard's store). */
export interface TemplateKeep {
  load(key: TemplateKey): Promise<Template | null>;
  save(template: Template): Promise<void>;
  forget(key: TemplateKey): Promise<void>;
}

/** The key of a template for this image, RAM and NIC. */
export function templateKey(image: GuestImage, memoryMiB: number, nic: NicType | null, mtu = ETH_MTU): TemplateKey {
  return {
    imageId: image.id,
    kernelSha256: image.kernel.sha256,
    initrdSha256: image.initrd.sha256,
    biosSha256: image.bios.sha256,
    memoryMiB,
    nic,
    ...(mtu !== ETH_MTU ? { mtu } : {}),
  };
}

/** True when a template was made from exactly this image, RAM and NIC. */
export function templateMatches(template: Template, key: TemplateKey): boolean {
  return sameTemplateKey(template.key, key);
}

/** True when two keys name the same image build, RAM and NIC. */
export function sameTemplateKey(a: TemplateKey, key: TemplateKey): boolean {
  return (
    a.imageId === key.imageId &&
    a.kernelSha256 === key.kernelSha256 &&
    a.initrdSha256 === key.initrdSha256 &&
    a.biosSha256 === key.biosSha256 &&
    a.memoryMiB === key.memoryMiB &&
    a.nic === key.nic &&
    (a.mtu ?? ETH_MTU) === (key.mtu ?? ETH_MTU)
  );
}

/** A template's slot: one per image, RAM and NIC (and the NIC's MTU when it is not 1500). */
export const templateSlot = (k: TemplateKey): string => `${k.imageId}/${k.memoryMiB}/${k.nic ?? 'none'}${k.mtu !== undefined && k.mtu !== ETH_MTU ? `/mtu${k.mtu}` : ''}`;
const slot = templateSlot;

/** Boots a template's guest under the host's accounting; release() gives its worker, CPU and RAM back. */
export interface TemplateHost {
  bootTemplate(image: GuestImage, key: TemplateKey, signal: AbortSignal): Promise<{ guest: Guest; release: () => Promise<void> }>;
}

/** A template's shell prints this line when it waits for a clone's identity. */
const AWAIT_IDENTITY_RE = /HV-AWAIT-IDENTITY/;
/** How long a booted template may take to settle before its state is saved, ms. */
const TEMPLATE_SETTLE_MS = 30_000;

export class TemplateStore {
  private readonly templates = new Map<string, Template>();
  private readonly building = new Map<string, Promise<Template>>();
  private readonly disposal = new AbortController();
  /** Slots whose prebuilt template failed to load or restore: they boot cold from now on. */
  private readonly refused = new Set<string>();
  /** How many templates were booted (tests check that a stale one is rebuilt). */
  builds = 0;
  /** How many were loaded from the source of prebuilt ones. */
  loads = 0;

  /**
   * `source`: templates built ahead (e.g. files shipped with the site), tried
   * before a cold boot; `onFault` hears why one could not be used.
   */
  constructor(
    private readonly host: TemplateHost,
    private readonly source: TemplateSource | null = null,
    private readonly onFault: (message: string) => void = () => {},
    private readonly keep: TemplateKeep | null = null,
  ) {}

  /** The template for this image, RAM, NIC and MTU; boots one when missing or stale. */
  async get(image: GuestImage, memoryMiB: number, nic: NicType | null, mtu = ETH_MTU): Promise<Template> {
    const key = templateKey(image, memoryMiB, nic, mtu);
    const id = slot(key);
    const held = this.templates.get(id);
    // A template of another image build or size is rebuilt, never restored.
    if (held && templateMatches(held, key)) return held;
    if (held) this.templates.delete(id);
    let pending = this.building.get(id);
    if (!pending) {
      pending = this.build(image, key).finally(() => this.building.delete(id));
      this.building.set(id, pending);
    }
    const built = await pending;
    this.templates.set(id, built);
    return built;
  }

  /** Keep a template made elsewhere (e.g. loaded from storage). */
  put(template: Template): void {
    this.templates.set(slot(template.key), template);
  }

  /** Forget one template (e.g. after its restore failed); a prebuilt one is not loaded again, the next is booted. */
  discard(key: TemplateKey): void {
    const id = slot(key);
    const t = this.templates.get(id);
    if (t?.prebuilt || t?.kept) this.refused.add(id);
    // A kept state that no longer restores goes from storage too: the next page boots one.
    if (t?.kept) this.keep?.forget(key).catch((err: unknown) => this.onFault(`could not forget the kept template ${id}: ${(err as Error).message}`));
    this.templates.delete(id);
  }

  list(): Template[] {
    return [...this.templates.values()];
  }

  /** Abort the builds in progress (their guests are released). */
  dispose(): void {
    this.disposal.abort();
  }

  private async build(image: GuestImage, key: TemplateKey): Promise<Template> {
    const id = slot(key);
    if (this.source && !this.refused.has(id)) {
      try {
        const loaded = await this.source.load(key);
        if (loaded) {
          this.loads++;
          return loaded;
        }
      } catch (err) {
        this.refused.add(id);
        this.onFault(`the prebuilt template ${id} cannot be used (${(err as Error).message}); booting one instead`);
      }
    }
    if (this.keep && !this.refused.has(id)) {
      try {
        const kept = await this.keep.load(key);
        if (kept) {
          this.loads++;
          return { ...kept, kept: true };
        }
      } catch (err) {
        this.onFault(`the template ${id} kept in storage cannot be read (${(err as Error).message}); booting one instead`);
      }
    }
    this.builds++;
    const t0 = performance.now();
    const { guest, release } = await this.host.bootTemplate(image, key, this.disposal.signal);
    try {
      const bootMs = performance.now() - t0;
      // The shell waits for its clones' identity (hv_await_identity in the guest's
      // /etc/hv.sh); an answer from the agent lets it settle in that read.
      await guest.waitFor(AWAIT_IDENTITY_RE, TEMPLATE_SETTLE_MS);
      await guest.agent('true', TEMPLATE_SETTLE_MS);
      const saved = await guest.saveState();
      const template: Template = { key, saved, bootMs, savedAt: Date.now() };
      // Kept for the next page load, while this one clones from it already.
      this.keep?.save(template).catch((err: unknown) => this.onFault(`could not keep the template ${id} for the next page load: ${(err as Error).message}`));
      return template;
    } finally {
      await release();
    }
  }
}
