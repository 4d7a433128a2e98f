/** Offer bytes or a text as a file download named `name` (a capture, a snapshot, an experiment's CSV). */
export function saveBytes(bytes: Uint8Array | string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  // The download has begun by then; the URL only keeps the bytes alive.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
