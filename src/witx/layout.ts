import { resolveType } from './resolve.js';
import type { WitxAbi, WitxBuiltin, WitxType } from './types.js';

export interface WitxFieldLayout {
  name: string;
  offset: number;
  type: WitxType;
}

export interface WitxLayout {
  size: number;
  align: number;
  /** Record fields, or tuple elements named by index. */
  fields?: WitxFieldLayout[];
}

const BUILTIN_SIZE: Record<WitxBuiltin, number> = {
  u8: 1, s8: 1, char8: 1,
  u16: 2, s16: 2,
  u32: 4, s32: 4, f32: 4, char: 4, usize: 4,
  u64: 8, s64: 8, f64: 8,
};

/** Size, alignment and field offsets of a value of `t` in 32-bit guest memory. */
export function witxLayout(abi: WitxAbi, t: WitxType): WitxLayout {
  const resolved = resolveType(abi, t);
  switch (resolved.kind) {
    case 'builtin':
      return scalar(BUILTIN_SIZE[resolved.name]);
    case 'enum':
      return scalar(BUILTIN_SIZE[resolved.tag]);
    case 'flags':
      return scalar(BUILTIN_SIZE[resolved.repr]);
    case 'handle':
    case 'pointer':
    case 'constPointer':
      return scalar(4);
    case 'string':
    case 'list':
      return { size: 8, align: 4 };
    case 'record':
      return sequence(abi, resolved.fields);
    case 'tuple':
      return sequence(abi, resolved.elements.map((type, i) => ({ name: String(i), type })));
    case 'expected': {
      // Laid out as a u32 discriminant followed by the larger of the two payloads.
      const payloads = [resolved.ok, resolved.error].flatMap((p) => (p ? [witxLayout(abi, p)] : []));
      const align = Math.max(4, ...payloads.map((p) => p.align));
      const size = alignTo(4, align) + Math.max(0, ...payloads.map((p) => p.size));
      return { size: alignTo(size, align), align };
    }
  }
}

function scalar(size: number): WitxLayout {
  return { size, align: size };
}

function sequence(abi: WitxAbi, members: { name: string; type: WitxType }[]): WitxLayout {
  let offset = 0;
  let align = 1;
  const fields = members.map(({ name, type }) => {
    const layout = witxLayout(abi, type);
    offset = alignTo(offset, layout.align);
    const field = { name, offset, type };
    offset += layout.size;
    align = Math.max(align, layout.align);
    return field;
  });
  return { size: alignTo(offset, align), align, fields };
}

function alignTo(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}
