// What page sharing (KSM on Linux/KVM, transparent page sharing in ESXi) could
// save across guests: from a hash of every 4 KiB page of each guest's RAM,
// how many non-zero pages have the same content as another page (in the same
// guest or another), so that one copy would serve them all. An estimate: two
// pages with the same 32-bit hash count as the same (a real sharer compares
// the bytes before merging). Pure.

/** A page of zeros hashes to this (workers/migration.ts pageHashes). */
export const ZERO_PAGE_HASH = 0;

export interface SharingReport {
  /** Pages looked at, all guests together. */
  pages: number;
  /** Pages of zeros (never touched, or freed and zeroed): a host need not back them at all. */
  zeroPages: number;
  /** Non-zero pages whose content another page has too, less one copy per content: what sharing would free. */
  sharablePages: number;
  /** Of those, the copies whose twin is in another guest only (inter-VM sharing, which ESXi turned off by default). */
  acrossGuestsPages: number;
  /** Per guest: its pages, zero pages, and its pages whose content some other guest holds too. */
  guests: { id: string; pages: number; zeroPages: number; sharedWithOthers: number }[];
}

export function sharingReport(guests: { id: string; hashes: Uint32Array }[]): SharingReport {
  const copies = new Map<number, number>();
  const owners = new Map<number, Set<string>>();
  let pages = 0;
  let zeroPages = 0;
  for (const g of guests) {
    for (const h of g.hashes) {
      pages++;
      if (h === ZERO_PAGE_HASH) {
        zeroPages++;
        continue;
      }
      copies.set(h, (copies.get(h) ?? 0) + 1);
      let o = owners.get(h);
      if (!o) owners.set(h, (o = new Set()));
      o.add(g.id);
    }
  }
  let sharablePages = 0;
  let acrossGuestsPages = 0;
  for (const [h, n] of copies) {
    if (n < 2) continue;
    sharablePages += n - 1;
    // Within one guest, n copies need one; across k guests at least k - 1 of the merges are inter-VM.
    acrossGuestsPages += owners.get(h)!.size - 1;
  }
  const perGuest = guests.map((g) => {
    let z = 0;
    let shared = 0;
    for (const h of g.hashes) {
      if (h === ZERO_PAGE_HASH) z++;
      else if (owners.get(h)!.size > 1) shared++;
    }
    return { id: g.id, pages: g.hashes.length, zeroPages: z, sharedWithOthers: shared };
  });
  return { pages, zeroPages, sharablePages, acrossGuestsPages, guests: perGuest };
}
