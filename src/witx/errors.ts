import type { WitxLoc } from './types.js';

/** A problem in WITX text or in how WITX definitions fit together, pinned to a source location. */
export class WitxError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly detail: string;

  constructor(loc: WitxLoc, detail: string) {
    super(`${loc.file}:${loc.line}:${loc.column}: ${detail}`);
    this.name = 'WitxError';
    this.file = loc.file;
    this.line = loc.line;
    this.column = loc.column;
    this.detail = detail;
  }
}

/** A WITX signature that the legacy ABI has no core wasm lowering for. */
export class WitxLoweringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WitxLoweringError';
  }
}
