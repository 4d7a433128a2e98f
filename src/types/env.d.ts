// Build-time settings read through import.meta.env (replaced by Vite when it builds).
interface ImportMetaEnv {
  /** "1" in the test build (npm run build:test): compiles in window.__hvDashboard. */
  readonly VITE_HV_TEST_HOOKS?: string;
}

/** The project's version (package.json), set by vite.config.ts. */
declare const __HV_VERSION__: string;
