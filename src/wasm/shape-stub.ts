/**
 * A core module's shape without its code: the same types, imports, functions, tables, memories,
 * globals, tags and exports, every function body `unreachable`, no data, elements or start.
 * wit-component and jco look only at the shape (see src/server/artifacts.ts), and a stub is a
 * few dozen KB where a js-compute module is 11.5 MB: adapting and transpiling it takes a
 * fraction of the time, and the glue serves the module itself.
 */
import { concat, encodeLeb, Reader } from './imports.js';

/** Section ids of the binary format. */
const SECTION = { custom: 0, function: 3, code: 10 } as const;
/** Copied as they are: type, import, function, table, memory, global, export, tag. */
const KEPT = new Set([1, 2, 3, 4, 5, 6, 7, 13]);
/** Custom sections wit-component reads from a module (its component types): kept, so that it sees what it would. */
const KEPT_CUSTOM = /^component-type/;
/** A body: no locals, `unreachable`, `end`. */
const UNREACHABLE_BODY = [0x03, 0x00, 0x00, 0x0b];

export function shapeStub(bytes: Uint8Array): Uint8Array {
  const r = new Reader(bytes);
  r.pos = 8;
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let functions = 0;
  while (!r.done()) {
    const start = r.pos;
    const id = r.byte();
    const size = r.leb();
    const end = r.pos + size;
    if (id === SECTION.function) {
      functions = r.leb();
    }
    if (KEPT.has(id) || (id === SECTION.custom && KEPT_CUSTOM.test(r.name()))) {
      parts.push(bytes.subarray(start, end));
    } else if (id === SECTION.code) {
      const body = concat([encodeLeb(functions), ...Array.from({ length: functions }, () => Uint8Array.from(UNREACHABLE_BODY))]);
      parts.push(Uint8Array.of(SECTION.code), encodeLeb(body.length), body);
    }
    r.pos = end;
  }
  return concat(parts);
}
