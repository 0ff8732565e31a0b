import { MappingError } from './mapping.js';
import { convert, type CoreType, type FnBuilder, store, zero } from './wat.js';
import type { WitView, WType } from './wit-view.js';

/**
 * A WIT value the generator is building from WITX inputs, as WAT expressions shaped like the
 * WIT type, so it can be lowered either flat (as call arguments) or into memory.
 */
export type Val =
  /**
   * `resource`: the local of a resource this hostcall made, consumed when passed as `own`.
   * `guest`: the live-set type of a guest handle (`expr` is the host handle), cleared when
   * passed as `own`.
   */
  | { k: 'leaf'; expr: string; core: CoreType; resource?: string; guest?: number }
  | { k: 'list'; ptr: string; len: string }
  | { k: 'fields'; vals: Val[] }
  | { k: 'option'; disc: string; some?: Val }
  | { k: 'case'; index: number }
  /** A variant whose case is only known at run time; `disc` is a local read more than once. */
  | { k: 'variant'; disc: string; cases: Array<Val | undefined> };

/** The flat core arguments for `v` under the canonical ABI. */
export function flattenVal(wit: WitView, t: WType, v: Val): string[] {
  const flat = wit.flatten(t);
  switch (v.k) {
    case 'leaf':
      return [convert(v.expr, v.core, flat[0])];
    case 'list':
      return [v.ptr, v.len];
    case 'fields': {
      const types = t.kind === 'record' ? t.fields.map((f) => f.type) : t.kind === 'tuple' ? t.types : [];
      return types.flatMap((ft, i) => flattenVal(wit, ft, v.vals[i]));
    }
    case 'option': {
      if (t.kind !== 'option') throw new MappingError(`option value for ${t.kind}`);
      const payload = v.some ? flattenVal(wit, t.inner, v.some) : flat.slice(1).map(zero);
      return [v.disc, ...payload];
    }
    case 'case':
      return [`(i32.const ${v.index})`, ...flat.slice(1).map(zero)];
    case 'variant': {
      if (t.kind !== 'variant') throw new MappingError(`variant value for ${t.kind}`);
      // Each payload position is the present case's value there, widened to the joined type.
      const payloads = t.cases.map((c, i) => {
        const val = v.cases[i];
        return c.type && val ? { flat: wit.flatten(c.type), exprs: flattenVal(wit, c.type, val) } : undefined;
      });
      const positions = flat.slice(1).map((core, j) =>
        payloads.reduceRight(
          (acc, p, i) => (p && j < p.exprs.length ? `(if (result ${core}) (i32.eq ${v.disc} (i32.const ${i})) (then ${convert(p.exprs[j], p.flat[j], core)}) (else ${acc}))` : acc),
          zero(core),
        ),
      );
      return [v.disc, ...positions];
    }
  }
}

/** Emits stores of `v` into memory at `base + offset` (params past the flat limit). */
export function storeVal(wit: WitView, b: FnBuilder, t: WType, v: Val, base: string, offset: number): void {
  const lay = wit.layout(t);
  const addr = `(local.get ${base})`;
  switch (v.k) {
    case 'leaf':
      b.emit(store(wit.flatten(t)[0], lay.size, addr, offset, convert(v.expr, v.core, wit.flatten(t)[0])));
      return;
    case 'list':
      b.emit(store('i32', 4, addr, offset, v.ptr), store('i32', 4, addr, offset + 4, v.len));
      return;
    case 'fields': {
      const types = t.kind === 'record' ? t.fields.map((f) => f.type) : t.kind === 'tuple' ? t.types : [];
      types.forEach((ft, i) => storeVal(wit, b, ft, v.vals[i], base, offset + lay.offsets![i]));
      return;
    }
    case 'option': {
      if (t.kind !== 'option') throw new MappingError(`option value for ${t.kind}`);
      b.emit(store('i32', 1, addr, offset, v.disc));
      if (v.some) storeVal(wit, b, t.inner, v.some, base, offset + lay.payloadOffset!);
      return;
    }
    case 'case':
      b.emit(store('i32', lay.discSize ?? 1, addr, offset, `(i32.const ${v.index})`));
      return;
    case 'variant': {
      if (t.kind !== 'variant') throw new MappingError(`variant value for ${t.kind}`);
      b.emit(store('i32', lay.discSize ?? 1, addr, offset, v.disc));
      t.cases.forEach((c, i) => {
        const val = v.cases[i];
        if (!c.type || !val) return;
        b.emit(`(if (i32.eq ${v.disc} (i32.const ${i})) (then`);
        storeVal(wit, b, c.type, val, base, offset + lay.payloadOffset!);
        b.emit('))');
      });
    }
  }
}

/** Wraps an option payload's loads so that they only run when the option is present. */
export function guard(v: Val, disc: string): Val {
  if (v.k === 'leaf') return { ...v, expr: `(if (result ${v.core}) ${disc} (then ${v.expr}) (else (${v.core}.const 0)))` };
  if (v.k === 'list') {
    return {
      k: 'list',
      ptr: `(if (result i32) ${disc} (then ${v.ptr}) (else (i32.const 0)))`,
      len: `(if (result i32) ${disc} (then ${v.len}) (else (i32.const 0)))`,
    };
  }
  if (v.k === 'fields') return { k: 'fields', vals: v.vals.map((f) => guard(f, disc)) };
  if (v.k === 'variant') return { k: 'variant', disc: v.disc, cases: v.cases.map((c) => c && guard(c, disc)) };
  return v;
}
