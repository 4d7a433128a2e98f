#!/usr/bin/env node
// hv-run: the experiment runner's command line (src/cli/hv-run.ts), run
// through tsx so the package needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/hv-run.ts');
