import { Pollable, selectReady } from '../pollable.js';
import type { Session } from '../session.js';

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
