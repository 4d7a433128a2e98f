// A plain static file server for the built site, as any web host would run it:
// files under a sub-path, correct MIME types, ETags (a 304 for a file the
// browser has), and no special headers (no COOP/COEP: the site must not need
// cross-origin isolation).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.yaml': 'text/yaml; charset=utf-8',
  '.xml': 'application/xml',
};

export interface StaticServer {
  /** Absolute URL of the site, ending in the sub-path and a slash. */
  url: string;
  /** Requests served so far, as "STATUS PATH", for debugging failed tests. */
  log: string[];
  /** Bytes of files sent so far (GET). */
  bytesServed(): number;
  close(): Promise<void>;
}

/** Serve `root` under `prefix` (e.g. "/lab/") on a free loopback port; `headers` go on every file served. */
export async function serveStatic(rootDir: string, prefix: string, headers: Record<string, string> = {}): Promise<StaticServer> {
  const root = resolve(rootDir); // no trailing separator: the containment check below relies on it
  const log: string[] = [];
  let bytes = 0;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const send = (status: number, body: string, headers: Record<string, string> = {}): void => {
      log.push(`${status} ${path}`);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    if (path === prefix.slice(0, -1)) return send(301, '', { location: prefix });
    if (!path.startsWith(prefix)) return send(404, 'not found');
    const rel = path.slice(prefix.length) || 'index.html';
    const file = normalize(join(root, rel));
    if (file !== root && !file.startsWith(root + sep)) return send(403, 'forbidden');
    void stat(file).then(
      (st) => {
        if (!st.isFile()) return send(404, 'not found');
        // Validators, as any web host sends them: a browser that has the file asks again and gets a 304.
        const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
        if (req.headers['if-none-match'] === etag) {
          log.push(`304 ${path}`);
          return void res.writeHead(304, { etag, 'cache-control': 'no-cache', ...headers }).end();
        }
        log.push(`200 ${path}`);
        res.writeHead(200, {
          'content-type': MIME[extname(file)] ?? 'application/octet-stream',
          'content-length': String(st.size),
          'cache-control': 'no-cache',
          etag,
          ...headers,
        });
        if (req.method === 'HEAD') return void res.end();
        bytes += st.size;
        createReadStream(file).pipe(res);
      },
      () => send(404, 'not found'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    log,
    bytesServed: () => bytes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
