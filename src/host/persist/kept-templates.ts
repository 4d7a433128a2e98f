// Booted templates kept in the dashboard's store (Persistence), so that the
// next page load clones its first guest of an image, RAM and NIC without
// booting a template again, also for the combinations the site's prebuilt
// templates do not cover. Kept zstd-compressed (v86's restore_state inflates
// it in the guest's worker); a kept state of another image build is never
// loaded (its key differs), and one that no longer restores is forgotten.
import { HvError } from '../../core/errors.ts';
import { ZSTD_MAGIC } from '../../protocol/guest-api.ts';
import { zstdCompress } from '../snapshots/zstd.ts';
import { sameTemplateKey, templateSlot, type TemplateKeep } from '../templates.ts';
import type { Persistence } from './store.ts';

const isZstd = (b: Uint8Array): boolean => b.byteLength >= 4 && new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) === ZSTD_MAGIC;

/** Templates kept in `p`; `zstdWasmUrl` as for snapshots. */
export function keptTemplates(p: Persistence, zstdWasmUrl?: string): TemplateKeep {
  return {
    async load(key) {
      const t = await p.getTemplate(templateSlot(key));
      if (!t || !sameTemplateKey(t.key, key)) return null;
      if (!isZstd(t.state)) throw new HvError('invalid-argument', `its state is not zstd-compressed (${t.state.byteLength} bytes)`, {});
      return { key: { ...t.key }, saved: { state: t.state.slice().buffer, clockMs: t.clockMs }, bootMs: t.bootMs, savedAt: t.savedAt };
    },
    async save(t) {
      // Copied now: the state goes on to clones' workers while this compresses.
      const raw = new Uint8Array(t.saved.state.slice(0));
      const state = isZstd(raw) ? raw : await zstdCompress(raw, zstdWasmUrl);
      await p.putTemplate({ slot: templateSlot(t.key), key: { ...t.key }, state, clockMs: t.saved.clockMs, bootMs: t.bootMs, savedAt: t.savedAt });
    },
    forget: (key) => p.deleteTemplate(templateSlot(key)),
  };
}
