import { HandleKind, INVALID_BIT, TYPE_MASK } from './handle-tags.js';
import type { ImportTable } from './import-table.js';
import { MappingError } from './mapping.js';
import { Status, type StatusName } from './status.js';
import { TAGGED_WAIT, type AdapterTarget } from './target.js';
import type { WitView } from './wit-view.js';

/** The WIT functions the hand-written `select`/`is_ready` call besides the tagged waits, as mapping refs. */
export const ASYNC_CALLS = {
  select: 'async-io/select',
  selectWithTimeout: 'async-io/select-with-timeout',
  isReady: 'async-io/pollable.is-ready',
  dropPollable: 'async-io/[resource-drop]pollable',
} as const;

/** Every WIT function `select` (or `is_ready`) calls under `target`. */
export function asyncCalls(fn: 'select' | 'is_ready', target: AdapterTarget): string[] {
  const tagged = Object.values(TAGGED_WAIT[target]);
  const waits = fn === 'select' ? [ASYNC_CALLS.select, ASYNC_CALLS.selectWithTimeout] : [ASYNC_CALLS.isReady];
  // Stepping checks whether the pollable a step returns is ready before waiting on it.
  const extra = target === 'published' && fn === 'select' ? [ASYNC_CALLS.isReady] : [];
  return [...waits, ...extra, ...tagged, ASYNC_CALLS.dropPollable];
}

/**
 * The statuses the hand-written code answers with by itself: an empty list without a timeout is
 * `inval` (Viceroy's answer); a bad handle is `badf`.
 */
export const ASYNC_STATUSES = { select: ['inval', 'badf'], is_ready: ['badf'] } as const satisfies Record<'select' | 'is_ready', readonly StatusName[]>;

/**
 * `select` and `is_ready`: the only hostcalls that take a handle of any kind. Every handle is
 * checked first (tag and liveness, see live.ts): one bad handle is `badf` with no host call.
 * Untagged handles are pollables and pass through; with no tagged handle the guest's list goes to
 * the host as it is, without a copy. Tagged handles (cache entries) are waited on per target:
 *
 * - `subscribe`: the entry's `subscribe` gives a pollable, waited on with the others and dropped.
 * - `published`: the entry's `step` is called until it returns `none` (ready) or a pollable that
 *   is not ready yet; `select` waits on those with the others, drops them, and steps again when
 *   an entry's pollable fired, until an entry is ready or an untagged handle is chosen. A timeout
 *   bounds each wait (the adapter has no clock): an entry that keeps making progress without
 *   becoming ready restarts it.
 *
 * Either way a timeout writes `u32::MAX`, and every pollable the adapter made is dropped.
 */
