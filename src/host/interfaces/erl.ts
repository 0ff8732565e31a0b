import type { HostInterface } from '../host-types.js';
import { checkOpenName, fail } from '../errors.js';
import type { Session } from '../session.js';
import { sessionView } from '../session-view.js';

/**
 * `fastly:compute/erl` (legacy `fastly_erl`, which the adapter maps by opening the named
 * counter and box for each call). Counters and boxes live on the main thread
 * (`src/server/services/erl.ts`), shared by every worker; a handle is just the name.
 */
/** A penalty box or a rate counter: on the main thread both are known by their name alone. */
abstract class Named {
  protected constructor(
    protected readonly session: Session,
    readonly name: string,
  ) {}

  getName(): string {
    return this.name;
  }
}

class PenaltyBox extends Named {
  static open(session: Session, name: string): PenaltyBox {
    checkOpenName(name);
    return new PenaltyBox(session, name);
  }

  add(entry: string, ttl: number): void {
    this.session.service('erl.penalty-add', { penaltyBox: this.name, entry, ttlSec: ttl });
  }

  has(entry: string): boolean {
    return this.session.service('erl.penalty-has', { penaltyBox: this.name, entry });
  }
}

class RateCounter extends Named {
  static open(session: Session, name: string): RateCounter {
    checkOpenName(name);
    return new RateCounter(session, name);
  }

  checkRate(entry: string, delta: number, window: number, limit: number, penaltyBox: unknown, ttl: number): boolean {
    if (!(penaltyBox instanceof PenaltyBox)) fail('invalid-argument');
    return this.session.service('erl.check-rate', { counter: this.name, entry, delta, window, limit, penaltyBox: penaltyBox.name, ttlSec: ttl });
  }

  increment(entry: string, delta: number): void {
    this.session.service('erl.increment', { counter: this.name, entry, delta });
  }

  lookupRate(entry: string, window: number): number {
    return this.session.service('erl.lookup-rate', { counter: this.name, entry, window });
  }

  lookupCount(entry: string, duration: number): number {
    return this.session.service('erl.lookup-count', { counter: this.name, entry, duration });
  }
}

export function erl(session: Session): HostInterface<'fastly:compute/erl'> {
  return { RateCounter: sessionView(RateCounter, session, ['open']), PenaltyBox: sessionView(PenaltyBox, session, ['open']) };
}
