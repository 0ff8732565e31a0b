import { TYPE_MASK } from './handle-tags.js';
import type { WHandle } from './wit-view.js';

/**
 * Handle liveness.
 *
 * The canonical ABI traps when a handle is not in its table, and reuses freed slots, so a legacy
 * guest that passes a stale handle (a body already appended, a request already sent, a handle it
 * never got) would trap where the legacy ABI answered `badf`. The adapter therefore keeps, per
 * WIT resource type, the set of handles it has handed to the guest and not yet given away:
 *
 * - set when a handle comes out of a WIT call into a guest out (an `own` result leaf, wherever it
 *   sits in the ok value; tags are stripped first) and for the downstream request and body;
 * - cleared when the adapter passes a guest handle as `own` (moved: `append`'s source, `send`'s
 *   request and body, `close`, `[resource-drop]`);
 * - checked before any guest handle is lifted (`own` and `borrow` params, handles in option
 *   records, handle lists): a dead one answers `badf` with no host call.
 *
 * Resource types are keyed by their defining interface and name after aliases are followed, so a
 * `body` and a `pending-request` are both `async-io/pollable`: one handle space, one set.
 *
 * The sets are bitmaps indexed by handle value in pages the adapter grows itself (never the
 * guest's allocator, never reset, unlike scratch): a directory of (bitmap, bytes) per type,
 * each bitmap starting at `MIN_BITMAP` bytes and doubling past the largest handle set.
 */

/** Bytes of a type's first bitmap (512 handles): most requests never outgrow it. */
const MIN_BITMAP = 64;
/** Bytes per directory entry: the bitmap's address and its size in bytes. */
const DIR_ENTRY = 8;

/** Resource types whose handles the generated code tracks, numbered as they are first named. */
export class LiveTypes {
  private readonly ids = new Map<string, number>();

  id(t: Pick<WHandle, 'iface' | 'resource'>): number {
    const key = `${t.iface}/${t.resource}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(key, id);
    }
    return id;
  }

  get count(): number {
    return this.ids.size;
  }

  /** `;; live <n> <iface>/<resource>` per type, for readers of the WAT (and its tests). */
  comments(): string[] {
    return [...this.ids].map(([key, id]) => `  ;; live ${id} ${key}`);
  }
}

/**
 * `$heap_alloc(size)`: zeroed, 8-aligned, permanent memory from pages the adapter grows.
 * `$live(h, type)`, `$set_live(h, type)`, `$clear_live(h, type)`: the per-type sets.
 * `$bad_handle(h, kind, type)`: 1 when a guest handle is of the wrong tag kind or not live (an
 * invalid marker is never live), else 0.
 */
export function liveWat(live: LiveTypes): string {
  const types = live.count;
  return `
${live.comments().join('\n')}
  (global $heap_top (mut i32) (i32.const 0))
  (global $heap_end (mut i32) (i32.const 0))
  (global $live_dir (mut i32) (i32.const 0))

  (func $heap_alloc (param $size i32) (result i32)
    (local $p i32) (local $pages i32) (local $old i32)
    (local.set $size (i32.and (i32.add (local.get $size) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (local.get $size) (i32.sub (global.get $heap_end) (global.get $heap_top)))
      (then
        (local.set $pages (i32.shr_u (i32.add (local.get $size) (i32.const 0xffff)) (i32.const 16)))
        (local.set $old (memory.grow (local.get $pages)))
        (if (i32.eq (local.get $old) (i32.const -1)) (then unreachable))
        (global.set $heap_top (i32.shl (local.get $old) (i32.const 16)))
        (global.set $heap_end (i32.add (global.get $heap_top) (i32.shl (local.get $pages) (i32.const 16))))))
    (local.set $p (global.get $heap_top))
    (global.set $heap_top (i32.add (local.get $p) (local.get $size)))
    (local.get $p))

  (func $live (param $h i32) (param $t i32) (result i32)
    (local $e i32) (local $byte i32)
    (if (i32.eqz (global.get $live_dir)) (then (return (i32.const 0))))
    (local.set $e (i32.add (global.get $live_dir) (i32.mul (local.get $t) (i32.const ${DIR_ENTRY}))))
    (local.set $byte (i32.shr_u (local.get $h) (i32.const 3)))
    (if (i32.ge_u (local.get $byte) (i32.load offset=4 (local.get $e))) (then (return (i32.const 0))))
    (i32.and
      (i32.shr_u (i32.load8_u (i32.add (i32.load (local.get $e)) (local.get $byte))) (i32.and (local.get $h) (i32.const 7)))
      (i32.const 1)))

  (func $set_live (param $h i32) (param $t i32)
    (local $e i32) (local $byte i32) (local $size i32) (local $new i32)
    ;; A value with tag bits cannot be handed to the guest untouched: such a host handle is
    ;; never tracked (a table that large is out of reach anyway).
    (if (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})) (then (return)))
    (if (i32.eqz (global.get $live_dir))
      (then (global.set $live_dir (call $heap_alloc (i32.const ${Math.max(types, 1) * DIR_ENTRY})))))
    (local.set $e (i32.add (global.get $live_dir) (i32.mul (local.get $t) (i32.const ${DIR_ENTRY}))))
    (local.set $byte (i32.shr_u (local.get $h) (i32.const 3)))
    (if (i32.ge_u (local.get $byte) (i32.load offset=4 (local.get $e)))
      (then
        (local.set $size (i32.shl (i32.add (local.get $byte) (i32.const 1)) (i32.const 1)))
        (if (i32.lt_u (local.get $size) (i32.const ${MIN_BITMAP})) (then (local.set $size (i32.const ${MIN_BITMAP}))))
        (local.set $new (call $heap_alloc (local.get $size)))
        (memory.copy (local.get $new) (i32.load (local.get $e)) (i32.load offset=4 (local.get $e)))
        (i32.store (local.get $e) (local.get $new))
        (i32.store offset=4 (local.get $e) (local.get $size))))
    (local.set $e (i32.add (i32.load (local.get $e)) (local.get $byte)))
    (i32.store8 (local.get $e)
      (i32.or (i32.load8_u (local.get $e)) (i32.shl (i32.const 1) (i32.and (local.get $h) (i32.const 7))))))

