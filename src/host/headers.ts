import { fail, fitBytes, HostError, utf8 } from './errors.js';
import type { HeaderEdit, HeaderList } from './protocol.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function checkName(name: string): string {
  if (!TOKEN.test(name)) fail('invalid-argument');
  return name.toLowerCase();
}

export function checkValue(value: Uint8Array): Uint8Array {
  if (value.includes(0x0a) || value.includes(0x0d) || value.includes(0)) fail('invalid-argument');
  return value.slice();
}

/**
 * Encodes `items[cursor..]` each followed by NUL into at most `maxLen` bytes, the way the
 * ABI's cursor-based getters do; the second value is the cursor to continue from.
 */
export function encodeWithCursor(items: Uint8Array[], maxLen: bigint, cursor: number): [Uint8Array, number | undefined] {
  const parts: Uint8Array[] = [];
  let used = 0;
  for (let index = cursor; index < items.length; index++) {
    const item = items[index]!;
    if (BigInt(used + item.length + 1) > maxLen) {
      if (parts.length === 0) throw new HostError({ tag: 'buffer-len', val: BigInt(item.length + 1) });
      return [concat(parts, used), index];
    }
    parts.push(item, NUL);
    used += item.length + 1;
  }
  return [concat(parts, used), undefined];
}

const NUL = new Uint8Array([0]);

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const latin1 = new TextDecoder('latin1');

/** Ordered header multimap with lower-cased names, as requests and responses hold them. */
export class Headers {
  private entries: HeaderList;

  constructor(entries: HeaderList = []) {
    this.entries = entries.map(([name, value]) => [name.toLowerCase(), value]);
  }

  list(): HeaderList {
    return this.entries.map(([name, value]) => [name, value]);
  }

  names(): string[] {
    return [...new Set(this.entries.map(([name]) => name))];
  }

  values(name: string): Uint8Array[] {
    const key = name.toLowerCase();
    return this.entries.filter(([entry]) => entry === key).map(([, value]) => value);
  }

  text(name: string): string | undefined {
    const first = this.values(name)[0];
    return first === undefined ? undefined : latin1.decode(first);
  }

  insert(name: string, value: Uint8Array): void {
    const key = checkName(name);
    const checked = checkValue(value);
    const kept: HeaderList = [];
    let placed = false;
    for (const entry of this.entries) {
      if (entry[0] !== key) kept.push(entry);
      else if (!placed) {
        kept.push([key, checked]);
        placed = true;
      }
    }
    if (!placed) kept.push([key, checked]);
    this.entries = kept;
  }

  append(name: string, value: Uint8Array): void {
    this.entries.push([checkName(name), checkValue(value)]);
  }

  /** `set-header-values`: replaces all values with the NUL-terminated list in `packed`. */
  setPacked(name: string, packed: Uint8Array): void {
    const key = checkName(name);
    const values: Uint8Array[] = [];
    let start = 0;
    for (let index = 0; index < packed.length; index++) {
      if (packed[index] === 0) {
        values.push(checkValue(packed.subarray(start, index)));
        start = index + 1;
      }
    }
    if (start < packed.length) values.push(checkValue(packed.subarray(start)));
    this.remove(key, false);
    for (const value of values) this.entries.push([key, value]);
  }

  /** Returns false when there was nothing to remove. */
  remove(name: string, mustExist = true): boolean {
    const key = checkName(name);
    const before = this.entries.length;
    this.entries = this.entries.filter(([entry]) => entry !== key);
    if (mustExist && before === this.entries.length) fail('invalid-argument');
    return before !== this.entries.length;
  }

  getNames(maxLen: bigint, cursor: number): [string, number | undefined] {
    const [bytes, next] = encodeWithCursor(this.names().map((name) => utf8.encode(name)), maxLen, cursor);
    return [new TextDecoder().decode(bytes), next];
  }

  getValue(name: string, maxLen: bigint): Uint8Array | undefined {
    const first = this.values(checkName(name))[0];
    return first === undefined ? undefined : fitBytes(first, maxLen);
  }

  getValues(name: string, maxLen: bigint, cursor: number): [Uint8Array, number | undefined] {
    return encodeWithCursor(this.values(checkName(name)), maxLen, cursor);
  }
}

/** Applies header edits made on a pending response to the headers it arrived with. */
export function applyEdits(list: HeaderList, edits: HeaderEdit[]): HeaderList {
  if (edits.length === 0) return list;
  const headers = new Headers(list);
  for (const edit of edits) {
    if (edit.op === 'insert') headers.insert(edit.name, edit.value);
    else if (edit.op === 'append') headers.append(edit.name, edit.value);
    else headers.remove(edit.name, false);
  }
  return headers.list();
}
