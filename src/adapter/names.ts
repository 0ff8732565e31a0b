import type { WType } from './wit-view.js';

/** The value a WIT function returns on success. */
export function okOf(result: WType | undefined): WType | undefined {
  return result?.kind === 'result' ? result.ok : result;
}

export function kebab(name: string): string {
  return name.replace(/_/g, '-');
}

/** Enum cases match across the ABIs ignoring separators: WITX `http_11` is WIT `http11`. */
export function caseName(name: string): string {
  return name.replace(/[-_]/g, '');
}

/** The name of the generated helper turning a WIT error value into a legacy status. */
export function errorStatusFn(err: WType): string {
  const name = err.kind === 'variant' || err.kind === 'enum' ? err.name : err.kind;
  return `$status_of_${name.replace(/-/g, '_')}`;
}
