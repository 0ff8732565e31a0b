import { Body } from '../body.js';
import { fail, fitString } from '../errors.js';
import { Request } from '../messages.js';
import type { HostInterface } from '../host-types.js';

interface InspectOptions {
  corp?: string;
  workspace?: string;
}

/** Viceroy's mock Next-Gen WAF verdict: every request is allowed. */
const VERDICT = '{"waf_response":200,"redirect_url":"","tags":[],"verdict":"allow","decision_ms":0}';

/** The interface needs nothing of the session: one object for every instance. */
const SECURITY = {
  ExtraInspectOptions: class ExtraInspectOptions {},
  inspect(request: unknown, body: unknown, options: InspectOptions, maxLen: bigint): string {
    if (!(request instanceof Request) || !(body instanceof Body)) fail('invalid-argument');
    // The platform needs both to find the WAF workspace; Viceroy insists on them too.
    if (!options.corp || !options.workspace) fail('invalid-argument');
    return fitString(VERDICT, maxLen);
  },
};

export function security() {
  return SECURITY;
}

// Checked against the WIT (see ../host-types.ts).
security satisfies () => HostInterface<'fastly:compute/security'>;
