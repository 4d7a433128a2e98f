// Entry point of a guest worker: one v86 guest exposed with comlink. The same
// file runs as a browser Web Worker and under Node worker_threads.
import { expose } from 'comlink';
import { HvError } from '../src/core/errors.ts';
import { GuestRuntime, isNode } from './guest-runtime.ts';

/**
 * comlink sends a thrown Error as name/message only; an HvError's code and
 * details matter to the host, so failures leave as HvError JSON (plain data).
 */
function withPlainErrors<T extends object>(target: T): T {
  const plain = (err: unknown): never => {
    throw HvError.from(err).toJSON();
  };
  return new Proxy(target, {
    get(t, key, receiver) {
      const value: unknown = Reflect.get(t, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        try {
          const result: unknown = value.apply(t, args);
          return result instanceof Promise ? result.catch(plain) : result;
        } catch (err) {
          return plain(err);
        }
      };
    },
  });
}

const api = withPlainErrors(new GuestRuntime());

if (isNode) {
  // Module names in variables: the browser bundle must not try to include them.
  const wt = 'node:worker_threads';
  const adapter = 'comlink/dist/esm/node-adapter.mjs';
  const { parentPort } = (await import(/* @vite-ignore */ wt)) as typeof import('node:worker_threads');
  const { default: nodeEndpoint } = (await import(/* @vite-ignore */ adapter)) as typeof import('comlink/dist/esm/node-adapter.mjs');
  expose(api, nodeEndpoint(parentPort!));
} else {
  expose(api);
}
