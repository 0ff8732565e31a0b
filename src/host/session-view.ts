/**
 * Resource classes shared by every session, seen by one session's glue.
 *
 * jco's glue takes from each interface, per resource, an object it uses three ways: its static
 * functions (`Store.open(name)`), `instanceof` on what the host returns, and `prototype`. The
 * host once declared its resource classes inside a per-session factory, so that methods could
 * reach the session; every fresh instance then defined ~40 classes, which V8 does in its
 * interpreter at ~5–15 µs each (~0.3 ms of a ~9 ms instance). Now a class is defined once at
 * module level: an object of it keeps its own session, its static functions take the session
 * first, and each session gets a view binding them.
 */
import type { Session } from './session.js';

/** A static function as the glue calls it: without the session. */
type Bound<F> = F extends (session: Session, ...args: infer A) => infer R ? (...args: A) => R : never;

export type SessionView<C extends { prototype: object }, K extends keyof C> = { prototype: C['prototype'] } & { [N in K]: Bound<C[N]> };

/** `value instanceof cls`, made once per class: the views of every session share it. */
const instanceTests = new WeakMap<object, (value: unknown) => boolean>();

function instanceTest(cls: { prototype: object }): (value: unknown) => boolean {
  let test = instanceTests.get(cls);
  if (!test) {
    const prototype = cls.prototype;
    test = (value) => typeof value === 'object' && value !== null && prototype.isPrototypeOf(value);
    instanceTests.set(cls, test);
  }
  return test;
}

/**
 * The object the glue sees as resource class `cls` in `session`: `statics` bound to the session,
 * `instanceof` and `prototype` those of `cls`. Not callable: only for resources whose WIT has no
 * constructor (the glue calls `new` on those alone).
 */
export function sessionView<C extends { prototype: object }, K extends keyof C & string>(cls: C, session: Session, statics: readonly K[]): SessionView<C, K> {
  const view: Record<PropertyKey, unknown> = { prototype: cls.prototype, [Symbol.hasInstance]: instanceTest(cls) };
  for (const name of statics) {
    const fn = cls[name] as (session: Session, ...args: unknown[]) => unknown;
    view[name] = (...args: unknown[]) => fn.call(cls, session, ...args);
  }
  return view as SessionView<C, K>;
}
