import { resolveType } from '../../witx/index.js';
import { dropOwned } from '../errors.js';
import { sendErrorDetailWriter } from '../send-error.js';
import { MappingError } from '../mapping.js';
import { caseName, errorStatusFn } from '../names.js';
import { load } from '../wat.js';
import type { WType } from '../wit-view.js';
import type { HostcallContext } from './context.js';

/**
 * After a WIT call returning `result`: on `err`, drops the resources the error carries, runs
 * the mapping's error forms (top call only) and returns the error's legacy status (`buffer-len`
 * also writes the needed size to `nwritten`). A result with no error type answers `error`.
 */
export function emitResultError(
  g: HostcallContext,
  result: Extract<WType, { kind: 'result' }>,
  ret: string,
  top: boolean,
  /** Where `buffer-len`'s needed size goes: an expression for an out-pointer. */
  nwritten: string | undefined,
): void {
  const lay = g.wit.layout(result);
  if (!result.err) {
    g.b.emit(`(if (i32.load8_u (local.get ${ret})) (then ${g.returnStatus('error')}))`);
    return;
  }
  const err = result.err;
  const errAddr = `(i32.add (local.get ${ret}) (i32.const ${lay.payloadOffset}))`;
  const status = `(call ${errorStatusFn(err)} ${errAddr} ${nwritten ?? '(i32.const 0)'})`;
  const drops = dropOwned(g.wit, err, `(local.get ${ret})`, lay.payloadOffset!, (t) => g.imports.dropId(t));
  const onError = [...drops, ...(top ? topErrorForms(g, err, errAddr) : [])];
  const handled = top && g.top.okOnError === true;
  g.b.emit(`(if (i32.load8_u (local.get ${ret})) (then ${[...onError, ...(handled ? [] : [g.ret(status)])].join(' ')}))`);
}

/** The mapping's `detail`, `okOnError`, `errorAs` and `errorOut` forms, run before an error returns. */
function topErrorForms(g: HostcallContext, err: WType, errAddr: string): string[] {
  const lines: string[] = [];
  const { detail, okOnError, errorOut, errorAs } = g.top;
  if (detail) {
    if (err.kind !== 'record') throw new MappingError(`'detail' needs an error-with-detail error, got ${err.kind}`);
    const { addr, type } = g.detailStruct();
    lines.push(`(call ${g.imports.helper(...sendErrorDetailWriter(g.abi, g.wit, err, type))} ${errAddr} ${addr})`);
  }
  if (okOnError === true) lines.push(g.returnStatus('ok'));
  else if (okOnError || errorOut || errorAs) {
    const cases = err.kind === 'variant' ? err.cases.map((c) => c.name) : err.kind === 'enum' ? err.cases : undefined;
    if (!cases) throw new MappingError(`error cases of a ${err.kind} cannot be matched`);
    const disc = load('i32', g.wit.layout(err).discSize ?? 1, errAddr, 0);
    for (const name of okOnError ?? []) {
      const i = cases.indexOf(name);
      if (i < 0) throw new MappingError(`okOnError: no error case ${name}`);
      lines.push(`(if (i32.eq ${disc} (i32.const ${i})) (then ${g.returnStatus('ok')}))`);
    }
    // Error cases the legacy ABI answered with another status (see README, *Legacy answers the adapter keeps*).
    for (const [name, status] of Object.entries(errorAs ?? {})) {
      const i = cases.indexOf(name);
      if (i < 0) throw new MappingError(`errorAs: no error case ${name}`);
      lines.push(`(if (i32.eq ${disc} (i32.const ${i})) (then ${g.returnStatus(status)}))`);
    }
    if (errorOut) {
      const slot = g.outSlot(errorOut);
      const witx = resolveType(g.abi, slot.type);
      if (witx.kind !== 'enum') throw new MappingError(`${errorOut} is not an enum out`);
      cases.forEach((name, i) => {
        const target = witx.cases.map(caseName).indexOf(caseName(name));
        if (target < 0) return;
        lines.push(`(if (i32.eq ${disc} (i32.const ${i})) (then ${g.writeTo(errorOut, `(i32.const ${target})`)} ${g.returnStatus('ok')}))`);
      });
      lines.push(g.writeTo(errorOut, `(i32.const ${g.witxCase(errorOut, 'uninitialized')})`));
    }
  }
  return lines;
}
