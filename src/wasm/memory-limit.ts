/**
 * Caps the linear memories a core module defines: each gets `maxPages` as its maximum (or keeps
 * a smaller one), so `memory.grow` past the cap fails inside the guest (its allocator returns
 * NULL, as on the platform when the heap limit is reached) instead of taking the host's memory.
 * Only the memory section is rewritten; imported memories are capped where they are defined.
 */

/** The memory section's id in the binary format. */
const MEMORY_SECTION = 5;
/** memtype flags: bit 0 has-max (bit 1 shared, bit 2 memory64 keep their meaning; pages count alike). */
const HAS_MAX = 0x01;

export class MemoryLimitError extends Error {}

function readLeb(bytes: Uint8Array, at: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (;;) {
    if (at >= bytes.length) throw new MemoryLimitError('truncated LEB128 in the memory section');
    const byte = bytes[at++]!;
    value |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if ((byte & 0x80) === 0) return { value, next: at };
    if (shift > 70n) throw new MemoryLimitError('LEB128 too long in the memory section');
  }
}

function writeLeb(value: bigint): number[] {
  const out: number[] = [];
  do {
    let byte = Number(value & 0x7fn);
    value >>= 7n;
    if (value !== 0n) byte |= 0x80;
    out.push(byte);
  } while (value !== 0n);
  return out;
}

/** Returns `bytes` with every defined memory's maximum at most `maxPages`; throws when one needs more at start. */
export function limitMemories(bytes: Uint8Array<ArrayBuffer>, maxPages: number): Uint8Array<ArrayBuffer> {
  const limit = BigInt(maxPages);
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at]!;
    const size = readLeb(bytes, at + 1);
    const start = size.next;
    const end = start + Number(size.value);
    if (end > bytes.length) throw new MemoryLimitError('section runs past the end of the module');
    if (id !== MEMORY_SECTION) {
      at = end;
      continue;
    }
    const count = readLeb(bytes, start);
    let cursor = count.next;
    const body: number[] = writeLeb(count.value);
    for (let index = 0n; index < count.value; index++) {
      const flags = bytes[cursor++]!;
      const min = readLeb(bytes, cursor);
      cursor = min.next;
      let max: bigint | undefined;
      if (flags & HAS_MAX) {
        const read = readLeb(bytes, cursor);
        max = read.value;
        cursor = read.next;
      }
      const pages = limit;
      if (min.value > pages) throw new MemoryLimitError(`the guest's memory ${index} starts at ${min.value} pages of 64 KiB, over the memory limit of ${pages} pages`);
      const capped = max === undefined || max > pages ? pages : max;
      body.push(flags | HAS_MAX, ...writeLeb(min.value), ...writeLeb(capped));
    }
    if (cursor !== end) throw new MemoryLimitError('memory section has trailing bytes');
    const header = [MEMORY_SECTION, ...writeLeb(BigInt(body.length))];
    const out = new Uint8Array(at + header.length + body.length + (bytes.length - end));
    out.set(bytes.subarray(0, at), 0);
    out.set(header, at);
    out.set(body, at + header.length);
    out.set(bytes.subarray(end), at + header.length + body.length);
    return out;
  }
  return bytes;
}
