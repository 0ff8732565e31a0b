import { resolveType, witxLayout } from '../../witx/index.js';
import { MappingError } from '../mapping.js';
import { errorStatusFn, kebab } from '../names.js';
import type { CustomEnv, CustomMapping } from '../mapping.js';
import type { HostcallShape } from '../shape.js';
import { Status } from '../status.js';
import { load, store, type FnBuilder } from '../wat.js';

const IFACE = 'http-cache/suggested-write-options';
/** Flags answered by a u64 getter, each into the struct field of the same name. */
const DURATIONS = ['initial_age_ns', 'stale_while_revalidate_ns', 'stale_if_error_ns'];
/** Flags answered by a string getter into the guest buffer the request's struct names. */
const STRINGS = ['vary_rule', 'surrogate_keys'];

/**
 * `get_suggested_cache_options`: the WIT returns a `suggested-write-options` resource read one
 * getter at a time, the legacy call fills an options struct for the fields the guest asks for
 * in its mask and reports the ones it filled in `options_mask_out`. `max_age_ns` is always
 * filled; strings go to the buffers named by the request struct, their lengths to the out
 * struct, and a buffer too small is `buflen` once every other field is filled.
 * Hand-written because its outputs depend on the guest's input mask field by field.
 */
export const suggestedCacheOptions: CustomMapping = {
  calls: [
    'http-cache/entry.get-suggested-write-options',
    `${IFACE}.get-max-age-ns`,
    ...STRINGS.map((f) => `${IFACE}.get-${kebab(f)}`),
    ...DURATIONS.map((f) => `${IFACE}.get-${kebab(f)}`),
    `${IFACE}.get-length`,
    `${IFACE}.get-sensitive-data`,
    `http-cache/[resource-drop]suggested-write-options`,
  ],
  body: (b, shape, id, env) => new Writer(b, shape, id, env).emit(),
};


class Writer {
  private readonly field: (name: string) => { offset: number; size: number };
  private readonly bit: (flag: string) => number;

  constructor(
    private readonly b: FnBuilder,
    shape: HostcallShape,
    private readonly id: (ref: string) => string,
    private readonly env: CustomEnv,
  ) {
    const options = shape.inputs.find((i) => i.name === 'options');
    if (options?.kind !== 'struct') throw new MappingError('no options struct');
    const layout = witxLayout(env.abi, options.type);
    this.field = (name) => {
      const f = layout.fields?.find((x) => x.name === name);
      if (!f) throw new MappingError(`http_cache_write_options has no field ${name}`);
      return { offset: f.offset, size: witxLayout(env.abi, f.type).size };
    };
    const mask = shape.inputs.find((i) => i.name === 'options_mask');
    const flags = mask?.kind === 'value' ? resolveType(env.abi, mask.type) : undefined;
    if (flags?.kind !== 'flags') throw new MappingError('options_mask is not a flags param');
    this.bit = (flag) => {
      const i = flags.members.indexOf(flag);
      if (i < 0) throw new MappingError(`http_cache_write_options_mask has no flag ${flag}`);
      return 1 << i;
    };
  }

  emit(): void {
    const { b } = this;
    const open = this.env.view('http-cache/entry.get-suggested-write-options');
    const lay = this.env.wit.layout(open.result!);
    if (open.result?.kind !== 'result' || !open.result.err) throw new MappingError('get-suggested-write-options does not return a result');
    const status = errorStatusFn(open.result.err);
    const opts = b.local('i32', 'opts');
    const ret = b.local('i32', 'ret');
    const buflen = b.local('i32', 'buflen');
    b.emit(
      '(call $scratch_reset)',
      ...this.env.handleChecks(open.ref, ['handle', 'response']),
      `(local.set ${ret} (call $alloc (i32.const ${lay.size}) (i32.const ${lay.align})))`,
      `(call ${this.id(open.ref)} (call $strip (local.get $handle)) (local.get $response) (local.get ${ret}))`,
      `(if (i32.load8_u (local.get ${ret})) (then (return (call ${status} (i32.add (local.get ${ret}) (i32.const ${lay.payloadOffset})) (i32.const 0)))))`,
      `(local.set ${opts} ${load('i32', 4, `(local.get ${ret})`, lay.payloadOffset!)})`,
      store('i32', 4, '(local.get $options_mask_out)', 0, '(i32.const 0)'),
      this.storeField('max_age_ns', `(call ${this.id(`${IFACE}.get-max-age-ns`)} (local.get ${opts}))`),
    );
    for (const name of STRINGS) this.emitString(name, opts, buflen, status);
    for (const name of DURATIONS) {
      b.emit(`(if ${this.requested(name)} (then ${this.report(name)} ${this.storeField(name, `(call ${this.id(`${IFACE}.get-${kebab(name)}`)} (local.get ${opts}))`)}))`);
    }
    const length = this.env.view(`${IFACE}.get-length`);
    const lengthLay = this.env.wit.layout(length.result!);
    b.emit(
      `(if ${this.requested('length')} (then`,
      `  (local.set ${ret} (call $alloc (i32.const ${lengthLay.size}) (i32.const ${lengthLay.align})))`,
      `  (call ${this.id(length.ref)} (local.get ${opts}) (local.get ${ret}))`,
      `  (if (i32.load8_u (local.get ${ret})) (then ${this.report('length')} ${this.storeField('length', load('i64', 8, `(local.get ${ret})`, lengthLay.payloadOffset!))}))))`,
      `(if ${this.requested('sensitive_data')} (then (if (call ${this.id(`${IFACE}.get-sensitive-data`)} (local.get ${opts})) (then ${this.report('sensitive_data')}))))`,
      `(call ${this.id('http-cache/[resource-drop]suggested-write-options')} (local.get ${opts}))`,
      `(if (result i32) (local.get ${buflen}) (then (i32.const ${Status.buflen})) (else (i32.const ${Status.ok})))`,
    );
  }

