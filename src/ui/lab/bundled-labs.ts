// The labs that ship with the site (labs/*.yaml): the build copies them next
// to the page (labs/NAME.yaml, see vite.config.ts) so that ?lab=labs/NAME.yaml
// loads them like any other lab URL; the gallery lists them from here.
const texts = import.meta.glob<string>('/labs/*.yaml', { query: '?raw', import: 'default', eager: true });

export interface BundledLab {
  /** The URL, relative to the page, that ?lab= takes. */
  url: string;
  text: string;
}

export const BUNDLED_LABS: BundledLab[] = Object.entries(texts)
  .map(([path, text]) => ({ url: `labs/${path.split('/').pop()!}`, text }))
  .sort((a, b) => a.url.localeCompare(b.url));
