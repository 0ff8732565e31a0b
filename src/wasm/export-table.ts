/**
 * Moves a core module's function exports into one exported table.
 *
 * V8 makes a JavaScript function object for every exported function when a module is
 * instantiated, used or not: about 2 µs each here, twice that right after a large instance has
 * flushed the caches. The adapter module of the js-compute hello exports 161 functions, of which a
 * request calls a handful; instantiated per request, they were ~1 ms of a ~9 ms fresh instance.
 * From a table, `table.get(i)` makes a function object only for what is called (see
 * src/host/lazy-exports.ts for the runner's side). Only the export, table and element sections
 * change; function indices, code and every other section are copied as they are.
 */
import { concat, encodeLeb, encodeName, readModuleInterface, Reader } from './imports.js';

const SECTION = { table: 4, export: 7, element: 9 } as const;
/** Where each known section goes, by id (custom sections, id 0, stay where they are). */
const SECTION_ORDER: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13 };
const EXPORT_KIND = { function: 0, table: 1, memory: 2, global: 3, tag: 4 } as const;
const FUNCREF = 0x70;
/** An active element segment with an explicit table index and a `funcref` element kind of function indices. */
const ELEM_ACTIVE_TABLE = 2;
const ELEMKIND_FUNCREF = 0;
/** `i32.const 0; end`: the segment's offset. */
const OFFSET_ZERO = Uint8Array.of(0x41, 0x00, 0x0b);

export interface TabledExports {
  bytes: Uint8Array;
  /** The function exports now in the table, by their index in it. */
  names: string[];
}

function section(id: number, body: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(id), encodeLeb(body.length), body]);
}

/** A vector section's body with `extra` appended (its count read from the old body, if any). */
function appendToVector(old: Uint8Array | undefined, extra: Uint8Array): Uint8Array {
  if (!old) return concat([encodeLeb(1), extra]);
  const r = new Reader(old);
  const count = r.leb();
  return concat([encodeLeb(count + 1), old.subarray(r.pos), extra]);
}

/**
 * The module with its function exports moved into one table, exported as `tableName` (undefined
 * when it has none to move). `keep` names function exports that stay exports.
 */
export function tableExports(bytes: Uint8Array, tableName: string, keep: (name: string) => boolean = () => false): TabledExports | undefined {
  const { imports, exports } = readModuleInterface(bytes);
  const moved = exports.filter((entry) => entry.kind === 'function' && !keep(entry.name));
  if (moved.length === 0) return undefined;

  // Read the sections; the three rewritten ones by their payload.
  const r = new Reader(bytes);
  r.pos = 8;
  const sections: Array<{ id: number; raw: Uint8Array }> = [];
  const payload: Partial<Record<number, Uint8Array>> = {};
  while (!r.done()) {
    const start = r.pos;
    const id = r.byte();
    const size = r.leb();
    const end = r.pos + size;
    if (id === SECTION.table || id === SECTION.element) payload[id] = bytes.subarray(r.pos, end);
    sections.push({ id, raw: bytes.subarray(start, end) });
    r.pos = end;
  }

  // The new table comes after every imported and defined one, so no existing index moves.
  const tables = payload[SECTION.table];
  const definedTables = tables ? new Reader(tables).leb() : 0;
  const tableIndex = imports.filter((entry) => entry.kind === 'table').length + definedTables;
  const size = encodeLeb(moved.length);
  const table = concat([Uint8Array.of(FUNCREF, 0x01), size, size]);
  const segment = concat([Uint8Array.of(ELEM_ACTIVE_TABLE), encodeLeb(tableIndex), OFFSET_ZERO, Uint8Array.of(ELEMKIND_FUNCREF), size, ...moved.map((entry) => encodeLeb(entry.index))]);
  const kept = exports.filter((entry) => !moved.includes(entry));
  const exportBody = concat([
    encodeLeb(kept.length + 1),
    ...kept.map((entry) => concat([encodeName(entry.name), Uint8Array.of(EXPORT_KIND[entry.kind]), encodeLeb(entry.index)])),
    encodeName(tableName),
    Uint8Array.of(EXPORT_KIND.table),
    encodeLeb(tableIndex),
  ]);
  const replaced: Record<number, Uint8Array> = {
    [SECTION.table]: section(SECTION.table, appendToVector(payload[SECTION.table], table)),
    [SECTION.export]: section(SECTION.export, exportBody),
    [SECTION.element]: section(SECTION.element, appendToVector(payload[SECTION.element], segment)),
  };

  // Copy the sections in order, each rewritten one in its place (or where it belongs, if new).
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  const pending = new Set(Object.keys(replaced).map(Number));
  const placeUpTo = (rank: number) => {
    for (const id of [...pending].sort((a, b) => SECTION_ORDER[a]! - SECTION_ORDER[b]!)) {
      if (SECTION_ORDER[id]! > rank) break;
      parts.push(replaced[id]!);
      pending.delete(id);
    }
  };
  for (const { id, raw } of sections) {
    if (id === 0) {
      parts.push(raw);
      continue;
    }
    placeUpTo(SECTION_ORDER[id] ?? 0);
    if (!(id in replaced)) parts.push(raw);
  }
  placeUpTo(Infinity);
  return { bytes: concat(parts), names: moved.map((entry) => entry.name) };
}
