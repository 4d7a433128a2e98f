// The guest's agent on the second serial port: lab checks and set-up run
// there, so the user's console sees nothing and its shell is not disturbed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Guest } from '../../src/host/guest.ts';
import { bootGuest, destroyAll } from './helpers.ts';

describe('the guest agent', () => {
  let g: Guest | undefined;

  beforeAll(async () => {
    g = await bootGuest('agent1', 96);
  });
  afterAll(() => destroyAll(g));

  it('runs a script with its own output and exit status, and the console shows none of it', async () => {
    const from = g!.transcript.end;
    const r = await g!.agent('echo out-$((6*7)); echo err >&2; hostname; pwd; exit 3');
    expect(r.status).toBe(3);
    expect(r.output).toBe('out-42\nerr\nagent1\n/root\n');
    await new Promise((res) => setTimeout(res, 300));
    expect(g!.transcript.since(from)).not.toMatch(/out-|HV-AGENT/);
  });

  it('does not disturb what the user runs in the console', async () => {
    // The console's shell is busy with a foreground job while the agent answers.
    const fg = g!.exec('sleep 2; echo fg-done', 20_000);
    const r = await g!.agent('cat /proc/loadavg > /dev/null && echo side');
    expect(r.output.trim()).toBe('side');
    expect((await fg).output).toMatch(/fg-done/);
  });

  it('carries long scripts and binary-unsafe text, and writes files the console then sees', async () => {
    const text = 'grüße ✓ $HOME `x` \\n\n'.repeat(400); // ~9 kB: several request lines
    const r = await g!.agent(`cat > /root/placed.txt <<'HV_EOF'\n${text}HV_EOF\nwc -c < /root/placed.txt`);
    expect(r.status).toBe(0);
    expect(Number(r.output.trim())).toBe(new TextEncoder().encode(text).length);
    const seen = await g!.exec('head -n 1 /root/placed.txt');
    expect(seen.output.trim()).toBe('grüße ✓ $HOME `x` \\n');
    // A control character sends the script as base64 instead of its own lines.
    const ctl = await g!.agent("v='\u0001\u001b'; echo ${#v}; exit 4");
    expect(ctl).toEqual({ output: '2\n', status: 4 });
  });

  it('kills a script that runs past its time and answers the next one', async () => {
    const t0 = Date.now();
    const r = await g!.agent('sleep 30; echo never', 1000);
    expect(r.output).not.toMatch(/never/);
    expect(r.status).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await g!.agent('echo next')).output).toBe('next\n');
  });
});
