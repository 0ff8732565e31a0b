/**
 * Finds the wit-component shim/fixup pairs of a transpiled guest that the host may replace with
 * JavaScript (see src/host/indirect-calls.ts for why). A pair qualifies only when it is proven
 * to be exactly an indirection: its shape is checked from the binaries, then its behaviour by
 * calling every slot once. Anything else keeps the real modules, so a wit-component that one day
 * emits a different shim costs speed, never correctness.
 */
import { FIXUP_FUNCTIONS_MODULE, FIXUP_TABLE_MODULE, SHIM_TABLE, type IndirectShim } from '../host/indirect-calls.js';
import { readModuleInterface, type WasmFuncType, type WasmModuleInterface, type WasmValType } from '../wasm/imports.js';

/** Value types a JavaScript forwarder passes through unchanged (v128 cannot cross into JS; references are not probed). */
const FORWARDABLE: ReadonlySet<WasmValType> = new Set(['i32', 'i64', 'f32', 'f64']);

const sameType = (a: WasmFuncType, b: WasmFuncType) => a.params.join() === b.params.join() && a.results.join() === b.results.join();

/** `"0"`…`String(n - 1)`, each once: the slot names wit-component gives. */
function slotIndex(name: string, count: number): number | undefined {
  if (!/^(0|[1-9][0-9]*)$/.test(name)) return undefined;
  const index = Number(name);
  return index < count ? index : undefined;
}

/**
 * A shim imports nothing and exports one table, `$imports`, and function `i` for each slot
 * (at most one result, forwardable types). Its slot types, else undefined.
 */
function shimSlots({ imports, exports }: WasmModuleInterface): WasmFuncType[] | undefined {
  if (imports.length !== 0) return undefined;
  const functions = exports.filter((e) => e.kind === 'function');
  if (exports.length !== functions.length + 1 || !exports.some((e) => e.kind === 'table' && e.name === SHIM_TABLE)) return undefined;
  const slots = new Array<WasmFuncType | undefined>(functions.length);
  for (const { name, type } of functions) {
    const index = slotIndex(name, functions.length);
    if (index === undefined || slots[index] || !type || !forwardable(type)) return undefined;
    slots[index] = type;
  }
  return slots as WasmFuncType[];
}

function forwardable(type: WasmFuncType): boolean {
  return type.results.length <= 1 && [...type.params, ...type.results].every((t) => FORWARDABLE.has(t));
}

/** A fixup exports nothing and imports the shim's table and `actual.i` for each slot, typed as the shim's slot `i`. */
function fixupFits({ imports, exports }: WasmModuleInterface, slots: WasmFuncType[]): boolean {
  if (exports.length !== 0 || imports.length !== slots.length + 1) return false;
  const seen = new Set<number>();
  for (const entry of imports) {
    if (entry.kind === 'table') {
      if (entry.module !== FIXUP_TABLE_MODULE || entry.name !== SHIM_TABLE) return false;
      continue;
    }
    const index = entry.module === FIXUP_FUNCTIONS_MODULE ? slotIndex(entry.name, slots.length) : undefined;
    if (entry.kind !== 'function' || index === undefined || seen.has(index) || !entry.type || !sameType(entry.type, slots[index]!)) return false;
    seen.add(index);
  }
  return seen.size === slots.length;
}

/** A value of type `t` that tells slot `slot`'s argument `k` apart from every other. */
function probeValue(t: WasmValType, slot: number, k: number): unknown {
  const n = slot * 32 + k + 1;
  switch (t) {
    case 'i32':
      return n;
    case 'i64':
      return BigInt(n) << 33n;
    case 'f32':
      return n + 0.5;
    case 'f64':
      return n + 0.25;
    default:
      throw new Error(`no probe value for ${t}`);
  }
}

/**
 * Instantiates the real pair once and calls every slot through the shim: each call must reach
 * `actual.i` of its own slot, with the same arguments, and return what it returned.
 */
function behavesAsIndirection(shim: WebAssembly.Module, fixup: WebAssembly.Module, slots: WasmFuncType[]): boolean {
  const calls: Array<{ slot: number; args: unknown[] }> = [];
  const result = (slot: number) => (slots[slot]!.results.length ? probeValue(slots[slot]!.results[0]!, slot, 31) : undefined);
  const actual = Object.fromEntries(slots.map((_, slot) => [String(slot), (...args: unknown[]) => (calls.push({ slot, args }), result(slot))]));
  try {
    const exports = new WebAssembly.Instance(shim).exports as Record<string, unknown>;
    new WebAssembly.Instance(fixup, { [FIXUP_TABLE_MODULE]: { [SHIM_TABLE]: exports[SHIM_TABLE] as WebAssembly.Table }, [FIXUP_FUNCTIONS_MODULE]: actual });
    return slots.every((type, slot) => {
      calls.length = 0;
      const args = type.params.map((t, k) => probeValue(t, slot, k));
      const returned = (exports[String(slot)] as (...a: unknown[]) => unknown)(...args);
      const [call] = calls;
      return calls.length === 1 && call!.slot === slot && call!.args.length === args.length && call!.args.every((v, k) => v === args[k]) && returned === result(slot);
    });
  } catch {
    return false;
  }
}

/** Every proven shim/fixup pair among a transpiled guest's core modules (by file name). */
export function findIndirectShims(files: Record<string, Uint8Array>): IndirectShim[] {
  const found: IndirectShim[] = [];
  const interfaces = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, readModuleInterface(bytes)]));
  for (const shim of Object.keys(files)) {
    const slots = shimSlots(interfaces[shim]!);
    if (!slots) continue;
    const fixups = Object.keys(files).filter((name) => fixupFits(interfaces[name]!, slots));
    // Two fixups that fit one shim could be paired either way: keep the real modules.
    const [fixup] = fixups;
    if (fixups.length === 1 && behavesAsIndirection(compile(files[shim]!), compile(files[fixup!]!), slots)) found.push({ shim, fixup: fixup!, slots: slots.length });
  }
  return found;
}

const compile = (bytes: Uint8Array) => new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
