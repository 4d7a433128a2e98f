// Numbers with units for the isolation view.
export const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '–');
export const mib = (bytes: number): string => `${f1(bytes / (1 << 20))} MiB`;
export const ms = (v: number): string => (v >= 10_000 ? `${f1(v / 1000)} s` : `${Math.round(v)} ms`);
export const hex = (a: number): string => `0x${a.toString(16).padStart(8, '0')}`;
export const signedPct = (v: number): string => `${v > 0 ? '+' : ''}${f1(v)} %`;
