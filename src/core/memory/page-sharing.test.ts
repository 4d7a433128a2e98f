import { describe, expect, it } from 'vitest';
import { sharingReport } from './page-sharing.ts';

describe('sharingReport', () => {
  it('counts zero pages, copies beyond the first, and copies shared across guests', () => {
    const r = sharingReport([
      { id: 'a', hashes: Uint32Array.from([0, 0, 5, 5, 7, 9]) },
      { id: 'b', hashes: Uint32Array.from([0, 5, 7, 11]) },
    ]);
    expect(r).toMatchObject({ pages: 10, zeroPages: 3, sharablePages: 3, acrossGuestsPages: 2 });
    expect(r.guests).toEqual([
      { id: 'a', pages: 6, zeroPages: 2, sharedWithOthers: 3 },
      { id: 'b', pages: 4, zeroPages: 1, sharedWithOthers: 2 },
    ]);
  });
});
