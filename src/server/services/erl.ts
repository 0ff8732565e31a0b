/**
 * Edge rate limiting for the whole server, on the main thread: rate counters and penalty boxes
 * by name, shared by every worker (the platform shares them within a POP).
 *
 * A rate counter keeps, per entry, one bucket per second for the last minute. `lookup-count`
 * sums the buckets of the last `duration` seconds (the current one included); `lookup-rate` is
 * that sum over `window` seconds divided by the window, rounded down — Fastly's "accumulated
 * counts converted to an estimated rate ... over the window". Counting is exact here, where
 * the platform may under-count by up to 10 % and takes time to converge across its nodes.
 */
import type { HostConfig } from '../../host/config.js';
import type { ErlCheckRateArgs, ErlMethods } from '../../host/services/erl.js';
import { utf8Over } from '../../host/services/kv.js';
import type { Clock } from './kv.js';
import { ServiceError, type ServiceFactory } from './index.js';

/** The windows a rate is estimated over, in seconds (Fastly: "either 1s, 10s or 60s"). */
export const RATE_WINDOWS: readonly number[] = [1, 10, 60];
/** The durations a count can be read over, in seconds (the SDKs' `CounterDuration`). */
export const COUNT_DURATIONS: readonly number[] = [10, 20, 30, 40, 50, 60];
/** Fastly: "An entry can be, at maximum, 256 bytes long". */
export const ERL_MAX_ENTRY_BYTES = 256;
/** Fastly: a penalty box TTL "must be between 1m and 1h", with minute granularity (truncated, per the SDKs). */
export const PENALTY_MIN_TTL_SEC = 60;
export const PENALTY_MAX_TTL_SEC = 3600;
/** Fastly: a penalty box holds up to 200,000 entries; a new one then evicts the one with the least time left. */
export const PENALTY_BOX_CAPACITY = 200_000;
/** Buckets per entry: one per second of the longest window. */
const BUCKETS = 60;
/** Entries idle for a whole minute are dropped on a sweep every this many increments of a counter. */
const SWEEP_EVERY = 4096;
const U32_MAX = 0xffff_ffff;

const invalid = () => new ServiceError({ tag: 'invalid-argument' });

function checkEntry(entry: string): void {
  if (utf8Over(entry, ERL_MAX_ENTRY_BYTES)) throw invalid();
}

/** Per-second counts of one entry: `counts[i]` belongs to second `seconds[i]` (i = second mod 60). */
interface Buckets {
  counts: number[];
  seconds: number[];
  last: number;
}

export class RateCounters {
  private readonly counters = new Map<string, { entries: Map<string, Buckets>; increments: number }>();

  constructor(private readonly now: Clock = Date.now) {}

  increment(counter: string, entry: string, delta: number): void {
    checkEntry(entry);
    const second = this.second();
    let named = this.counters.get(counter);
    if (!named) this.counters.set(counter, (named = { entries: new Map(), increments: 0 }));
    if (++named.increments % SWEEP_EVERY === 0) this.sweep(named.entries, second);
    let buckets = named.entries.get(entry);
    if (!buckets) named.entries.set(entry, (buckets = { counts: new Array<number>(BUCKETS).fill(0), seconds: new Array<number>(BUCKETS).fill(-Infinity), last: second }));
    const slot = second % BUCKETS;
    if (buckets.seconds[slot] !== second) {
      buckets.seconds[slot] = second;
      buckets.counts[slot] = 0;
    }
    buckets.counts[slot]! += delta;
    buckets.last = second;
  }

  /** Events of the last `duration` seconds, this one included. */
  count(counter: string, entry: string, duration: number): number {
    if (!COUNT_DURATIONS.includes(duration)) throw invalid();
    checkEntry(entry);
    return Math.min(this.sum(counter, entry, duration), U32_MAX);
  }

  /** Estimated events per second over the last `window` seconds. */
  rate(counter: string, entry: string, window: number): number {
    if (!RATE_WINDOWS.includes(window)) throw invalid();
    checkEntry(entry);
    return Math.min(Math.floor(this.sum(counter, entry, window) / window), U32_MAX);
  }

