import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultWitDir, loadWit, resolveWitSources } from '../wit/load.js';
import type { WitResolve } from '../wit/model.js';

/**
 * Which WIT the adapter is generated against.
 *
 * - `subscribe` (the default): the project's `wit/`, whose `cache.entry`, `cache.replace-entry`
 *   and `http-cache.entry` add `subscribe: func() -> pollable`; `select` / `is_ready` wait on
 *   that pollable. Runs under `witshim serve`.
 * - `published`: the published `fastly:compute@0.1.0`, which lacks those three methods and has
 *   only `step: func() -> option<pollable>`; `select` / `is_ready` drive `step` instead (see
 *   async-io.ts). Runs on every host of the published package.
 */
export type AdapterTarget = 'subscribe' | 'published';
export const ADAPTER_TARGETS: readonly AdapterTarget[] = ['subscribe', 'published'];
export const DEFAULT_TARGET: AdapterTarget = 'subscribe';

export function isAdapterTarget(value: string): value is AdapterTarget {
  return (ADAPTER_TARGETS as readonly string[]).includes(value);
}

/** The resources whose `subscribe` the published package does not have. */
const SUBSCRIBED = ['cache/entry', 'cache/replace-entry', 'http-cache/entry'] as const;
/** A `subscribe` method with its doc comment, as `wit/compute.wit` declares it. */
const SUBSCRIBE_DECL = /\n(?:[ \t]*\/\/\/[^\n]*\n)*[ \t]*subscribe: func\(\) -> pollable;[ \t]*\n/g;

const memo = new Map<AdapterTarget, WitResolve>();

/** The WIT of `target`, resolved. */
export function targetWit(target: AdapterTarget): WitResolve {
  let resolve = memo.get(target);
  if (!resolve) {
    resolve = target === 'subscribe' ? loadWit() : resolveWitSources(publishedWitSources());
    memo.set(target, resolve);
  }
  return resolve;
}

/** `wit/` with the three `subscribe` methods taken out: the published package's functions. */
export function publishedWitSources(dir = defaultWitDir()): Record<string, string> {
  const sources: Record<string, string> = {};
  let removed = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.wit')).sort()) {
    sources[file] = readFileSync(join(dir, file), 'utf8').replace(SUBSCRIBE_DECL, () => {
      removed++;
      return '\n';
    });
  }
  // The project's WIT adds exactly one `subscribe` per subscribed resource; anything else means
  // the two have drifted and the published target would be wrong.
  if (removed !== SUBSCRIBED.length) throw new Error(`expected ${SUBSCRIBED.length} subscribe methods in ${dir}, found ${removed}`);
  return sources;
}

/** The WIT functions `select` / `is_ready` use for tagged handles under each target. */
export const TAGGED_WAIT = {
  subscribe: { cache: 'cache/entry.subscribe', replace: 'cache/replace-entry.subscribe', httpCache: 'http-cache/entry.subscribe' },
  published: { cache: 'cache/entry.step', replace: 'cache/replace-entry.step', httpCache: 'http-cache/entry.step' },
} as const satisfies Record<AdapterTarget, Record<string, `${(typeof SUBSCRIBED)[number]}.${string}`>>;
