/**
 * What a reload replaced (a worker pool, a set of stores) is stopped later, not at once: requests
 * in flight finish on the old guest first. Each stop runs once: after the grace period, or when
 * the server closes (its workers would otherwise hold the process open until the grace ends).
 */

/** How long requests in flight keep the guest and stores a reload replaced. */
export const RELOAD_GRACE_MS = 30_000;

export interface Retirer {
  /** Runs `close` after the grace period, or at `stopAll`, whichever comes first. */
  retire(close: () => void | Promise<void>): void;
  /** Runs every pending stop now. */
  stopAll(): Promise<void>;
}

export function createRetirer(graceMs = RELOAD_GRACE_MS): Retirer {
  const pending = new Set<() => Promise<void>>();
  return {
    retire(close) {
      let done: Promise<void> | undefined;
      const stop = () => (done ??= (pending.delete(stop), Promise.resolve(close())));
      pending.add(stop);
      setTimeout(() => void stop(), graceMs).unref();
    },
    async stopAll() {
      await Promise.all([...pending].map((stop) => stop()));
    },
  };
}
