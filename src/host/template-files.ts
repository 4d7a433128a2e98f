// Booted templates built ahead, shipped as files beside the site (npm run
// templates writes them; the build copies them to templates/). A page that
// finds one for its image, RAM and NIC clones its first guest from it instead
// of booting a template cold. The folder holds index.json and one v86 state
// per template, zstd-compressed: v86's restore_state inflates zstd itself, in
// the guest's worker, so the page only fetches and copies the small file. The
// key says what a state was made from; anything else (no index, a malformed
// one, a file missing, cut or corrupt) falls back to booting a template, with
// a fault that says why.
import * as v from 'valibot';
import { HvError } from '../core/errors.ts';
import { ZSTD_MAGIC } from '../protocol/guest-api.ts';
import { sameTemplateKey, type Template, type TemplateKey } from './templates.ts';

/** The index's file name, in the templates folder. */
export const TEMPLATE_INDEX = 'index.json';
export const TEMPLATE_INDEX_VERSION = 1;

const KeySchema = v.strictObject({
  imageId: v.string(),
  kernelSha256: v.string(),
  initrdSha256: v.string(),
  biosSha256: v.string(),
  memoryMiB: v.pipe(v.number(), v.integer(), v.minValue(1)),
  nic: v.nullable(v.picklist(['virtio', 'ne2k'])),
});

const EntrySchema = v.strictObject({
  /** The zstd-compressed state, relative to the folder: a plain file name. */
  file: v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]+\.zst$/, 'must be a plain file name ending in .zst')),
  key: KeySchema,
  /** The guest clock the state was saved at (SavedState.clockMs). */
  clockMs: v.pipe(v.number(), v.minValue(0)),
  /** The file's size, and the state's once inflated, bytes. */
  bytes: v.pipe(v.number(), v.integer(), v.minValue(4)),
  stateBytes: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** The cold boot that made it, ms, and when (ISO 8601). */
  bootMs: v.pipe(v.number(), v.minValue(0)),
  builtAt: v.string(),
});

const IndexSchema = v.strictObject({
  version: v.literal(TEMPLATE_INDEX_VERSION),
  /** The v86 release the states were saved with (for people; the build keeps them in step). */
  v86: v.string(),
  templates: v.array(EntrySchema),
});

export type TemplateIndex = v.InferOutput<typeof IndexSchema>;
export type TemplateIndexEntry = v.InferOutput<typeof EntrySchema>;

/** The index in `text`, or an error that names the first problem and where it is. */
export function parseTemplateIndex(text: string, where: string): TemplateIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HvError('invalid-argument', `${where} is not JSON: ${(err as Error).message}`, { where });
  }
  const r = v.safeParse(IndexSchema, json);
  if (!r.success) {
    const issue = r.issues[0]!;
    const path = v.getDotPath(issue);
    throw new HvError('invalid-argument', `${where}${path ? ` at ${path}` : ''}: ${issue.message}`, { where });
  }
  return r.output;
}

/** Where booted templates made earlier come from. */
export interface TemplateSource {
  /** A template made from exactly this key, or null when there is none; rejects when one is there but unusable. */
  load(key: TemplateKey): Promise<Template | null>;
  /** Start reading what load() will need (e.g. the index), without waiting. */
  prime?(): void;
}

/** Opens a file of the templates folder: its bytes as a stream, or null when there is no such file. */
export type OpenTemplateFile = (name: string) => Promise<ReadableStream<Uint8Array> | null>;

/** A TemplateSource over a folder of files: its index is read once, on first use. */
export function templateFiles(open: OpenTemplateFile, where: string): TemplateSource {
  let index: Promise<TemplateIndex | null> | null = null;
  const readIndex = async (): Promise<TemplateIndex | null> => {
    const stream = await open(TEMPLATE_INDEX);
    if (!stream) return null; // a site built without templates
    return parseTemplateIndex(await new Response(stream).text(), `${where}${TEMPLATE_INDEX}`);
  };
  const indexOnce = (): Promise<TemplateIndex | null> => (index ??= readIndex());
  return {
    prime() {
      indexOnce().catch(() => {}); // load() reports it
    },
    async load(key) {
      const found = (await indexOnce())?.templates.find((t) => sameTemplateKey(t.key, key));
      if (!found) return null;
      const name = `${where}${found.file}`;
      const stream = await open(found.file);
      if (!stream) throw new HvError('image-missing', `${name} is listed in ${where}${TEMPLATE_INDEX} but missing`, { file: name });
      const state = await new Response(stream).arrayBuffer();
      if (state.byteLength !== found.bytes) {
        throw new HvError('invalid-argument', `${name} has ${state.byteLength} bytes, not the ${found.bytes} its index says`, { file: name });
      }
      if (new DataView(state).getUint32(0, true) !== ZSTD_MAGIC) {
        throw new HvError('invalid-argument', `${name} is not a zstd-compressed state (it does not begin with zstd's magic number)`, { file: name });
      }
      return { key: { ...found.key }, saved: { state, clockMs: found.clockMs }, bootMs: found.bootMs, savedAt: Date.parse(found.builtAt) || 0, prebuilt: true };
    },
  };
}

/** The templates folder of a site at `base` (a URL ending in /): fetched; a 404 or an HTML page is "no such file". */
export function fetchedTemplateFiles(base: string): TemplateSource {
  return templateFiles(async (name) => {
    const url = new URL(name, base).href;
    let response: Response;
    try {
      response = await fetch(url);
    } catch (err) {
      throw new HvError('image-missing', `could not fetch ${url}: ${(err as Error).message}`, { url });
    }
    // A 404, or a server's page for every unknown path (Vite's dev server sends index.html): no such file.
    if (response.status === 404 || (response.ok && /^text\/html/i.test(response.headers.get('content-type') ?? ''))) return null;
    if (!response.ok || !response.body) throw new HvError('image-missing', `could not fetch ${url}: HTTP ${response.status}`, { url });
    return response.body;
  }, base);
}