export function asyncWat(imports: ImportTable, wit: WitView, target: AdapterTarget): string {
  const id = (ref: string) => imports.id(ref);
  const tagged = TAGGED_WAIT[target];
  // The resource a function's first param (`self`) borrows, as a live-set number.
  const liveOf = (ref: string): number => {
    const self = wit.func(ref).params[0]?.type;
    if (self?.kind !== 'borrow' && self?.kind !== 'own') throw new MappingError(`${ref} takes no resource`);
    return imports.liveId(self);
  };
  const byKind: Array<[HandleKind, string]> = [
    [HandleKind.CacheEntry, tagged.cache],
    [HandleKind.CacheReplaceEntry, tagged.replace],
    [HandleKind.HttpCacheEntry, tagged.httpCache],
  ];
  const common = `
  ;; 1 when a guest async handle may not be waited on: an invalid marker, an unknown tag, or a
  ;; handle not live as the resource its tag names (untagged: a pollable).
  (func $async_bad (param $h i32) (result i32)
    (local $kind i32)
    (if (i32.and (local.get $h) (i32.const ${INVALID_BIT | 0})) (then (return (i32.const 1))))
    (local.set $kind (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})))
    (if (i32.eqz (local.get $kind)) (then (return (i32.eqz (call $live (local.get $h) (i32.const ${liveOf(ASYNC_CALLS.isReady)}))))))
    (local.set $h (i32.and (local.get $h) (i32.const ${~TYPE_MASK | 0})))
${byKind.map(([kind, ref]) => `    (if (i32.eq (local.get $kind) (i32.const ${kind}))
      (then (return (i32.eqz (call $live (local.get $h) (i32.const ${liveOf(ref)}))))))`).join('\n')}
    (i32.const 1))

  ;; Waits on a list of pollables: the index of a ready one, or -1 when $timeout_ms (if not 0) passed.
  (func $wait_on (param $list i32) (param $len i32) (param $timeout_ms i32) (result i32)
    (local $ret i32)
    (if (i32.eqz (local.get $timeout_ms)) (then (return (call ${id(ASYNC_CALLS.select)} (local.get $list) (local.get $len)))))
    (local.set $ret (call $alloc (i32.const 8) (i32.const 4)))
    (call ${id(ASYNC_CALLS.selectWithTimeout)} (local.get $list) (local.get $len) (local.get $timeout_ms) (local.get $ret))
    (if (result i32) (i32.load8_u (local.get $ret))
      (then (i32.load offset=4 (local.get $ret)))
      (else (i32.const -1))))

  ;; Drops the pollables the adapter made for the tagged handles among the first $n.
  (func $drop_created (param $hs i32) (param $list i32) (param $n i32)
    (local $i i32) (local $p i32)
    (block $dropped
      (loop $drop
        (br_if $dropped (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.shl (local.get $i) (i32.const 2)))
        (if (i32.and (i32.load (i32.add (local.get $hs) (local.get $p))) (i32.const ${TYPE_MASK | 0}))
          (then (call ${id(ASYNC_CALLS.dropPollable)} (i32.load (i32.add (local.get $list) (local.get $p))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $drop))))

  ;; Rejects an empty list without a timeout (inval) and any bad handle (badf) before anything
  ;; else; returns -1 when all are good, with $tagged_seen set when one of them is tagged. An
  ;; empty list with a timeout is good: the wait runs out and answers u32::MAX (what Viceroy's
  ;; select does: only an empty list with timeout 0 is InvalidArgument).
  (global $tagged_seen (mut i32) (i32.const 0))
  (func $check_list (param $hs i32) (param $len i32) (param $timeout_ms i32) (result i32)
    (local $i i32) (local $h i32)
    (global.set $tagged_seen (i32.const 0))
    (if (i32.and (i32.eqz (local.get $len)) (i32.eqz (local.get $timeout_ms))) (then (return (i32.const ${Status.inval}))))
    (block $scanned
      (loop $scan
        (br_if $scanned (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $h (i32.load (i32.add (local.get $hs) (i32.shl (local.get $i) (i32.const 2)))))
        (if (call $async_bad (local.get $h)) (then (return (i32.const ${Status.badf}))))
        (if (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})) (then (global.set $tagged_seen (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (i32.const -1))
`;
  return common + (target === 'subscribe' ? subscribeWat(id, byKind) : publishedWat(id, wit, byKind));
}

