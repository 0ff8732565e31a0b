import type { WitxAbi } from '../witx/index.js';
import { errorHelpers } from './errors.js';
import { generateHostcall } from './hostcall/index.js';
import { ImportTable } from './import-table.js';
import { MappingError } from './mapping.js';
import { MAPPINGS } from './mappings/index.js';
import { liveWat } from './live.js';
import { UTF8_WAT } from './utf8.js';
import { asyncWat } from './async-io.js';
import { RUNTIME_WAT } from './runtime.js';
import { DEFAULT_TARGET, type AdapterTarget } from './target.js';
import type { WitView } from './wit-view.js';
import { traceWrappers } from './trace.js';

export type AdapterVariant = 'command' | 'library';

export const HTTP_INCOMING_EXPORT = 'fastly:compute/http-incoming@0.1.0#handle';
/** The same function as the generator names WIT functions. */
const HTTP_INCOMING = 'http-incoming/handle';
/** Legacy hostcalls written by hand rather than mapped (see async-io.ts). */
export const HAND_WRITTEN = ['fastly_async_io#select', 'fastly_async_io#is_ready'];

/**
 * The adapter core module as WAT, generated against `wit` (the WIT of `target`, see target.ts):
 * one export per WITX hostcall (`<module>#<name>`), the runtime helpers, and for the `command` variant the `http-incoming.handle` export that records the
 * downstream request and runs the guest's `_start`. With `trace`, every hostcall reports its
 * status to the hostcall trace (see trace.ts).
 */
export function generateAdapterWat(abi: WitxAbi, wit: WitView, variant: AdapterVariant, target: AdapterTarget = DEFAULT_TARGET, trace = false): string {
  const imports = new ImportTable(wit);
  const funcs: string[] = [];
  const problems: string[] = [];
  for (const module of abi.modules) {
    if (module.name === 'fastly_async_io') continue;
    const table = MAPPINGS[module.name];
    for (const fn of module.functions) {
      const mapping = table?.[fn.name];
      if (!mapping) {
        problems.push(`${module.name}#${fn.name}: no mapping`);
        continue;
      }
      try {
        funcs.push(generateHostcall(abi, wit, imports, module.name, fn.name, mapping).wat);
      } catch (err) {
        if (!(err instanceof MappingError)) throw err;
        problems.push(err.message);
      }
    }
  }
  if (problems.length) throw new MappingError(`adapter generation failed:\n  ${problems.join('\n  ')}`);

  const hostcalls = [asyncWat(imports, wit, target), ...funcs];
  // The downstream request and body are the guest's from the start (see live.ts).
  const downstream = wit.func(HTTP_INCOMING).params.map((p) => {
    if (p.type.kind !== 'own') throw new MappingError(`${HTTP_INCOMING} param ${p.name} is not a resource`);
    return imports.liveId(p.type);
  });
  const exported = trace ? traceWrappers(abi, imports, hostcalls) : hostcalls;
  const errorTypes = imports.errorTypes();
  const helpers = errorHelpers(wit, errorTypes);
  const entry =
    variant === 'command'
      ? [
          '  (import "__main_module__" "_start" (func $main_start))',
          `  (func (export ${JSON.stringify(HTTP_INCOMING_EXPORT)}) (param $request i32) (param $body i32) (result i32)`,
          '    (global.set $downstream_request (local.get $request))',
          '    (global.set $downstream_body (local.get $body))',
          `    (call $set_live (local.get $request) (i32.const ${downstream[0]}))`,
          `    (call $set_live (local.get $body) (i32.const ${downstream[1]}))`,
          '    (call $main_start)',
          '    (i32.const 0))',
        ]
      : [];
  return [
    '(module',
    '  (import "env" "memory" (memory 0))',
    ...imports.declarations(),
    ...entry.slice(0, 1),
    '  (global $downstream_request (mut i32) (i32.const -1))',
    '  (global $downstream_body (mut i32) (i32.const -1))',
    RUNTIME_WAT,
    liveWat(imports.live),
    UTF8_WAT,
    ...helpers,
    ...imports.helperFuncs(),
    ...exported,
    ...entry.slice(1),
    ')',
  ].join('\n');
}
