import { Body } from '../body.js';
import { fail, fitBytes, HostError, utf8 } from '../errors.js';
import { encodeWithCursor } from '../headers.js';
import type { Pollable } from '../pollable.js';
import type { Session } from '../session.js';
import type { HostInterface } from '../host-types.js';

function asBody(handle: Pollable): Body {
  if (!(handle instanceof Body)) fail('invalid-argument');
  return handle;
}

/** Trailer getters report plain errors wrapped in `trailer-error.error`, and unread bodies as `not-available-yet`. */
function asTrailerResult<T>(handle: Pollable, compute: (body: Body) => T): T {
  let result: { value: T } | undefined;
  try {
    const body = asBody(handle);
    if (body.trailersReady()) result = { value: compute(body) };
  } catch (err) {
    if (err instanceof HostError) throw new HostError({ tag: 'error', val: err.payload });
    throw err;
  }
  if (result === undefined) throw new HostError({ tag: 'not-available-yet' });
  return result.value;
}

export function httpBody(session: Session) {
  return {
    new: () => new Body(session.channel),
    append: (dest: Pollable, src: Pollable) => asBody(dest).append(asBody(src)),
    read: (body: Pollable, chunkSize: number) => asBody(body).read(chunkSize),
    write: (body: Pollable, bytes: Uint8Array) => asBody(body).write(bytes),
    writeFront: (body: Pollable, bytes: Uint8Array) => asBody(body).writeFront(bytes),
    close: (body: Pollable) => asBody(body).close(),
    getKnownLength: (body: Pollable) => asBody(body).knownLength(),
    appendTrailer: (body: Pollable, name: string, value: Uint8Array) => asBody(body).appendTrailer(name, value),
    getTrailerNames: (handle: Pollable, maxLen: bigint, cursor: number): [string, number | undefined] =>
      asTrailerResult(handle, (body) => {
        const names = [...new Set(body.trailerList().map(([name]) => name))];
        const [bytes, next] = encodeWithCursor(names.map((name) => utf8.encode(name)), maxLen, cursor);
        return [new TextDecoder().decode(bytes), next];
      }),
    getTrailerValue: (handle: Pollable, name: string, maxLen: bigint): Uint8Array | undefined =>
      asTrailerResult(handle, (body) => {
        const found = body.trailerList().find(([entry]) => entry === name.toLowerCase());
        return found === undefined ? undefined : fitBytes(found[1], maxLen);
      }),
    getTrailerValues: (handle: Pollable, name: string, maxLen: bigint, cursor: number): [Uint8Array, number | undefined] =>
      asTrailerResult(handle, (body) => {
        const values = body
          .trailerList()
          .filter(([entry]) => entry === name.toLowerCase())
          .map(([, value]) => value);
        return encodeWithCursor(values, maxLen, cursor);
      }),
  };
}

// Checked against the WIT (see ../host-types.ts).
httpBody satisfies (session: Session) => HostInterface<'fastly:compute/http-body'>;