function subscribeWat(id: (ref: string) => string, byKind: Array<[HandleKind, string]>): string {
  return `
  ;; The pollable a tagged handle's \`subscribe\` gives.
  (func $pollable_of (param $h i32) (result i32)
    (local $kind i32)
    (local.set $kind (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})))
    (local.set $h (i32.and (local.get $h) (i32.const ${~TYPE_MASK | 0})))
${byKind.map(([kind, ref]) => `    (if (i32.eq (local.get $kind) (i32.const ${kind})) (then (return (call ${id(ref)} (local.get $h)))))`).join('\n')}
    (unreachable))

  (func (export "fastly_async_io#select")
    (param $hs i32) (param $len i32) (param $timeout_ms i32) (param $ready_idx_out i32) (result i32)
    (local $i i32) (local $h i32) (local $list i32) (local $status i32) (local $p i32)
    (call $scratch_reset)
    (local.set $status (call $check_list (local.get $hs) (local.get $len) (local.get $timeout_ms)))
    (if (i32.ne (local.get $status) (i32.const -1)) (then (return (local.get $status))))
    (if (i32.eqz (global.get $tagged_seen))
      (then
        (i32.store (local.get $ready_idx_out) (call $wait_on (local.get $hs) (local.get $len) (local.get $timeout_ms)))
        (return (i32.const ${Status.ok}))))
    (local.set $list (call $alloc (i32.shl (local.get $len) (i32.const 2)) (i32.const 4)))
    (block $copied
      (loop $copy
        (br_if $copied (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $p (i32.shl (local.get $i) (i32.const 2)))
        (local.set $h (i32.load (i32.add (local.get $hs) (local.get $p))))
        (i32.store (i32.add (local.get $list) (local.get $p))
          (if (result i32) (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0}))
            (then (call $pollable_of (local.get $h)))
            (else (local.get $h))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (i32.store (local.get $ready_idx_out) (call $wait_on (local.get $list) (local.get $len) (local.get $timeout_ms)))
    (call $drop_created (local.get $hs) (local.get $list) (local.get $len))
    (i32.const ${Status.ok}))

  (func (export "fastly_async_io#is_ready") (param $h i32) (param $out i32) (result i32)
    (local $p i32)
    (if (call $async_bad (local.get $h)) (then (return (i32.const ${Status.badf}))))
    (if (i32.eqz (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})))
      (then
        (i32.store (local.get $out) (call ${id(ASYNC_CALLS.isReady)} (local.get $h)))
        (return (i32.const ${Status.ok}))))
    (local.set $p (call $pollable_of (local.get $h)))
    (i32.store (local.get $out) (call ${id(ASYNC_CALLS.isReady)} (local.get $p)))
    (call ${id(ASYNC_CALLS.dropPollable)} (local.get $p))
    (i32.const ${Status.ok}))
`;
}