  (func $clear_live (param $h i32) (param $t i32)
    (local $e i32) (local $byte i32)
    (if (i32.eqz (global.get $live_dir)) (then (return)))
    (local.set $e (i32.add (global.get $live_dir) (i32.mul (local.get $t) (i32.const ${DIR_ENTRY}))))
    (local.set $byte (i32.shr_u (local.get $h) (i32.const 3)))
    (if (i32.ge_u (local.get $byte) (i32.load offset=4 (local.get $e))) (then (return)))
    (local.set $e (i32.add (i32.load (local.get $e)) (local.get $byte)))
    (i32.store8 (local.get $e)
      (i32.and (i32.load8_u (local.get $e)) (i32.xor (i32.const -1) (i32.shl (i32.const 1) (i32.and (local.get $h) (i32.const 7)))))))

  ;; One function, no calls: it runs for every handle argument of every hostcall. A tag nibble
  ;; other than $kind is bad, and so is an invalid marker (its top bit makes the nibble 8 or
  ;; more, never a kind); then the stripped handle's bit in its type's set.
  (func $bad_handle (param $h i32) (param $kind i32) (param $t i32) (result i32)
    (local $e i32) (local $byte i32)
    (if (i32.ne (i32.and (local.get $h) (i32.const ${TYPE_MASK | 0})) (local.get $kind)) (then (return (i32.const 1))))
    (if (i32.eqz (global.get $live_dir)) (then (return (i32.const 1))))
    (local.set $h (i32.xor (local.get $h) (local.get $kind)))
    (local.set $e (i32.add (global.get $live_dir) (i32.mul (local.get $t) (i32.const ${DIR_ENTRY}))))
    (local.set $byte (i32.shr_u (local.get $h) (i32.const 3)))
    (if (i32.ge_u (local.get $byte) (i32.load offset=4 (local.get $e))) (then (return (i32.const 1))))
    (i32.eqz
      (i32.and
        (i32.shr_u (i32.load8_u (i32.add (i32.load (local.get $e)) (local.get $byte))) (i32.and (local.get $h) (i32.const 7)))
        (i32.const 1))))
`;
}
