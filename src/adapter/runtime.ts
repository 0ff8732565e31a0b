import { INVALID_BIT, TYPE_MASK } from './handle-tags.js';

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
