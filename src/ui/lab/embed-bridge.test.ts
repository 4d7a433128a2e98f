import { describe, expect, it } from 'vitest';
import { allowedOrigins, EmbedBridge, isParentCommand } from './embed-bridge.ts';

/** A window in a frame: its parent records what it is sent; `deliver` plays a message event. */
function framedWindow() {
  const sent: [unknown, string][] = [];
  const listeners: ((e: MessageEvent) => void)[] = [];
  const parent = { postMessage: (m: unknown, origin: string) => sent.push([m, origin]) };
  const win = {
    parent,
    addEventListener: (_: string, l: (e: MessageEvent) => void) => listeners.push(l),
    removeEventListener: () => {},
  };
  const deliver = (data: unknown, origin: string, source: unknown = parent) => {
    for (const l of listeners) l({ data, origin, source } as MessageEvent);
  };
  return { win: win as unknown as Window, sent, deliver, parent };
}

describe('the embedding bridge', () => {
  it('normalises allowed origins from the URL and the lab, dropping what is not an http(s) origin', () => {
    expect(allowedOrigins('https://a.example/course, http://127.0.0.1:8080 ,nonsense,file:///x', ['https://b.example'])).toEqual([
      'https://a.example',
      'http://127.0.0.1:8080',
      'https://b.example',
    ]);
    expect(allowedOrigins(null, [])).toEqual([]);
  });

  it('knows the commands a parent may send', () => {
    expect(isParentCommand({ type: 'reset' })).toBe(true);
    expect(isParentCommand({ source: 'hv-lab', type: 'goto-step', step: 2 })).toBe(true);
    expect(isParentCommand({ type: 'goto-step' })).toBe(false);
    expect(isParentCommand({ source: 'other', type: 'reset' })).toBe(false);
    expect(isParentCommand('reset')).toBe(false);
  });

  it('posts only to the allowed origins, and takes commands only from the parent at one of them', () => {
    const f = framedWindow();
    const got: unknown[] = [];
    const bridge = new EmbedBridge(f.win, ['https://course.example'], (c) => got.push(c));
    bridge.post({ type: 'lab-completed', score: 100 });
    expect(f.sent).toEqual([[{ source: 'hv-lab', type: 'lab-completed', score: 100 }, 'https://course.example']]);
    f.deliver({ type: 'reset' }, 'https://course.example');
    f.deliver({ type: 'reset' }, 'https://evil.example');
    f.deliver({ type: 'reset' }, 'https://course.example', {}); // another frame at that origin
    f.deliver({ type: 'format-disk' }, 'https://course.example');
    expect(got).toEqual([{ type: 'reset' }]);
    expect(bridge.ignored).toBe(3);
  });

  it('posts nothing when no origin is allowed, or when the page is not in a frame', () => {
    const f = framedWindow();
    new EmbedBridge(f.win, [], () => {}).post({ type: 'lab-completed', score: 1 });
    expect(f.sent).toEqual([]);
    const top = { addEventListener: () => {}, removeEventListener: () => {} } as unknown as Window & { parent: unknown };
    (top as { parent: unknown }).parent = top;
    expect(new EmbedBridge(top, ['https://x.example'], () => {}).embedded).toBe(false);
  });
});
