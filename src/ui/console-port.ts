// What a console needs from a guest: its output bytes and a way to type.
// `Guest` (src/host/guest.ts) fits as is; a booting guest's session fits too,
// so the console shows the kernel's first lines before the guest is ready.

export interface ConsolePort {
  /** Subscribe to console output bytes; returns the unsubscribe function. */
  onSerial(listener: (bytes: Uint8Array) => void): () => void;
  /** Type into the guest's serial console (UTF-8 bytes or a string). */
  write(data: string | Uint8Array): void;
  /** The terminal is now cols x rows: the guest's console takes that size. */
  resize(cols: number, rows: number): void;
}
