import { describe, expect, it } from 'vitest';
import { Body } from '../src/host/body.js';
import type { MainChannel } from '../src/host/channel.js';
import { PendingResponse } from '../src/host/interfaces/http-req.js';
import { Pollable } from '../src/host/pollable.js';
import type { Waitable } from '../src/host/protocol.js';
import type { Session } from '../src/host/session.js';

/** A main thread that answers every wait with `index` and records what it was asked. */
function mainThread(index: number | null) {
  const asked: Array<{ items: Waitable[]; timeoutMs: number | null }> = [];
  const wait = (items: Waitable[], timeoutMs: number | null) => (asked.push({ items, timeoutMs }), index);
  const channel = { call: (call: { items: Waitable[]; timeoutMs: number | null }) => ({ op: 'wait', index: wait(call.items, call.timeoutMs) }) } as unknown as MainChannel;
  return { asked, channel, session: { wait, channel } as unknown as Session };
}

// Regression: `async-io.pollable.is-ready` was missing, so `fastly_async_io#is_ready` trapped.
describe('pollable is-ready', () => {
  it('answers settled readiness without asking the main thread', () => {
    const { asked, channel } = mainThread(null);
    expect(Pollable.newReady().isReady()).toBe(true);
    expect(Body.fromBytes(channel, new Uint8Array([1])).isReady()).toBe(true);
    expect(asked).toEqual([]);
  });

  it.each([
    [null, false],
    [0, true],
  ])('asks about a pending response with a zero timeout (main answers %s)', (index, ready) => {
    const { asked, session } = mainThread(index);
    expect(new PendingResponse(session, 7).isReady()).toBe(ready);
    expect(asked).toEqual([{ items: [{ pending: 7 }], timeoutMs: 0 }]);
  });

  it('asks about a body still fed by a main-side stream', () => {
    const { asked, channel } = mainThread(null);
    expect(Body.fromSource(channel, 3, undefined).isReady()).toBe(false);
    expect(asked).toEqual([{ items: [{ source: 3 }], timeoutMs: 0 }]);
  });
});
