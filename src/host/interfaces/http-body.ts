import { Body } from '../body.js';
import { fail, fitBytes, HostError, utf8 } from '../errors.js';
import { encodeWithCursor } from '../headers.js';
import type { Pollable } from '../pollable.js';
import type { Session } from '../session.js';

function asBody(handle: Pollable): Body {
  if (!(handle instanceof Body)) fail('invalid-argument');
  return handle;
}

/** Trailer getters report plain errors wrapped in `trailer-error.error`. */
function asTrailerResult<T>(compute: () => T): T {
  try {
    return compute();
  } catch (err) {
    if (err instanceof HostError) throw new HostError({ tag: 'error', val: err.payload });
    throw err;
  }
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
    // Trailers of incoming bodies are not relayed by the dev server, only those the guest added.
    getTrailerNames: (body: Pollable, maxLen: bigint, cursor: number): [string, number | undefined] =>
      asTrailerResult(() => {
        const names = [...new Set(asBody(body).trailerList().map(([name]) => name))];
        const [bytes, next] = encodeWithCursor(names.map((name) => utf8.encode(name)), maxLen, cursor);
        return [new TextDecoder().decode(bytes), next];
      }),
    getTrailerValue: (body: Pollable, name: string, maxLen: bigint): Uint8Array | undefined =>
      asTrailerResult(() => {
        const found = asBody(body).trailerList().find(([entry]) => entry === name.toLowerCase());
        return found === undefined ? undefined : fitBytes(found[1], maxLen);
      }),
    getTrailerValues: (body: Pollable, name: string, maxLen: bigint, cursor: number): [Uint8Array, number | undefined] =>
      asTrailerResult(() => {
        const values = asBody(body)
          .trailerList()
          .filter(([entry]) => entry === name.toLowerCase())
          .map(([, value]) => value);
        return encodeWithCursor(values, maxLen, cursor);
      }),
  };
}
