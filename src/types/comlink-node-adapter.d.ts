// comlink ships types for its Node adapter as node-adapter.d.ts, which the
// compiler does not pair with the .mjs file we import.
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink';
  export default function nodeEndpoint(nep: {
    postMessage(message: unknown, transfer?: readonly unknown[]): void;
    on(type: string, listener: (value: any) => void): unknown;
    off(type: string, listener: (value: any) => void): unknown;
    start?: () => void;
  }): Endpoint;
}
