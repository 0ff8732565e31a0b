import type { HostInterface } from '../host-types.js';
import type { Session } from '../session.js';

/**
 * `witshim:adapter/trace` (wit/witshim.wit): an adapter built with the hostcall trace reports each legacy
 * hostcall here as it returns. The report goes to the main thread in order with the request's
 * other notices; the server numbers nothing itself (ids are the adapter's, see
 * src/server/hostcall-trace.ts). Untraced adapters never call it.
 */
export function adapterTrace(session: Session) {
  return {
    hostcall: (id: number, status: number) => session.channel.notify({ op: 'hostcall', id, status }),
  };
}

// Checked against the WIT (see ../host-types.ts).
adapterTrace satisfies (session: Session) => HostInterface<'witshim:adapter/trace'>;
