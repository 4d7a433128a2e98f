// The experiments that ship with the project (experiments/*.yaml), offered in
// the Experiments view; `hv-run` runs the same files.
const texts = import.meta.glob<string>('/experiments/*.yaml', { query: '?raw', import: 'default', eager: true });

export interface ShippedExperiment {
  /** The file's name, e.g. "weights.yaml". */
  name: string;
  text: string;
}

export const SHIPPED_EXPERIMENTS: ShippedExperiment[] = Object.entries(texts)
  .map(([path, text]) => ({ name: path.split('/').pop()!, text }))
  // The first offered: weights vs shares, the scheduler's basic promise.
  .sort((a, b) => Number(b.name === 'weights.yaml') - Number(a.name === 'weights.yaml') || a.name.localeCompare(b.name));
