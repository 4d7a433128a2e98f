import { describe, expect, it } from 'vitest';
import { unpackFrames } from '../src/core/net/frame-batch.ts';
import type { NicUp } from '../src/protocol/nic-port.ts';
import { Nic, QUIET_MS, type NicHost } from './nic.ts';

/** A NIC on a fake emulator and port: `send` is the guest sending frames (inside its tick), `sent` what went up the port. */
function rig() {
  let listener: ((frame: Uint8Array) => void) | null = null;
  const host: NicHost = {
    add_listener: (_event, l) => void (listener = l),
    remove_listener: () => void (listener = null),
    sendHeader: () => null,
    rxOffloads: () => ({ csum: false, tso4: false }),
    rxReady: () => false,
    receive: () => false,
    flushRx: () => {},
    wake: () => {},
  };
  const sent: string[][] = [];
  const port = {
    postMessage: (m: unknown) => {
      const up = m as NicUp;
      if (up.type === 'frames') sent.push(unpackFrames(up.batch).map((f) => String.fromCharCode(...f)));
    },
    addEventListener: () => {},
    close: () => {},
  };
  const clock = { ms: 1000 };
  const nic = new Nic(host, port, () => clock.ms);
  const send = (...frames: string[]) => frames.forEach((f) => listener!(Uint8Array.from(f, (c) => c.charCodeAt(0))));
  return { nic, sent, send, clock };
}

/** The end of the turn (v86's tick): queued microtasks run. */
const endOfTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe('Nic sends', () => {
  it('sends the first frame after a quiet spell at once, and the rest of that turn in one batch at its end', async () => {
    const { sent, send } = rig();
    send('ping');
    expect(sent).toEqual([['ping']]); // inside the guest's tick, before it goes on
    send('a', 'b');
    expect(sent).toEqual([['ping']]);
    await endOfTurn();
    expect(sent).toEqual([['ping'], ['a', 'b']]);
  });

  it('batches a stream: one message per turn while sends are less than QUIET_MS apart', async () => {
    const { sent, send, clock } = rig();
    send('s0');
    await endOfTurn();
    sent.length = 0;
    for (let turn = 1; turn <= 3; turn++) {
      clock.ms += 1;
      send(`s${turn}a`, `s${turn}b`);
      expect(sent).toHaveLength(turn - 1); // nothing before the turn ends
      await endOfTurn();
    }
    expect(sent).toEqual([
      ['s1a', 's1b'],
      ['s2a', 's2b'],
      ['s3a', 's3b'],
    ]);
    clock.ms += QUIET_MS - 0.5;
    send('still-busy');
    expect(sent).toHaveLength(3);
    await endOfTurn();
    clock.ms += QUIET_MS;
    send('after-quiet');
    expect(sent.at(-1)).toEqual(['after-quiet']);
  });

  it('sends nothing after close', async () => {
    const { nic, sent, send, clock } = rig();
    send('x');
    nic.close();
    clock.ms += QUIET_MS;
    await endOfTurn();
    expect(sent).toEqual([['x']]);
  });
});
