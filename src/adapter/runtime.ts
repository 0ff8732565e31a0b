import { HandleKind, INVALID_BIT, TYPE_MASK } from './handle-tags.js';
import { Status } from './status.js';

/**
 * Hand-written WAT shared by every generated hostcall.
 *
 * Scratch memory: an adapter may not have data segments or its own memory, so it takes pages
 * from the guest's memory with `memory.grow` the first time it needs them and reuses them for
 * every later hostcall (each hostcall resets the bump pointer). The guest's own allocator is
 * never touched and nothing the guest owns moves.
 *
 * Import realloc: wit-component routes list/string results of the adapter's imports through
 * `cabi_import_realloc`. Before a call whose result lands in a guest buffer, the generated code
 * "arms" it with that buffer, so the host writes the bytes straight into guest memory. An
 * allocation that does not fit goes to scratch, and the caller reports `buflen`.
 */
export const RUNTIME_WAT = `
  (global $scratch_top (mut i32) (i32.const 0))
  (global $scratch_base (mut i32) (i32.const 0))
  (global $scratch_end (mut i32) (i32.const 0))
  (global $dest_armed (mut i32) (i32.const 0))
  (global $dest_ptr (mut i32) (i32.const 0))
  (global $dest_cap (mut i32) (i32.const 0))

  (func $scratch_reset
    (global.set $scratch_top (global.get $scratch_base)))

  (func $alloc (param $size i32) (param $align i32) (result i32)
    (local $p i32) (local $pages i32) (local $old i32)
    (local.set $p
      (i32.and
        (i32.add (global.get $scratch_top) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (if (i32.gt_u (i32.add (local.get $p) (local.get $size)) (global.get $scratch_end))
      (then
        ;; A region at least twice the request, so repeated large results grow geometrically.
        (local.set $pages
          (i32.add (i32.shr_u (i32.shl (i32.add (local.get $size) (local.get $align)) (i32.const 1)) (i32.const 16))
                   (i32.const 1)))
        (local.set $old (memory.grow (local.get $pages)))
        (if (i32.eq (local.get $old) (i32.const -1)) (then unreachable))
        (global.set $scratch_base (i32.shl (local.get $old) (i32.const 16)))
        (global.set $scratch_end
          (i32.add (global.get $scratch_base) (i32.shl (local.get $pages) (i32.const 16))))
        (local.set $p
          (i32.and
            (i32.add (global.get $scratch_base) (i32.sub (local.get $align) (i32.const 1)))
            (i32.sub (i32.const 0) (local.get $align))))))
    (global.set $scratch_top (i32.add (local.get $p) (local.get $size)))
    (local.get $p))

  (func $arm_dest (param $ptr i32) (param $cap i32)
    (global.set $dest_armed (i32.const 1))
    (global.set $dest_ptr (local.get $ptr))
    (global.set $dest_cap (local.get $cap)))

  (func (export "cabi_import_realloc")
    (param $old_ptr i32) (param $old_size i32) (param $align i32) (param $new_size i32) (result i32)
    (if (global.get $dest_armed)
      (then
        (global.set $dest_armed (i32.const 0))
        (if (i32.le_u (local.get $new_size) (global.get $dest_cap))
          (then (return (global.get $dest_ptr))))))
    (call $alloc (local.get $new_size) (local.get $align)))

  ;; Returns 1 when a guest handle may not be used where a handle of $kind is expected.
  (func $wrong_kind (param $h i32) (param $kind i32) (result i32)
    (if (i32.and (local.get $h) (i32.const ${INVALID_BIT | 0})) (then (return (i32.const 0))))
    (i32.ne (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})) (local.get $kind)))

  (func $strip (param $h i32) (result i32)
    (if (i32.and (local.get $h) (i32.const ${INVALID_BIT | 0})) (then (return (local.get $h))))
    (i32.and (local.get $h) (i32.const ${~TYPE_MASK | 0})))

  (func $tag (param $h i32) (param $kind i32) (result i32)
    (if (i32.and (local.get $h) (i32.const ${INVALID_BIT | 0})) (then (return (local.get $h))))
    (i32.or (i32.and (local.get $h) (i32.const ${~TYPE_MASK | 0})) (local.get $kind)))
`;

/** The WIT functions the hand-written `select`/`is_ready` call, as mapping refs. */
export const ASYNC_CALLS = {
  select: 'async-io/select',
  selectWithTimeout: 'async-io/select-with-timeout',
  isReady: 'async-io/pollable.is-ready',
  dropPollable: 'async-io/[resource-drop]pollable',
  subscribeCache: 'cache/entry.subscribe',
  subscribeReplace: 'cache/replace-entry.subscribe',
  subscribeHttpCache: 'http-cache/entry.subscribe',
} as const;

/**
 * `select` and `is_ready`: the only hostcalls that take a handle of any kind. Every handle is
 * checked first (tag and liveness, see live.ts): one bad handle is `badf` with no host call. Tagged handles
 * are subscribed to (the pollable is the adapter's and is dropped after the wait); untagged
 * ones are already pollables and pass through. With no tagged handle the guest's list goes to
 * the host as it is, without a copy.
 */
