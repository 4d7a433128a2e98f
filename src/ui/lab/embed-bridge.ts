// The lab's side of the embedding protocol (src/protocol/lab-embed.ts): posts
// to the parent frame only at allowed origins, and takes commands only from
// the parent frame at an allowed origin; anything else is ignored.
import { LAB_MESSAGE_SOURCE, type LabToParent, type ParentToLab } from '../../protocol/lab-embed.ts';

type Outgoing = LabToParent extends infer M ? (M extends LabToParent ? Omit<M, 'source'> : never) : never;

/** Origins from ?parentOrigin= (comma-separated) and the lab file, normalised; invalid ones are dropped. */
export function allowedOrigins(param: string | null, fromLab: readonly string[]): string[] {
  const all = [...(param ?? '').split(','), ...fromLab].map((o) => o.trim()).filter(Boolean);
  const out = new Set<string>();
  for (const o of all) {
    try {
      const u = new URL(o);
      if (u.protocol === 'http:' || u.protocol === 'https:') out.add(u.origin);
    } catch {
      // not an origin: ignored (the lab file's are checked by its schema)
    }
  }
  return [...out];
}

/** True for a well-formed command from the parent. */
export function isParentCommand(data: unknown): data is ParentToLab {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  if (d['source'] !== undefined && d['source'] !== LAB_MESSAGE_SOURCE) return false;
  return d['type'] === 'reset' || (d['type'] === 'goto-step' && (typeof d['step'] === 'string' || typeof d['step'] === 'number'));
}

export class EmbedBridge {
  /** Messages refused (wrong origin or frame, malformed), for the author panel and tests. */
  ignored = 0;
  private readonly onMessage: (e: MessageEvent) => void;

  constructor(
    private readonly win: Window,
    private origins: string[],
    onCommand: (command: ParentToLab) => void,
  ) {
    this.onMessage = (e) => {
      const fromParent = e.source === this.win.parent && this.win.parent !== this.win;
      if (!fromParent || !this.origins.includes(e.origin) || !isParentCommand(e.data)) {
        this.ignored++;
        return;
      }
      onCommand(e.data);
    };
    win.addEventListener('message', this.onMessage);
  }

  get embedded(): boolean {
    return this.win.parent !== this.win;
  }

  setOrigins(origins: string[]): void {
    this.origins = origins;
  }

  /** Post to the parent at each allowed origin: the browser delivers it only where the parent's origin matches. */
  post(message: Outgoing): void {
    if (!this.embedded) return;
    for (const origin of this.origins) this.win.parent.postMessage({ source: LAB_MESSAGE_SOURCE, ...message }, origin);
  }

  dispose(): void {
    this.win.removeEventListener('message', this.onMessage);
  }
}
