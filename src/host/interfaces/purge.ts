/**
 * `fastly:compute/purge` in the worker: purges by surrogate key run on the server-wide cache
 * store (`src/server/services/cache.ts`); the verbose form answers the purge API's JSON.
 */
import { fitString } from '../errors.js';
import type { Session } from '../session.js';

/** Options with nothing to set; its WIT constructor is called by the glue. */
class ExtraPurgeOptions {}

export function purgeInterface(session: Session) {
  return {
    ExtraPurgeOptions,
    purgeSurrogateKey(surrogateKeys: string, options: { softPurge: boolean }): void {
      session.service('purge.surrogate-key', { surrogateKey: surrogateKeys, soft: options.softPurge });
    },
    purgeSurrogateKeyVerbose(surrogateKeys: string, options: { softPurge: boolean }, maxLen: bigint): string {
      return fitString(session.service('purge.surrogate-key', { surrogateKey: surrogateKeys, soft: options.softPurge }).json, maxLen);
    },
  };
}
