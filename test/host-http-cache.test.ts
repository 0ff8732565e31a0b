import { describe, expect, it } from 'vitest';
import type { MainChannel } from '../src/host/channel.js';
import { emptyHostConfig } from '../src/host/config.js';
import { httpCache } from '../src/host/interfaces/http-cache.js';
import { Request, Response } from '../src/host/messages.js';
import { dispose, type Pollable } from '../src/host/pollable.js';
import type { Notice, SyncCall, SyncReply } from '../src/host/protocol.js';
import { Session } from '../src/host/session.js';
import { payload } from './support/host-error.js';

const NONE = { found: false, usable: false, stale: false, mustInsertOrUpdate: false, usableIfError: false };

/** A session whose main thread answers HTTP-cache calls from `replies` (by method) and records everything. */
function fakeSession(replies: Record<string, (args: unknown) => unknown>, ready = () => true) {
  const calls: SyncCall[] = [];
  const notices: Notice[] = [];
  const channel = {
    call: (call: SyncCall): SyncReply => {
      calls.push(call);
      if (call.op === 'service') return { op: 'service', result: replies[call.call.method]!(call.call.args) };
      if (call.op === 'wait') return { op: 'wait', index: ready() ? 0 : null };
      throw new Error(`unexpected ${call.op}`);
    },
    notify: (notice: Notice) => notices.push(notice),
  } as unknown as MainChannel;
  return { session: new Session(channel, emptyHostConfig(), undefined), calls, notices };
}

function request(uri = 'http://example.com/a'): Request {
  const req = new Request();
  req.uri = uri;
  return req;
}

describe('http-cache.entry on the worker', () => {
  it('subscribe and step wait on the main thread until the lookup resolves, then need nothing', () => {
    let outcomeKnown = false;
    const { session, calls } = fakeSession({ 'http-cache.lookup': () => ({ entry: 42 }), 'http-cache.await': () => ({ state: { ...NONE, mustInsertOrUpdate: true } }) }, () => outcomeKnown);
    const api = httpCache(session) as unknown as { Entry: { transactionLookup(req: Request, options: object): Record<string, (...args: unknown[]) => unknown> } };
    const entry = api.Entry.transactionLookup(request(), {});
    const subscription = entry.subscribe!() as Pollable;
    expect(subscription.readiness()).toEqual({ service: 'http-cache:42' });
    const next = entry.step!() as Pollable | undefined;
    expect(next?.readiness()).toEqual({ service: 'http-cache:42' });
    // Ready on the main side though not fetched yet: step is done. (It used to hand out a ready
    // pollable again and again, and the published adapter's select stepped it forever.)
    outcomeKnown = true;
    expect(entry.step!()).toBeUndefined();
    expect(entry.getState!()).toEqual({ ...NONE, mustInsertOrUpdate: true });
    expect(entry.step!()).toBeUndefined();
    expect(subscription.readiness()).toBe(true);
    // The lookup, a zero-timeout wait per step while the outcome was not fetched, then one await for it.
    expect(calls.map((call) => (call.op === 'service' ? call.call.method : call.op))).toEqual(['http-cache.lookup', 'wait', 'wait', 'http-cache.await']);
  });

  it('thousands of subscriptions made and dropped hold nothing on either side', () => {
    const { session, calls, notices } = fakeSession({ 'http-cache.lookup': () => ({ entry: 1 }) });
    const api = httpCache(session) as unknown as { Entry: { transactionLookup(req: Request, options: object): Record<string | symbol, (...args: unknown[]) => unknown> } };
    const entry = api.Entry.transactionLookup(request(), {});
    for (let i = 0; i < 5000; i++) (entry.subscribe!() as Pollable & { [dispose]?: () => void })[dispose]?.();
    expect([calls.length, notices.length]).toEqual([1, 0]);
    entry[dispose]!();
    expect(notices).toEqual([{ op: 'service-notice', call: { method: 'http-cache.close', args: { entry: 1 } } }]);
  });

  it('refuses transaction calls an entry is not obliged to make, and answers none without an object', () => {
    const { session } = fakeSession({ 'http-cache.lookup': () => ({ entry: 3 }), 'http-cache.await': () => ({ state: NONE }) });
    const api = httpCache(session) as unknown as { Entry: { transactionLookup(req: Request, options: object): Record<string, (...args: unknown[]) => unknown> } };
    const entry = api.Entry.transactionLookup(request(), {});
    expect(payload(() => entry.transactionAbandon!())).toEqual({ tag: 'invalid-argument' });
    expect(payload(() => entry.transactionInsert!(new Response(), { maxAgeNs: 1n, sensitiveData: false }))).toEqual({ tag: 'invalid-argument' });
    expect([entry.getFoundResponse!(1), entry.getAgeNs!(), entry.getHits!(), entry.getVaryRule!(100n)]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('suggests a 32-byte key, and buffer-len when the buffer is smaller', () => {
    const { session } = fakeSession({});
    const api = httpCache(session) as unknown as { getSuggestedCacheKey(req: Request, maxLen: bigint): Uint8Array; isRequestCacheable(req: Request): boolean };
    expect(api.getSuggestedCacheKey(request(), 64n)).toHaveLength(32);
    expect(payload(() => api.getSuggestedCacheKey(request(), 16n))).toEqual({ tag: 'buffer-len', val: 32n });
    const post = request();
    post.method = 'POST';
    expect([api.isRequestCacheable(request()), api.isRequestCacheable(post)]).toEqual([true, false]);
  });
});
