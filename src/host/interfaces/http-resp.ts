import type { Body } from '../body.js';
import { fail } from '../errors.js';
import { Response } from '../messages.js';
import type { OutgoingBody } from '../protocol.js';
import type { Session } from '../session.js';

export function httpResp(session: Session) {
  function respond(response: Response, body: () => OutgoingBody): void {
    if (session.downstream === undefined) fail('unsupported');
    if (session.responded) fail('http-user');
    session.responded = true;
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
    // Forwarding a pending backend response without the guest seeing it is not offered locally.
    sendDownstreamPending(): void {
      fail('unsupported');
    },
    insertHeaderPending(): void {
      fail('unsupported');
    },
    appendHeaderPending(): void {
      fail('unsupported');
    },
    removeHeaderPending(): void {
      fail('unsupported');
    },
    close(): void {},
  };
}