  private sum(counter: string, entry: string, seconds: number): number {
    const buckets = this.counters.get(counter)?.entries.get(entry);
    if (!buckets) return 0;
    const now = this.second();
    let total = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const age = now - buckets.seconds[i]!;
      if (age >= 0 && age < seconds) total += buckets.counts[i]!;
    }
    return total;
  }

  private sweep(entries: Map<string, Buckets>, second: number): void {
    for (const [entry, buckets] of entries) if (second - buckets.last >= BUCKETS) entries.delete(entry);
  }

  private second(): number {
    return Math.floor(this.now() / 1000);
  }
}

export class PenaltyBoxes {
  private readonly boxes = new Map<string, Map<string, number>>();

  constructor(
    private readonly now: Clock = Date.now,
    private readonly capacity = PENALTY_BOX_CAPACITY,
  ) {}

  add(box: string, entry: string, ttlSec: number): void {
    checkEntry(entry);
    const ttl = penaltyTtlMs(ttlSec);
    let entries = this.boxes.get(box);
    if (!entries) this.boxes.set(box, (entries = new Map()));
    const now = this.now();
    if (!entries.has(entry) && entries.size >= this.capacity) this.makeRoom(entries, now);
    entries.set(entry, now + ttl);
  }

  has(box: string, entry: string): boolean {
    checkEntry(entry);
    const entries = this.boxes.get(box);
    const until = entries?.get(entry);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    entries!.delete(entry);
    return false;
  }

  private makeRoom(entries: Map<string, number>, now: number): void {
    let soonest: string | undefined;
    let soonestUntil = Infinity;
    for (const [entry, until] of entries) {
      if (until <= now) entries.delete(entry);
      else if (until < soonestUntil) [soonest, soonestUntil] = [entry, until];
    }
    if (entries.size >= this.capacity && soonest !== undefined) entries.delete(soonest);
  }
}

/** A penalty TTL in whole minutes, 1 to 60 of them. */
function penaltyTtlMs(ttlSec: number): number {
  const minutes = Math.floor(ttlSec / 60);
  if (minutes * 60 < PENALTY_MIN_TTL_SEC || minutes * 60 > PENALTY_MAX_TTL_SEC) throw invalid();
  return minutes * 60_000;
}

/**
 * `check-rate`: counts the event, then answers blocked when the entry is in the penalty box
 * already, or its rate over the window now exceeds the limit — in which case it goes into the
 * box for the TTL. Arguments are checked before anything is counted.
 */
export function checkRate(counters: RateCounters, boxes: PenaltyBoxes, args: ErlCheckRateArgs): boolean {
  if (!RATE_WINDOWS.includes(args.window)) throw invalid();
  checkEntry(args.entry);
  penaltyTtlMs(args.ttlSec);
  counters.increment(args.counter, args.entry, args.delta);
  if (boxes.has(args.penaltyBox, args.entry)) return true;
  if (counters.rate(args.counter, args.entry, args.window) <= args.limit) return false;
  boxes.add(args.penaltyBox, args.entry, args.ttlSec);
  return true;
}

/** The rate-limiting service: counters and boxes live as long as the server. */
export function erlService(now: Clock = Date.now): ServiceFactory<keyof ErlMethods> {
  return (_config: HostConfig) => {
    const counters = new RateCounters(now);
    const boxes = new PenaltyBoxes(now);
    return {
      handlers: {
        'erl.check-rate': (args) => checkRate(counters, boxes, args),
        'erl.increment': ({ counter, entry, delta }) => (counters.increment(counter, entry, delta), null),
        'erl.lookup-rate': ({ counter, entry, window }) => counters.rate(counter, entry, window),
        'erl.lookup-count': ({ counter, entry, duration }) => counters.count(counter, entry, duration),
        'erl.penalty-add': ({ penaltyBox, entry, ttlSec }) => (boxes.add(penaltyBox, entry, ttlSec), null),
        'erl.penalty-has': ({ penaltyBox, entry }) => boxes.has(penaltyBox, entry),
      },
    };
  };
}
