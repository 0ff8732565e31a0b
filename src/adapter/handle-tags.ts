/**
 * Dynamic handle types.
 *
 * A legacy module sees every handle as a bare u32, and `fastly_async_io#select` / `#is_ready`
 * accept any async item. In the component ABI, cache entries, cache replace entries and HTTP-cache
 * entries are resources with handle spaces of their own, so the same u32 can name different
 * things. The adapter therefore marks handles of those three kinds with a type nibble in the
 * top four bits (which canonical-ABI handle indices never use) when it hands them to the guest,
 * and checks and strips the nibble when they come back.
 *
 * Handles with the top bit set are "invalid" markers that SDKs use (`u32::MAX`, `u32::MAX - 1`):
 * they are never altered and count as members of every kind.
 */

export const TYPE_MASK = 0xf000_0000;
export const INVALID_BIT = 0x8000_0000;

export enum HandleKind {
  Other = 0x0000_0000,
  CacheEntry = 0x1000_0000,
  CacheReplaceEntry = 0x2000_0000,
  HttpCacheEntry = 0x3000_0000,
}

/** WITX handle type names whose values carry a type nibble. Everything else is `Other`. */
export const TAGGED_WITX_TYPES: ReadonlyMap<string, HandleKind> = new Map([
  ['cache_handle', HandleKind.CacheEntry],
  ['cache_replace_handle', HandleKind.CacheReplaceEntry],
  ['http_cache_handle', HandleKind.HttpCacheEntry],
]);

export function kindOfWitxType(typeName: string | undefined): HandleKind {
  return (typeName && TAGGED_WITX_TYPES.get(typeName)) || HandleKind.Other;
}

export function isInvalid(handle: number): boolean {
  return (handle & INVALID_BIT) !== 0;
}

/** Marks a host handle of `kind` for the guest. */
export function tag(handle: number, kind: HandleKind): number {
  if (isInvalid(handle)) return handle >>> 0;
  return ((handle & ~TYPE_MASK) | kind) >>> 0;
}

/** True when a guest handle may be used where `kind` is expected. */
export function isKind(handle: number, kind: HandleKind): boolean {
  return isInvalid(handle) || ((handle & TYPE_MASK) >>> 0) === kind;
}

/** Returns the host handle for a guest handle of `kind`, or undefined when the kinds differ. */
export function strip(handle: number, kind: HandleKind): number | undefined {
  if (isInvalid(handle)) return handle >>> 0;
  if (!isKind(handle, kind)) return undefined;
  return (handle & ~TYPE_MASK) >>> 0;
}

/** The kind a tagged guest handle claims; `undefined` for invalid markers and unknown nibbles. */
export function kindOf(handle: number): HandleKind | undefined {
  if (isInvalid(handle)) return undefined;
  const nibble = (handle & TYPE_MASK) >>> 0;
  return (Object.values(HandleKind) as number[]).includes(nibble) ? (nibble as HandleKind) : undefined;
}