  private emitString(name: string, opts: string, buflen: string, status: string): void {
    const getter = this.env.view(`${IFACE}.get-${kebab(name)}`);
    const lay = this.env.wit.layout(getter.result!);
    const ptr = this.field(`${name}_ptr`);
    const cap = this.field(`${name}_len`);
    const dst = load('i32', 4, '(local.get $options)', ptr.offset);
    const capacity = load('i32', 4, '(local.get $options)', cap.offset);
    const nwritten = `(i32.add (local.get $options_out) (i32.const ${cap.offset}))`;
    const ret = this.b.local('i32', 'sret');
    const st = this.b.local('i32', 'st');
    this.b.emit(
      `(if ${this.requested(name)} (then`,
      `  ${this.report(name)}`,
      `  (call $arm_dest ${dst} ${capacity})`,
      `  (local.set ${ret} (call $alloc (i32.const ${lay.size}) (i32.const ${lay.align})))`,
      `  (call ${this.id(getter.ref)} (local.get ${opts}) (i64.extend_i32_u ${capacity}) (local.get ${ret}))`,
      '  (global.set $dest_armed (i32.const 0))',
      `  (if (i32.load8_u (local.get ${ret}))`,
      `    (then`,
      `      (local.set ${st} (call ${status} (i32.add (local.get ${ret}) (i32.const ${lay.payloadOffset})) ${nwritten}))`,
      `      (if (i32.ne (local.get ${st}) (i32.const ${Status.buflen}))`,
      `        (then (call ${this.id('http-cache/[resource-drop]suggested-write-options')} (local.get ${opts})) (return (local.get ${st}))))`,
      `      (local.set ${buflen} (i32.const 1)))`,
      `    (else`,
      `      ${store('i32', 4, nwritten, 0, load('i32', 4, `(local.get ${ret})`, lay.payloadOffset! + 4))}`,
      `      (if (i32.gt_u ${load('i32', 4, `(local.get ${ret})`, lay.payloadOffset! + 4)} ${capacity}) (then (local.set ${buflen} (i32.const 1)))`,
      `        (else (if (i32.ne ${load('i32', 4, `(local.get ${ret})`, lay.payloadOffset!)} ${dst})`,
      `          (then (memory.copy ${dst} ${load('i32', 4, `(local.get ${ret})`, lay.payloadOffset!)} ${load('i32', 4, `(local.get ${ret})`, lay.payloadOffset! + 4)})))))))))`,
    );
  }

  private requested(flag: string): string {
    return `(i32.ne (i32.and (local.get $options_mask) (i32.const ${this.bit(flag)})) (i32.const 0))`;
  }

  private report(flag: string): string {
    return store('i32', 4, '(local.get $options_mask_out)', 0, `(i32.or ${load('i32', 4, '(local.get $options_mask_out)', 0)} (i32.const ${this.bit(flag)}))`);
  }

  private storeField(name: string, value: string): string {
    const f = this.field(name);
    if (f.size !== 8) throw new MappingError(`http_cache_write_options.${name} is not a u64`);
    return store('i64', 8, '(local.get $options_out)', f.offset, value);
  }
}
