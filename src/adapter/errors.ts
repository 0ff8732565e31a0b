import { MappingError } from './mapping.js';
import { errorStatusFn } from './names.js';
import { ERROR_CASE_STATUS, Status } from './status.js';
import { load, store } from './wat.js';
import type { WHandle, WitView, WType } from './wit-view.js';

/**
 * WAT helpers `$status_of_<type>(ptr, nwritten_ptr) -> status`, one per WIT error type that a
 * mapped call can return. `ptr` addresses the error value in memory; `buffer-len(n)` also
 * writes `n` through `nwritten_ptr` (when non-zero) so the guest learns the size it needs.
 */
export function errorHelpers(wit: WitView, types: WType[]): string[] {
  const seen = new Map<string, WType>();
  const visit = (t: WType) => {
    const fn = errorStatusFn(t);
    if (seen.has(fn)) return;
    seen.set(fn, t);
    if (t.kind === 'variant') for (const c of t.cases) if (c.type && isErrorType(c.type)) visit(c.type);
    if (t.kind === 'record') for (const f of t.fields) if (isErrorType(f.type)) visit(f.type);
  };
  types.forEach(visit);
  return [...seen.entries()].map(([fn, t]) => helper(wit, fn, t));
}

function isErrorType(t: WType): boolean {
  return (t.kind === 'variant' || t.kind === 'enum') && t.name in ERROR_CASE_STATUS;
}

function helper(wit: WitView, fn: string, t: WType): string {
  const lines = [`  (func ${fn} (param $p i32) (param $nw i32) (result i32)`];
  if (t.kind === 'record') {
    const i = t.fields.findIndex((f) => isErrorType(f.type));
    if (i < 0) throw new MappingError(`record ${t.name} has no error field`);
    const offset = wit.layout(t).offsets![i];
    lines.push(`    (call ${errorStatusFn(t.fields[i].type)} (i32.add (local.get $p) (i32.const ${offset})) (local.get $nw)))`);
    return lines.join('\n');
  }
  if (t.kind !== 'variant' && t.kind !== 'enum') throw new MappingError(`unsupported error type ${t.kind}`);
  const table = ERROR_CASE_STATUS[t.name];
  if (!table) throw new MappingError(`no status mapping for WIT error type ${t.name}`);
  const lay = wit.layout(t);
  const cases = t.kind === 'variant' ? t.cases : t.cases.map((name) => ({ name, type: undefined as WType | undefined }));
  const disc = load('i32', lay.discSize ?? lay.size, '(local.get $p)', 0);
  for (const [i, c] of cases.entries()) {
    const status = table[c.name];
    if (!status) throw new MappingError(`no status for case ${c.name} of ${t.name}`);
    let action = `(return (i32.const ${Status[status]}))`;
    if (c.name === 'buffer-len') {
      const payload = lay.payloadOffset!;
      action = `(if (local.get $nw) (then ${store('i32', 4, '(local.get $nw)', 0, `(i32.wrap_i64 ${load('i64', 8, '(local.get $p)', payload)})`)})) ${action}`;
    } else if (c.type && isErrorType(c.type)) {
      action = `(return (call ${errorStatusFn(c.type)} (i32.add (local.get $p) (i32.const ${lay.payloadOffset})) (local.get $nw)))`;
    }
    lines.push(`    (if (i32.eq ${disc} (i32.const ${i})) (then ${action}))`);
  }
  lines.push(`    (i32.const ${Status.error}))`);
  return lines.join('\n');
}

/**
 * WAT that drops every owned handle inside the value of type `t` at `addr + offset`: an error
 * can carry a resource (`extra(extra-kv-error)`, a send error's `extra` detail) that the
 * legacy ABI has no way to hand on, so the adapter releases it before answering.
 */
export function dropOwned(wit: WitView, t: WType, addr: string, offset: number, dropId: (t: WHandle) => string): string[] {
  const lay = wit.layout(t);
  switch (t.kind) {
    case 'own':
      return [`(call ${dropId(t)} ${load('i32', 4, addr, offset)})`];
    case 'record':
    case 'tuple': {
      const types = t.kind === 'record' ? t.fields.map((f) => f.type) : t.types;
      return types.flatMap((ft, i) => dropOwned(wit, ft, addr, offset + lay.offsets![i], dropId));
    }
    case 'option':
    case 'result':
    case 'variant': {
      const cases = t.kind === 'option' ? [undefined, t.inner] : t.kind === 'result' ? [t.ok, t.err] : t.cases.map((c) => c.type);
      const disc = load('i32', lay.discSize ?? 1, addr, offset);
      return cases.flatMap((ct, i) => {
        const inner = ct ? dropOwned(wit, ct, addr, offset + lay.payloadOffset!, dropId) : [];
        return inner.length ? [`(if (i32.eq ${disc} (i32.const ${i})) (then ${inner.join(' ')}))`] : [];
      });
    }
    default:
      return [];
  }
}
