/**
 * Top-level custom sections of a module or component: a section id 0, its size, a name and the
 * payload. witshim marks the components it makes with one (`witshim-adapter-target`), which
 * every tool that does not know it ignores.
 */

const HEADER = 8;
const UTF8 = new TextEncoder();

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/** `bytes` with a custom section `name` holding `data` appended. */
export function appendCustomSection(bytes: Uint8Array, name: string, data: string): Uint8Array {
  const nameBytes = UTF8.encode(name);
  const payload = [...leb(nameBytes.length), ...nameBytes, ...UTF8.encode(data)];
  const section = new Uint8Array([0, ...leb(payload.length), ...payload]);
  const out = new Uint8Array(bytes.length + section.length);
  out.set(bytes);
  out.set(section, bytes.length);
  return out;
}

/** The text of the top-level custom section `name`, if there is one. */
export function readCustomSection(bytes: Uint8Array, name: string): string | undefined {
  let at = HEADER;
  const readLeb = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (at >= bytes.length) throw new Error('truncated section');
      const byte = bytes[at++];
      result += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return result;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const size = readLeb();
    const end = at + size;
    if (end > bytes.length) return undefined;
    if (id === 0) {
      const nameLen = readLeb();
      const found = new TextDecoder().decode(bytes.subarray(at, at + nameLen));
      if (found === name) return new TextDecoder().decode(bytes.subarray(at + nameLen, end));
    }
    at = end;
  }
  return undefined;
}
