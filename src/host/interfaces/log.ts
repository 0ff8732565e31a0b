import { checkOpenName, fromUtf8 } from '../errors.js';
import type { Session } from '../session.js';
import type { HostInterface } from '../host-types.js';
import { sessionView } from '../session-view.js';

class Endpoint {
  private constructor(
    private readonly session: Session,
    private readonly name: string,
  ) {}

  static open(session: Session, name: string): Endpoint {
    checkOpenName(name);
    return new Endpoint(session, name);
  }

  write(message: Uint8Array): void {
    const line = fromUtf8.decode(message).replace(/\r?\n$/, '');
    this.session.channel.notify({ op: 'log', endpoint: this.name, line });
  }
}

export function log(session: Session): HostInterface<'fastly:compute/log'> {
  return { Endpoint: sessionView(Endpoint, session, ['open']) };
}
