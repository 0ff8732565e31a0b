import { checkOpenName, fromUtf8 } from '../errors.js';
import type { Session } from '../session.js';
import type { HostInterface } from '../host-types.js';

export function log(session: Session): HostInterface<'fastly:compute/log'> {
  class Endpoint {
    private constructor(private readonly name: string) {}

    static open(name: string): Endpoint {
      checkOpenName(name);
      return new Endpoint(name);
    }

    write(message: Uint8Array): void {
      const line = fromUtf8.decode(message).replace(/\r?\n$/, '');
      session.channel.notify({ op: 'log', endpoint: this.name, line });
    }
  }
  return { Endpoint };
}

