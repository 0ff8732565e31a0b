import type { Body } from '../body.js';
import { fail } from '../errors.js';
import { Headers } from '../headers.js';
import { Response } from '../messages.js';
import type { Pollable } from '../pollable.js';
import { isInformational, type HeaderEdit, type OutgoingBody } from '../protocol.js';
import type { Session } from '../session.js';
import { PendingResponse } from './http-req.js';
import type { HostInterface } from '../host-types.js';

type PendingResponseKind = 'any' | 'response' | 'error';

function asPending(handle: Pollable): PendingResponse {
  if (!(handle instanceof PendingResponse)) fail('invalid-argument');
  return handle;
}

/** Records an edit for the kinds of response `target` names, as Viceroy keeps one list per kind. */
function editPending(handle: Pollable, target: PendingResponseKind, edit: HeaderEdit): void {
  const pending = asPending(handle);
  if (target !== 'error') pending.responseEdits.push(edit);
  if (target !== 'response') pending.errorEdits.push(edit);
}

/** Validates a header edit now, as the platform does, rather than when the response arrives. */
function checked(edit: HeaderEdit): HeaderEdit {
  const probe = new Headers();
  if (edit.op === 'remove') probe.remove(edit.name, false);
  else probe.append(edit.name, edit.value);
  return edit.op === 'remove' ? { op: 'remove', name: edit.name } : { op: edit.op, name: edit.name, value: edit.value.slice() };
}

export function httpResp(session: Session) {
  /** Claims the one downstream response; without a downstream request (`witshim run`) it goes nowhere. */
  function claimResponse(): void {
    if (session.responded) fail('http-user');
    session.responded = true;
  }
  function respond(response: Response, body: () => OutgoingBody): void {
    // An informational response (1xx but 101) goes ahead of the final one, which is still owed.
    if (isInformational(response.status)) {
      if (session.responded) fail('http-user');
      session.channel.notify({ op: 'respond', status: response.status, head: response.head(), body: body() });
      return;
    }
    claimResponse();
    session.channel.notify({ op: 'respond', status: response.status, head: response.head(), body: body() });
  }
  return {
    Response,
    sendDownstream(response: Response, body: Body): void {
      respond(response, () => body.transfer());
    },
    sendDownstreamStreaming(response: Response, body: Body): void {
      respond(response, () => body.startStreaming());
    },
    sendDownstreamPending(handle: Pollable): void {
      const pending = asPending(handle);
      if (session.responded) fail('http-user');
      pending.forwardDownstream();
      session.responded = true;
    },
    insertHeaderPending(handle: Pollable, name: string, value: Uint8Array, target: PendingResponseKind): void {
      editPending(handle, target, checked({ op: 'insert', name, value }));
    },
    appendHeaderPending(handle: Pollable, name: string, value: Uint8Array, target: PendingResponseKind): void {
      editPending(handle, target, checked({ op: 'append', name, value }));
    },
    removeHeaderPending(handle: Pollable, name: string, target: PendingResponseKind): void {
      editPending(handle, target, checked({ op: 'remove', name }));
    },
    close(): void {},
  };
}

// Checked against the WIT (see ../host-types.ts).
httpResp satisfies (session: Session) => HostInterface<'fastly:compute/http-resp'>;
