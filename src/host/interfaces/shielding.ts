import { DEFAULT_TIMEOUTS, type BackendSpec } from '../config.js';
import { fail, fitString } from '../errors.js';
import type { Session } from '../session.js';
import { Backend } from './backend.js';
import type { HostInterface } from '../host-types.js';

class ShieldBackendOptions {
  firstByteTimeoutMs: number | undefined;
  betweenBytesTimeoutMs: number | undefined;

  // The cache key only matters to a real shield's cache.
  setCacheKey(): void {}
  setFirstByteTimeout(value: number): void {
    this.firstByteTimeoutMs = value;
  }
  setBetweenBytesTimeout(value: number): void {
    this.betweenBytesTimeoutMs = value;
  }
}

/** `shielding`, from `[local_server.shielding_sites]` as Viceroy reads it. */
export function shielding(session: Session) {
  return {
    ShieldBackendOptions,
    /** Viceroy's layout: 1 byte "running on this shield", then the unencrypted and encrypted URLs, each NUL-terminated. */
    shieldInfo(name: string, maxLen: bigint): string {
      const site = session.config.shieldingSites[name];
      if (site === undefined) fail('invalid-argument');
      const info = site === 'local' ? '\x01\0\0' : `\0${site.unencrypted}\0${site.encrypted}\0`;
      return fitString(info, maxLen);
    },
    /**
     * As Viceroy: `name` is the shield's URL (what `shield-info` gave), the backend is named after
     * it, and asking twice for the same one in a request fails as a name already taken.
     */
    backendForShield(name: string, options: ShieldBackendOptions | undefined): Backend {
      const url = URL.canParse(name) ? new URL(name) : undefined;
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) fail('invalid-argument');
      const backendName = `******${url.href}*****`;
      if (session.backend(backendName)) fail('generic-error');
      const spec: BackendSpec = {
        name: backendName,
        url: url.href,
        useSni: false,
        dynamic: true,
        ...DEFAULT_TIMEOUTS,
        firstByteTimeoutMs: options?.firstByteTimeoutMs ?? DEFAULT_TIMEOUTS.firstByteTimeoutMs,
        betweenBytesTimeoutMs: options?.betweenBytesTimeoutMs ?? DEFAULT_TIMEOUTS.betweenBytesTimeoutMs,
      };
      session.dynamicBackends.set(backendName, spec);
      return new Backend(session, spec);
    },
  };
}

// Checked against the WIT (see ../host-types.ts).
shielding satisfies (session: Session) => HostInterface<'fastly:compute/shielding'>;
