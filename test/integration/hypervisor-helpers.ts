// A Hypervisor over real guests in Node worker_threads, for integration tests.
export { nodeHostFactory, nodeHypervisor } from '../../src/host/node-hypervisor.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run a shell line in a VM's guest; its output, trimmed (throws with the output when it exits non-zero). */
export async function sh(hv: import('../../src/host/hypervisor.ts').Hypervisor, id: string, command: string, timeoutMs = 60_000): Promise<string> {
  const r = await hv.exec(id, command, timeoutMs);
  if (r.status !== 0) throw new Error(`'${command}' exited ${r.status}: ${r.output}`);
  return r.output.trim();
}
