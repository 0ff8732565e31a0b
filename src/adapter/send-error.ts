import { resolveType, witxLayout, type WitxAbi, type WitxType } from '../witx/index.js';
import { MappingError } from './mapping.js';
import { load, store } from './wat.js';
import type { WitView, WType } from './wit-view.js';

/**
 * Where the payload fields of `send-error-detail` cases go in the WITX `send_error_detail`
 * struct. An optional field sets the mask flag named like its WITX field; the others set the
 * flag named after their case. Names are checked against both ABIs when the helper is made.
 */
const PAYLOAD_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'dns-error': { rcode: 'dns_error_rcode', 'info-code': 'dns_error_info_code' },
  'tls-alert-received': { id: 'tls_alert_id' },
  'h2-error': { 'frame-type': 'h2_error_frame', 'error-code': 'h2_error_code' },
};

/** A case the legacy tag has no name for (`extra`) is reported as an internal error. */
const FALLBACK_TAG = 'internal_error';

/**
 * `$write_send_error_detail(err, dst)`: fills the guest's (already zeroed) `send_error_detail`
 * at `dst` from the `error-with-detail` record at `err`. No detail leaves the tag
 * `uninitialized`, as the legacy host did. Returns the helper's name and WAT.
 */
export function sendErrorDetailWriter(abi: WitxAbi, wit: WitView, errorWithDetail: WType, structType: WitxType): [string, string] {
  const name = '$write_send_error_detail';
  if (errorWithDetail.kind !== 'record') throw new MappingError('send error detail: not a record');
  const detailIndex = errorWithDetail.fields.findIndex((f) => f.name === 'detail');
  const option = errorWithDetail.fields[detailIndex]?.type;
  if (option?.kind !== 'option' || option.inner.kind !== 'variant') throw new MappingError('send error detail: no option<variant> detail field');
  const variant = option.inner;

  const struct = witxLayout(abi, structType);
  const field = (n: string) => {
    const f = struct.fields?.find((x) => x.name === n);
    if (!f) throw new MappingError(`send_error_detail has no field ${n}`);
    return { offset: f.offset, size: witxLayout(abi, f.type).size, type: f.type };
  };
  const tag = field('tag');
  const mask = field('mask');
  const tagCases = enumCases(abi, tag.type);
  const maskFlags = flagMembers(abi, mask.type);
  const tagOf = (c: string) => {
    const i = tagCases.indexOf(c.replace(/-/g, '_'));
    return i >= 0 ? i : tagCases.indexOf(FALLBACK_TAG);
  };
  const bit = (flag: string) => {
    const i = maskFlags.indexOf(flag);
    if (i < 0) throw new MappingError(`send_error_detail_mask has no flag ${flag}`);
    return 1 << i;
  };

  const optionLayout = wit.layout(option);
  const variantLayout = wit.layout(variant);
  const detailAt = wit.layout(errorWithDetail).offsets![detailIndex];
  const caseBase = detailAt + optionLayout.payloadOffset!;
  const payloadBase = caseBase + variantLayout.payloadOffset!;
  const lines = [
    `  (func ${name} (param $err i32) (param $dst i32)`,
    `    (if (i32.eqz ${load('i32', 1, '(local.get $err)', detailAt)}) (then return))`,
  ];
  variant.cases.forEach((c, i) => {
    const body = [store('i32', tag.size, '(local.get $dst)', tag.offset, `(i32.const ${tagOf(c.name)})`)];
    if (c.type) {
      const fields = PAYLOAD_FIELDS[c.name];
      if (c.type.kind === 'record' && !fields) throw new MappingError(`send-error-detail case ${c.name}: no WITX fields for its payload`);
      if (c.type.kind === 'record') {
        const payload = wit.layout(c.type);
        c.type.fields.forEach((f, j) => {
          const target = fields![f.name];
          if (!target) throw new MappingError(`send-error-detail case ${c.name}: no WITX field for ${f.name}`);
          const dst = field(target);
          const at = payloadBase + payload.offsets![j];
          if (f.type.kind === 'option') {
            const inner = wit.layout(f.type);
            const value = load('i32', wit.layout(f.type.inner).size, '(local.get $err)', at + inner.payloadOffset!);
            body.push(
              `(if ${load('i32', 1, '(local.get $err)', at)} (then`,
              `  ${store('i32', dst.size, '(local.get $dst)', dst.offset, value)}`,
              `  ${store('i32', mask.size, '(local.get $dst)', mask.offset, `(i32.or ${load('i32', mask.size, '(local.get $dst)', mask.offset)} (i32.const ${bit(target)}))`)}))`,
            );
          } else {
            body.push(store('i32', dst.size, '(local.get $dst)', dst.offset, load('i32', wit.layout(f.type).size, '(local.get $err)', at)));
            body.push(store('i32', mask.size, '(local.get $dst)', mask.offset, `(i32.or ${load('i32', mask.size, '(local.get $dst)', mask.offset)} (i32.const ${bit(c.name.replace(/-/g, '_'))}))`));
          }
        });
      }
    }
    lines.push(`    (if (i32.eq ${load('i32', variantLayout.discSize ?? 1, '(local.get $err)', caseBase)} (i32.const ${i})) (then`, ...body.map((l) => `      ${l}`), '      return))');
  });
  lines.push('  )');
  return [name, lines.join('\n')];
}

function enumCases(abi: WitxAbi, t: WitxType): string[] {
  const r = resolveType(abi, t);
  if (r.kind !== 'enum') throw new MappingError('send_error_detail.tag is not an enum');
  return r.cases;
}

function flagMembers(abi: WitxAbi, t: WitxType): string[] {
  const r = resolveType(abi, t);
  if (r.kind !== 'flags') throw new MappingError('send_error_detail.mask is not a flags type');
  return r.members;
}
