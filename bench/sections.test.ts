import { describe, expect, it } from 'vitest';
import { runSections } from './sections.ts';

describe('runSections', () => {
  it('keeps the rows of the sections that worked and gives a failed one a row with its error', async () => {
    const { rows, failed } = await runSections(
      ['a', 'ui', 'b'],
      async (name) => {
        if (name === 'ui') return async () => Promise.reject(new Error('Chromium not found at /usr/bin/chromium\nstack...'));
        return async () => [{ section: name, metric: 'm', value: 1, unit: 's' }];
      },
      () => {},
    );
    expect(failed).toEqual(['ui']);
    expect(rows.map((r) => [r.section, r.metric, r.pass ?? null, r.note ?? null])).toEqual([
      ['a', 'm', null, null],
      ['ui', 'section failed', false, 'Chromium not found at /usr/bin/chromium'],
      ['b', 'm', null, null],
    ]);
    expect(rows[1]!.value).toBeNaN();
  });
});