function publishedWat(id: (ref: string) => string, wit: WitView, byKind: Array<[HandleKind, string]>): string {
  // `step: func() -> option<pollable>` returns through memory: a discriminant, then the handle.
  const step = wit.func(byKind[0][1]);
  if (!step.resultsIndirect || step.result?.kind !== 'option' || step.result.inner.kind !== 'own') {
    throw new MappingError(`${step.ref} does not return option<pollable> through memory`);
  }
  const payload = wit.layout(step.result).payloadOffset!;
  return `
  ;; Where \`step\` writes its option<pollable>: 8 bytes of this hostcall's scratch.
  (global $step_ret (mut i32) (i32.const 0))

  ;; One \`step\` of a tagged handle: -1 when it returns none (ready), else its pollable.
  (func $step_of (param $h i32) (result i32)
    (local $kind i32)
    (local.set $kind (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})))
    (local.set $h (i32.and (local.get $h) (i32.const ${~TYPE_MASK | 0})))
${byKind.map(([kind, ref]) => `    (if (i32.eq (local.get $kind) (i32.const ${kind})) (then (call ${id(ref)} (local.get $h) (global.get $step_ret))))`).join('\n')}
    (if (result i32) (i32.load8_u (global.get $step_ret))
      (then (i32.load offset=${payload} (global.get $step_ret)))
      (else (i32.const -1))))

  ;; Steps a tagged handle until it is ready (-1) or gives a pollable that is not ready yet
  ;; (returned: the caller drops it). A pollable already ready is dropped and stepped past.
  (func $step_until_waiting (param $h i32) (result i32)
    (local $p i32)
    (loop $again
      (local.set $p (call $step_of (local.get $h)))
      (if (i32.eq (local.get $p) (i32.const -1)) (then (return (i32.const -1))))
      (if (call ${id(ASYNC_CALLS.isReady)} (local.get $p))
        (then (call ${id(ASYNC_CALLS.dropPollable)} (local.get $p)) (br $again))))
    (local.get $p))

  (func (export "fastly_async_io#select")
    (param $hs i32) (param $len i32) (param $timeout_ms i32) (param $ready_idx_out i32) (result i32)
    (local $i i32) (local $h i32) (local $list i32) (local $status i32) (local $p i32) (local $chosen i32)
    (call $scratch_reset)
    (local.set $status (call $check_list (local.get $hs) (local.get $len) (local.get $timeout_ms)))
    (if (i32.ne (local.get $status) (i32.const -1)) (then (return (local.get $status))))
    (if (i32.eqz (global.get $tagged_seen))
      (then
        (i32.store (local.get $ready_idx_out) (call $wait_on (local.get $hs) (local.get $len) (local.get $timeout_ms)))
        (return (i32.const ${Status.ok}))))
    (global.set $step_ret (call $alloc (i32.const 8) (i32.const 4)))
    (local.set $list (call $alloc (i32.shl (local.get $len) (i32.const 2)) (i32.const 4)))
    (loop $wait
      ;; Step every tagged handle; the first one ready is the answer.
      (local.set $i (i32.const 0))
      (block $stepped
        (loop $step
          (br_if $stepped (i32.ge_u (local.get $i) (local.get $len)))
          (local.set $p (i32.shl (local.get $i) (i32.const 2)))
          (local.set $h (i32.load (i32.add (local.get $hs) (local.get $p))))
          (if (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0}))
            (then
              (local.set $chosen (call $step_until_waiting (local.get $h)))
              (if (i32.eq (local.get $chosen) (i32.const -1))
                (then
                  (call $drop_created (local.get $hs) (local.get $list) (local.get $i))
                  (i32.store (local.get $ready_idx_out) (local.get $i))
                  (return (i32.const ${Status.ok}))))
              (i32.store (i32.add (local.get $list) (local.get $p)) (local.get $chosen)))
            (else (i32.store (i32.add (local.get $list) (local.get $p)) (local.get $h))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $step)))
      (local.set $chosen (call $wait_on (local.get $list) (local.get $len) (local.get $timeout_ms)))
      (call $drop_created (local.get $hs) (local.get $list) (local.get $len))
      ;; A timeout, or an untagged handle, is the answer; a tagged one is stepped again.
      (if (i32.or (i32.eq (local.get $chosen) (i32.const -1))
                  (i32.eqz (i32.and (i32.load (i32.add (local.get $hs) (i32.shl (local.get $chosen) (i32.const 2)))) (i32.const ${TYPE_MASK | 0}))))
        (then
          (i32.store (local.get $ready_idx_out) (local.get $chosen))
          (return (i32.const ${Status.ok}))))
      (br $wait))
    (unreachable))

  (func (export "fastly_async_io#is_ready") (param $h i32) (param $out i32) (result i32)
    (local $p i32)
    (call $scratch_reset)
    (if (call $async_bad (local.get $h)) (then (return (i32.const ${Status.badf}))))
    (if (i32.eqz (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})))
      (then
        (i32.store (local.get $out) (call ${id(ASYNC_CALLS.isReady)} (local.get $h)))
        (return (i32.const ${Status.ok}))))
    (global.set $step_ret (call $alloc (i32.const 8) (i32.const 4)))
    (local.set $p (call $step_until_waiting (local.get $h)))
    (if (i32.eq (local.get $p) (i32.const -1))
      (then
        (i32.store (local.get $out) (i32.const 1))
        (return (i32.const ${Status.ok}))))
    (call ${id(ASYNC_CALLS.dropPollable)} (local.get $p))
    (i32.store (local.get $out) (i32.const 0))
    (i32.const ${Status.ok}))
`;
}
