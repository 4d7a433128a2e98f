// The site's Content-Security-Policy, one source for the <meta> tag the build
// puts in index.html (vite.config.ts), the header form hosts can send, and the
// e2e test that runs the site under it (test/e2e/csp.e2e.ts).
//
// What each allowance is for:
//   script-src 'wasm-unsafe-eval'  v86 compiles its own wasm and, at run time,
//                                  the guest code its JIT translates to wasm
//   worker-src blob:               v86 starts its tick helper worker from a blob: URL
//   style-src 'unsafe-inline'      xterm.js and Svelte set styles on elements
//   connect-src https:, loopback   a lab file given as an absolute URL (?lab=): any
//                                  https site, or an author's local server over http
//   img-src data:                  the inline page icon

/** Directives a <meta> tag can carry (frame-ancestors cannot be set that way). */
export const CSP_DIRECTIVES: readonly string[] = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self' https: http://localhost:* http://127.0.0.1:*",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
];

/** The policy for the <meta http-equiv="Content-Security-Policy"> tag. */
export function cspMetaPolicy(): string {
  return CSP_DIRECTIVES.join('; ');
}

/**
 * The same policy as an HTTP header, with the sites allowed to frame the
 * playground (frame-ancestors: only a header can say it; e.g. "'self'
 * https://course.example.org", or "*" to let any course page embed a lab).
 */
export function cspHeaderPolicy(frameAncestors = "'self'"): string {
  return [...CSP_DIRECTIVES, `frame-ancestors ${frameAncestors}`].join('; ');
}
