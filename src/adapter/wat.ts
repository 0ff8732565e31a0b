import type { StatusName } from './status.js';

export type CoreType = 'i32' | 'i64' | 'f32' | 'f64';

/** One exported core function under construction: its params, locals and body lines. */
export class FnBuilder {
  private readonly locals: Array<[string, CoreType]> = [];
  private readonly lines: Array<string | string[]> = [];
  private counter = 0;
  /**
   * The statuses the generated code answers with by itself (a handle check's `badf`, a short
   * buffer's `buflen`, an absent value's `none`, an argument check's `inval`, …), as opposed to
   * the statuses a host's WIT error turns into: the hostcall's error paths.
   */
  readonly statuses = new Set<StatusName>();

  constructor(
    readonly exportName: string,
    readonly params: ReadonlyArray<{ id: string; core: CoreType }>,
    readonly result: CoreType | undefined,
  ) {}

  local(core: CoreType, hint = 't'): string {
    const id = `$${hint}_${this.counter++}`;
    this.locals.push([id, core]);
    return id;
  }

  emit(...lines: string[]): void {
    this.lines.push(...lines);
  }

  /** True when `expr` reads a local of this function (not a param): its value depends on where it runs. */
  readsLocals(expr: string): boolean {
    return [...expr.matchAll(/\(local\.get (\$[\w.-]+)\)/g)].some((m) => this.locals.some(([id]) => id === m[1]));
  }

  /** A place in the body, here, that lines pushed to the returned array fill later. */
  hole(): string[] {
    const lines: string[] = [];
    this.lines.push(lines);
    return lines;
  }

  toWat(): string {
    const params = this.params.map((p) => `(param ${p.id} ${p.core})`).join(' ');
    const result = this.result ? ` (result ${this.result})` : '';
    const locals = this.locals.map(([id, t]) => `(local ${id} ${t})`).join(' ');
    return [
      `  (func (export ${JSON.stringify(this.exportName)}) ${params}${result}`,
      locals ? `    ${locals}` : '',
      ...this.lines.flat().map((l) => `    ${l}`),
      '  )',
    ]
      .filter(Boolean)
      .join('\n');
  }
}

/** Memory access width for a value of `size` bytes in core type `core`. */
export function loadInstr(core: CoreType, size: number, signed = false): string {
  if (core === 'f32' || core === 'f64') return `${core}.load`;
  const full = core === 'i64' ? 8 : 4;
  if (size === full) return `${core}.load`;
  const sign = signed ? 's' : 'u';
  return `${core}.load${size * 8}_${sign}`;
}

export function storeInstr(core: CoreType, size: number): string {
  if (core === 'f32' || core === 'f64') return `${core}.store`;
  const full = core === 'i64' ? 8 : 4;
  return size === full ? `${core}.store` : `${core}.store${size * 8}`;
}

export function load(core: CoreType, size: number, addr: string, offset: number, signed = false): string {
  return `(${loadInstr(core, size, signed)}${offset ? ` offset=${offset}` : ''} ${addr})`;
}

export function store(core: CoreType, size: number, addr: string, offset: number, value: string): string {
  return `(${storeInstr(core, size)}${offset ? ` offset=${offset}` : ''} ${addr} ${value})`;
}

/** Converts a core value between widths: WITX usize/u32 sources feeding WIT u64 params and back. */
export function convert(value: string, from: CoreType, to: CoreType): string {
  if (from === to) return value;
  if (from === 'i32' && to === 'i64') return `(i64.extend_i32_u ${value})`;
  if (from === 'i64' && to === 'i32') return `(i32.wrap_i64 ${value})`;
  throw new Error(`cannot convert ${from} to ${to}`);
}

export function zero(core: CoreType): string {
  return `(${core}.const 0)`;
}
