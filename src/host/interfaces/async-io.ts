import { Pollable, selectReady } from '../pollable.js';
import type { Session } from '../session.js';
import type { HostInterface } from '../host-types.js';

export function asyncIo(session: Session) {
  return {
    Pollable,
    select(handles: Pollable[]): number {
      return selectReady(handles, null, session)!;
    },
    selectWithTimeout(handles: Pollable[], timeoutMs: number): number | undefined {
      return selectReady(handles, timeoutMs, session) ?? undefined;
    },
  };
}

// Checked against the WIT (see ../host-types.ts).
asyncIo satisfies (session: Session) => HostInterface<'fastly:compute/async-io'>;
