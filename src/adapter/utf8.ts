/**
 * UTF-8 validation of guest text.
 *
 * Lifting a WIT `string` whose bytes are not UTF-8 traps on wasmtime-based hosts (the platform,
 * Viceroy), while jco's glue replaces the bad bytes, so `witshim serve` would hide a trap the
 * same component hits in production. The legacy ABI answered `inval`. The generator therefore
 * checks every guest buffer it passes where the WIT takes a `string` (by type: header and store
 * names, keys, URIs, endpoint names...) and answers `inval` before any host call.
 *
 * `$bad_utf8(ptr, len)` is 1 unless the bytes are well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF, no truncated sequence), else 0. ASCII runs are
 * taken four bytes at a time.
 */
export const UTF8_WAT = `
  (func $bad_utf8 (param $p i32) (param $n i32) (result i32)
    (local $end i32) (local $c i32) (local $need i32) (local $lo i32) (local $hi i32) (local $k i32)
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ;; Four ASCII bytes at a time while four remain.
        (if (i32.ge_u (i32.sub (local.get $end) (local.get $p)) (i32.const 4))
          (then
            (if (i32.eqz (i32.and (i32.load align=1 (local.get $p)) (i32.const 0x80808080)))
              (then (local.set $p (i32.add (local.get $p) (i32.const 4))) (br $next)))))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.lt_u (local.get $c) (i32.const 0x80))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))) (br $next)))
        ;; The lead byte fixes the sequence length and the range of the first continuation
        ;; byte, which is where overlong forms, surrogates and values past U+10FFFF show.
        (local.set $lo (i32.const 0x80))
        (local.set $hi (i32.const 0xbf))
        (if (i32.lt_u (local.get $c) (i32.const 0xc2)) (then (return (i32.const 1))))
        (if (i32.lt_u (local.get $c) (i32.const 0xe0))
          (then (local.set $need (i32.const 1)))
          (else
            (if (i32.lt_u (local.get $c) (i32.const 0xf0))
              (then
                (local.set $need (i32.const 2))
                (if (i32.eq (local.get $c) (i32.const 0xe0)) (then (local.set $lo (i32.const 0xa0))))
                (if (i32.eq (local.get $c) (i32.const 0xed)) (then (local.set $hi (i32.const 0x9f)))))
              (else
                (if (i32.ge_u (local.get $c) (i32.const 0xf5)) (then (return (i32.const 1))))
                (local.set $need (i32.const 3))
                (if (i32.eq (local.get $c) (i32.const 0xf0)) (then (local.set $lo (i32.const 0x90))))
                (if (i32.eq (local.get $c) (i32.const 0xf4)) (then (local.set $hi (i32.const 0x8f))))))))
        (if (i32.le_u (i32.sub (local.get $end) (local.get $p)) (local.get $need)) (then (return (i32.const 1))))
        (local.set $c (i32.load8_u offset=1 (local.get $p)))
        (if (i32.or (i32.lt_u (local.get $c) (local.get $lo)) (i32.gt_u (local.get $c) (local.get $hi)))
          (then (return (i32.const 1))))
        (local.set $k (i32.const 2))
        (block $tail
          (loop $more
            (br_if $tail (i32.gt_u (local.get $k) (local.get $need)))
            (if (i32.ne (i32.and (i32.load8_u (i32.add (local.get $p) (local.get $k))) (i32.const 0xc0)) (i32.const 0x80))
              (then (return (i32.const 1))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $more)))
        (local.set $p (i32.add (local.get $p) (i32.add (local.get $need) (i32.const 1))))
        (br $next)))
    (i32.const 0))
`;