export const asyncWat = (id: (ref: string) => string, liveId: (ref: string) => number): string => `
  ;; 1 when a guest async handle may not be waited on: an invalid marker, an unknown tag, or a
  ;; handle not live as the resource its tag names (untagged: a pollable).
  (func $async_bad (param $h i32) (result i32)
    (local $kind i32)
    (if (i32.and (local.get $h) (i32.const ${INVALID_BIT | 0})) (then (return (i32.const 1))))
    (local.set $kind (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})))
    (if (i32.eqz (local.get $kind)) (then (return (i32.eqz (call $live (local.get $h) (i32.const ${liveId(ASYNC_CALLS.isReady)}))))))
    (local.set $h (i32.and (local.get $h) (i32.const ${~TYPE_MASK | 0})))
    (if (i32.eq (local.get $kind) (i32.const ${HandleKind.CacheEntry}))
      (then (return (i32.eqz (call $live (local.get $h) (i32.const ${liveId(ASYNC_CALLS.subscribeCache)}))))))
    (if (i32.eq (local.get $kind) (i32.const ${HandleKind.CacheReplaceEntry}))
      (then (return (i32.eqz (call $live (local.get $h) (i32.const ${liveId(ASYNC_CALLS.subscribeReplace)}))))))
    (if (i32.eq (local.get $kind) (i32.const ${HandleKind.HttpCacheEntry}))
      (then (return (i32.eqz (call $live (local.get $h) (i32.const ${liveId(ASYNC_CALLS.subscribeHttpCache)}))))))
    (i32.const 1))

  ;; The pollable for a guest async handle, or -1 for an invalid one. Sets $created when the
  ;; adapter made the pollable (and so must drop it).
  (global $created (mut i32) (i32.const 0))
  (func $pollable_of (param $h i32) (result i32)
    (local $kind i32)
    (global.set $created (i32.const 0))
    (if (i32.and (local.get $h) (i32.const ${INVALID_BIT | 0})) (then (return (i32.const -1))))
    (local.set $kind (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})))
    (if (i32.eqz (local.get $kind)) (then (return (local.get $h))))
    (local.set $h (i32.and (local.get $h) (i32.const ${~TYPE_MASK | 0})))
    (global.set $created (i32.const 1))
    (if (i32.eq (local.get $kind) (i32.const ${HandleKind.CacheEntry}))
      (then (return (call ${id(ASYNC_CALLS.subscribeCache)} (local.get $h)))))
    (if (i32.eq (local.get $kind) (i32.const ${HandleKind.CacheReplaceEntry}))
      (then (return (call ${id(ASYNC_CALLS.subscribeReplace)} (local.get $h)))))
    (if (i32.eq (local.get $kind) (i32.const ${HandleKind.HttpCacheEntry}))
      (then (return (call ${id(ASYNC_CALLS.subscribeHttpCache)} (local.get $h)))))
    (global.set $created (i32.const 0))
    (i32.const -1))

  (func (export "fastly_async_io#select")
    (param $hs i32) (param $len i32) (param $timeout_ms i32) (param $ready_idx_out i32) (result i32)
    (local $i i32) (local $h i32) (local $list i32) (local $tagged i32) (local $ret i32) (local $p i32)
    (call $scratch_reset)
    (if (i32.eqz (local.get $len)) (then (return (i32.const ${Status.inval}))))
    ;; First pass: reject invalid handles and unknown kinds before creating any pollable.
    (block $scanned
      (loop $scan
        (br_if $scanned (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $h (i32.load (i32.add (local.get $hs) (i32.shl (local.get $i) (i32.const 2)))))
        (if (call $async_bad (local.get $h)) (then (return (i32.const ${Status.badf}))))
        (if (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})) (then (local.set $tagged (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (local.set $list (local.get $hs))
    (if (local.get $tagged)
      (then
        (local.set $list (call $alloc (i32.shl (local.get $len) (i32.const 2)) (i32.const 4)))
        (local.set $i (i32.const 0))
        (block $copied
          (loop $copy
            (br_if $copied (i32.ge_u (local.get $i) (local.get $len)))
            (local.set $p (i32.shl (local.get $i) (i32.const 2)))
            (i32.store (i32.add (local.get $list) (local.get $p))
              (call $pollable_of (i32.load (i32.add (local.get $hs) (local.get $p)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $copy)))))
    (if (i32.eqz (local.get $timeout_ms))
      (then (i32.store (local.get $ready_idx_out) (call ${id(ASYNC_CALLS.select)} (local.get $list) (local.get $len))))
      (else
        (local.set $ret (call $alloc (i32.const 8) (i32.const 4)))
        (call ${id(ASYNC_CALLS.selectWithTimeout)} (local.get $list) (local.get $len) (local.get $timeout_ms) (local.get $ret))
        (i32.store (local.get $ready_idx_out)
          (if (result i32) (i32.load8_u (local.get $ret))
            (then (i32.load offset=4 (local.get $ret)))
            (else (i32.const -1))))))
    (if (local.get $tagged)
      (then
        (local.set $i (i32.const 0))
        (block $dropped
          (loop $drop
            (br_if $dropped (i32.ge_u (local.get $i) (local.get $len)))
            (local.set $p (i32.shl (local.get $i) (i32.const 2)))
            (if (i32.and (i32.load (i32.add (local.get $hs) (local.get $p))) (i32.const ${TYPE_MASK | 0}))
              (then (call ${id(ASYNC_CALLS.dropPollable)} (i32.load (i32.add (local.get $list) (local.get $p))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $drop)))))
    (i32.const ${Status.ok}))

  (func (export "fastly_async_io#is_ready") (param $h i32) (param $out i32) (result i32)
    (local $p i32)
    (if (call $async_bad (local.get $h)) (then (return (i32.const ${Status.badf}))))
    (local.set $p (call $pollable_of (local.get $h)))
    (i32.store (local.get $out) (call ${id(ASYNC_CALLS.isReady)} (local.get $p)))
    (if (global.get $created) (then (call ${id(ASYNC_CALLS.dropPollable)} (local.get $p))))
    (i32.const ${Status.ok}))
`;
