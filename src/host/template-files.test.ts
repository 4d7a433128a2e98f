import { afterEach, describe, expect, it, vi } from 'vitest';
import { caught } from '../core/caught.test-helper.ts';
import { fetchedTemplateFiles, parseTemplateIndex, templateFiles, TEMPLATE_INDEX, type TemplateIndex } from './template-files.ts';
import type { TemplateKey } from './templates.ts';

const key: TemplateKey = { imageId: 'hv', kernelSha256: 'k1', initrdSha256: 'i1', biosSha256: 'b1', memoryMiB: 80, nic: 'virtio' };
// A file that begins like a zstd frame (the page does not inflate it: v86 does).
const state = new Uint8Array(4096).map((_, i) => i % 251);
new DataView(state.buffer).setUint32(0, 0xfd2fb528, true);
const index = (over: Partial<TemplateIndex['templates'][0]> = {}): TemplateIndex => ({
  version: 1,
  v86: '0.5.462',
  templates: [{ file: 'hv-80.state.zst', key, clockMs: 2500, bytes: state.byteLength, stateBytes: 14_000_000, bootMs: 1700, builtAt: '2026-12-04T22:00:00.000Z', ...over }],
});

/** A folder of files in memory. */
function folder(files: Record<string, Uint8Array | string>) {
  return templateFiles(async (name) => {
    const f = files[name];
    return f === undefined ? null : new Blob([typeof f === 'string' ? f : new Uint8Array(f)]).stream();
  }, 'templates/');
}

describe('the prebuilt templates index', () => {
  it('accepts a well-formed index', () => {
    expect(parseTemplateIndex(JSON.stringify(index()), 'x').templates[0]!.key).toEqual(key);
  });

  it.each([
    ['not JSON', '{', /x is not JSON/],
    ['another version', JSON.stringify({ ...index(), version: 2 }), /x at version/],
    ['a path, not a file name', JSON.stringify(index({ file: '../../etc/passwd.zst' })), /x at templates\.0\.file: must be a plain file name/],
    ['RAM that is not a whole number', JSON.stringify(index({ key: { ...key, memoryMiB: 80.5 } })), /x at templates\.0\.key\.memoryMiB/],
    ['an unknown field', JSON.stringify({ ...index(), extra: 1 }), /x at extra/],
  ])('refuses %s, saying where', (_, text, re) => {
    expect(caught(() => parseTemplateIndex(text, 'x')).message).toMatch(re);
  });
});

describe('a folder of prebuilt templates', () => {
  it('has none when there is no index (a site built without them)', async () => {
    expect(await folder({}).load(key)).toBeNull();
  });

  it('loads the state and clock of the template with the same key, and no other', async () => {
    const src = folder({ [TEMPLATE_INDEX]: JSON.stringify(index()), 'hv-80.state.zst': state });
    const t = await src.load(key);
    expect(new Uint8Array(t!.saved.state)).toEqual(state);
    expect(t).toMatchObject({ key, bootMs: 1700, prebuilt: true, saved: { clockMs: 2500 } });
    expect(await src.load({ ...key, memoryMiB: 96 })).toBeNull();
    expect(await src.load({ ...key, kernelSha256: 'k2' })).toBeNull();
  });

  it.each([
    ['a listed file that is missing', {}, /templates\/hv-80\.state\.zst is listed in templates\/index\.json but missing/],
    ['a cut file', { 'hv-80.state.zst': state.subarray(0, 100) }, /templates\/hv-80\.state\.zst has 100 bytes, not the 4096 its index says/],
    ['a file that is not zstd', { 'hv-80.state.zst': new Uint8Array(4096) }, /hv-80\.state\.zst is not a zstd-compressed state/],
  ])('refuses %s with an error naming the file', async (_, files, re) => {
    const src = folder({ [TEMPLATE_INDEX]: JSON.stringify(index()), ...files });
    await expect(src.load(key)).rejects.toThrow(re);
  });

  it('refuses a malformed index with its name', async () => {
    await expect(folder({ [TEMPLATE_INDEX]: '[]' }).load(key)).rejects.toThrow(/templates\/index\.json/);
  });
});

describe('the templates folder of a site', () => {
  afterEach(() => vi.unstubAllGlobals());
  const serve = (response: () => Response) => vi.stubGlobal('fetch', vi.fn(async () => response()));

  it('has none when the server answers 404, or with its HTML page for every unknown path (a dev server)', async () => {
    serve(() => new Response('not found', { status: 404 }));
    expect(await fetchedTemplateFiles('http://site.test/templates/').load(key)).toBeNull();
    serve(() => new Response('<!doctype html>', { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } }));
    expect(await fetchedTemplateFiles('http://site.test/templates/').load(key)).toBeNull();
  });

  it('reports a server error with the URL', async () => {
    serve(() => new Response('boom', { status: 500 }));
    await expect(fetchedTemplateFiles('http://site.test/templates/').load(key)).rejects.toThrow('could not fetch http://site.test/templates/index.json: HTTP 500');
  });
});
