import { describe, expect, it } from 'vitest';
import { Body } from '../src/host/body.js';
import type { MainChannel } from '../src/host/channel.js';
import { dispose, Pollable, selectReady, type Waiter } from '../src/host/pollable.js';
import type { Notice, SyncCall, Waitable } from '../src/host/protocol.js';
import { payload } from './support/host-error.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const str = (data: Uint8Array) => Buffer.from(data).toString('utf8');

/** A main thread holding `sources` (id → chunks still to deliver) and recording notices. */
function mainThread(sources: Record<number, string[]> = {}) {
  const notices: Notice[] = [];
  const calls: SyncCall[] = [];
  const channel = {
    call(call: SyncCall) {
      calls.push(call);
      if (call.op !== 'read') throw new Error(`unexpected ${call.op}`);
      const chunk = sources[call.source]?.shift();
      return chunk === undefined ? { op: 'read', end: true } : { op: 'read', bytes: bytes(chunk.slice(0, call.max)) };
    },
    notify: (notice: Notice) => notices.push(notice),
  } as unknown as MainChannel;
  return { channel, notices, calls };
}

describe('body', () => {
  it('is ready at once when its bytes are in hand, and reads them in chunks', () => {
    const { channel, calls } = mainThread();
    const body = Body.fromBytes(channel, bytes('hello world'));
    expect(body.readiness()).toBe(true);
    expect(str(body.read(5))).toBe('hello');
    expect(str(body.read(100))).toBe(' world');
    expect(body.read(100)).toHaveLength(0);
    expect(calls).toEqual([]);
  });

  it('depends on the main thread while a stream is in front, and pulls only when read', () => {
    const { channel, calls } = mainThread({ 7: ['abc', 'def'] });
    const body = Body.fromSource(channel, 7, 6n);
    expect(body.readiness()).toEqual({ source: 7 });
    expect(body.knownLength()).toBe(6n);
    expect(calls).toEqual([]);
    expect(str(body.read(10))).toBe('abc');
    expect(str(body.read(10))).toBe('def');
    expect(body.read(10)).toHaveLength(0);
    // The stream ended and left the queue: nothing left to wait for.
    expect(body.readiness()).toBe(true);
    expect(calls.map((call) => call.op)).toEqual(['read', 'read', 'read']);
  });

  it('keeps written, front-written and appended pieces in order, with their length', () => {
    const { channel } = mainThread();
    const body = new Body(channel);
    body.write(bytes('middle'));
    body.writeFront(bytes('start-'));
    const tail = Body.fromBytes(channel, bytes('-end'));
    body.append(tail);
    expect(body.knownLength()).toBe(16n);
    expect(tail.knownLength()).toBe(0n);
    expect(str(body.read(100))).toBe('start-');
    expect(str(body.read(100))).toBe('middle');
    expect(str(body.read(100))).toBe('-end');
  });

  it('gives up its streams when closed or dropped', () => {
    const { channel, notices } = mainThread();
    Body.fromSource(channel, 3, undefined).close();
    Body.fromSource(channel, 4, undefined)[dispose]();
    expect(notices).toEqual([
      { op: 'drop-source', source: 3 },
      { op: 'drop-source', source: 4 },
    ]);
  });

  it('streams writes straight out once attached to a sink, and ends or aborts the sink', () => {
    const { channel, notices } = mainThread();
    const body = new Body(channel);
    body.write(bytes('head'));
    const outgoing = body.startStreaming();
    expect(outgoing.segments.map((segment) => str(segment as Uint8Array))).toEqual(['head']);
    expect(body.readiness()).toBe(true);
    expect(body.knownLength()).toBeUndefined();
    body.write(bytes('more'));
    expect(payload(() => body.read(1))).toEqual({ tag: 'invalid-argument' });
    body.close();
    expect(notices).toEqual([
      { op: 'sink-write', sink: outgoing.sink, bytes: bytes('more') },
      { op: 'sink-close', sink: outgoing.sink },
    ]);
    expect(payload(() => body.write(bytes('late')))).toEqual({ tag: 'invalid-argument' });

    const dropped = new Body(channel);
    const sink = dropped.startStreaming().sink;
    dropped[dispose]();
    expect(notices.at(-1)).toEqual({ op: 'sink-abort', sink });
  });

  it('sends its trailers with the whole body, or with the end of a stream, after checking them', () => {
    const { channel, notices } = mainThread();
    const whole = Body.fromBytes(channel, bytes('x'));
    whole.appendTrailer('X-Sum', bytes('1'));
    expect(whole.transfer()).toEqual({ segments: [bytes('x')], knownLength: 1n, trailers: [['x-sum', bytes('1')]] });
    expect(new Body(channel).transfer()).not.toHaveProperty('trailers');

    const streamed = new Body(channel);
    streamed.appendTrailer('x-before', bytes('a'));
    const { sink } = streamed.startStreaming();
    streamed.appendTrailer('x-after', bytes('b'));
    streamed.close();
    expect(notices).toEqual([{ op: 'sink-close', sink, trailers: [['x-before', bytes('a')], ['x-after', bytes('b')]] }]);

    expect(payload(() => whole.appendTrailer('bad name', bytes('1')))).toEqual({ tag: 'invalid-argument' });
    expect(payload(() => whole.appendTrailer('x-ok', bytes('line\nbreak')))).toEqual({ tag: 'invalid-argument' });
  });

  it('reports a broken stream as http-incomplete', () => {
    const channel = { call: () => ({ op: 'read', error: 'socket hang up' }) } as unknown as MainChannel;
    expect(payload(() => Body.fromSource(channel, 1, undefined).read(10))).toEqual({ tag: 'http-incomplete' });
  });
});

describe('select over pollables', () => {
  function waiter(answer: number | null) {
    const asked: Array<{ items: Waitable[]; timeoutMs: number | null }> = [];
    const wait: Waiter = { wait: (items, timeoutMs) => (asked.push({ items, timeoutMs }), answer) };
    return { asked, wait };
  }

  class Never extends Pollable {
    override readiness() {
      return false;
    }
  }
  class Remote extends Pollable {
    constructor(private readonly id: number) {
      super();
    }
    override readiness() {
      return { pending: this.id };
    }
  }

  it('answers the first handle ready locally without asking the main thread', () => {
    const { asked, wait } = waiter(0);
    expect(selectReady([new Never(), new Remote(1), Pollable.newReady()], null, wait)).toBe(2);
    expect(asked).toEqual([]);
  });

  it('asks about the remote handles only and maps the answer back to the caller’s index', () => {
    const { asked, wait } = waiter(1);
    expect(selectReady([new Remote(5), new Never(), new Remote(6)], 250, wait)).toBe(2);
    expect(asked).toEqual([{ items: [{ pending: 5 }, { pending: 6 }], timeoutMs: 250 }]);
  });

  it('returns null when the main thread reports the timeout', () => {
    expect(selectReady([new Remote(1)], 10, waiter(null).wait)).toBeNull();
  });

  it('times out on handles that can never be ready, and refuses to wait on them forever', () => {
    const started = Date.now();
    expect(selectReady([new Never()], 30, waiter(0).wait)).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(() => selectReady([new Never()], null, waiter(0).wait)).toThrow(/can ever become ready/);
    expect(() => selectReady([], null, waiter(0).wait)).toThrow(/empty list/);
  });
});
