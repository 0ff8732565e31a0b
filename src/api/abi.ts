import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mappingTable, type MappingRow } from '../adapter/mapping-table.js';
import { witViewFor } from '../adapter/wit-bind.js';
import { projectRoot } from '../version.js';
import { describeWitFunction, loadWit, type WitResolve } from '../wit/index.js';
import { describeWitxFunction, loadWitxDir, witxCHeader, type WitxAbi } from '../witx/index.js';

/** How many functions each WITX module and each `fastly:*` WIT interface defines. */
export interface AbiSummary {
  witx: Array<{ module: string; functions: number }>;
  wit: Array<{ interface: string; functions: number }>;
}

/** Differences against another copy of the ABIs: `+` only ours, `-` only theirs, `~` changed. */
export interface AbiComparison {
  witx: string[];
  wit: string[];
  /** Hostcalls whose WITX signature is the same in both. */
  identicalHostcalls: number;
}

export type { MappingRow };

/** Thrown when a directory given to `compareAbi` lacks `witx/` or `wit/`. */
export class AbiCompareError extends Error {}

const ours = () => ({ witx: loadWitxDir(join(projectRoot, 'witx')), wit: loadWit() });

/** Summarises the legacy (WITX) and component (WIT) ABIs witshim bridges. */
/**
 * A C header declaring every hostcall with its exact WITX lowering (import attributes, parameter
 * names and types, typedefs with layout asserts): what C guests include so they cannot drift.
 */
export function abiCHeader(): string {
  return witxCHeader(loadWitxDir(join(projectRoot, 'witx')));
}

export function abi(): AbiSummary {
  const { witx, wit } = ours();
  return {
    witx: witx.modules.map((m) => ({ module: m.name, functions: m.functions.length })),
    wit: fastlyInterfaces(wit).map(([id, fns]) => ({ interface: id, functions: fns.size })),
  };
}

/** Each WITX hostcall with the WIT functions the adapter calls for it (or why it answers `unsupported`). */
export function abiMapping(): MappingRow[] {
  const { witx, wit } = ours();
  return mappingTable(witx, witViewFor(wit));
}

/** Diffs our `witx/` and `wit/` against another copy: a directory holding both. */
export function compareAbi(dir: string): AbiComparison {
  for (const sub of ['witx', 'wit']) {
    if (!existsSync(join(dir, sub))) throw new AbiCompareError(`${dir} has no ${sub}/ directory to compare with`);
  }
  const { witx, wit } = ours();
  const witxOurs = witxSignatures(witx);
  const witxDiff = diff(witxOurs, witxSignatures(loadWitxDir(join(dir, 'witx'))));
  const witDiff = diff(witSignatures(wit), witSignatures(loadWit(join(dir, 'wit'))));
  return { witx: witxDiff, wit: witDiff, identicalHostcalls: witxOurs.size - witxDiff.length };
}

function fastlyInterfaces(wit: WitResolve): Array<[string, Map<string, unknown>]> {
  return [...wit.interfaces.entries()].filter(([id]) => id.startsWith('fastly:')).map(([id, iface]) => [id, iface.functions] as [string, Map<string, unknown>]);
}

function witxSignatures(abi: WitxAbi): Map<string, string> {
  return new Map(abi.modules.flatMap((m) => m.functions.map((f) => [`${m.name}#${f.name}`, describeWitxFunction(abi, f)] as const)));
}

function witSignatures(wit: WitResolve): Map<string, string> {
  const out = new Map<string, string>();
  for (const [id, iface] of wit.interfaces) {
    if (!id.startsWith('fastly:')) continue;
    for (const fn of iface.functions.values()) out.set(`${id}#${fn.name}`, describeWitFunction(wit, fn));
  }
  return out;
}

function diff(ours: Map<string, string>, theirs: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const [name, sig] of ours) {
    const other = theirs.get(name);
    if (other === undefined) lines.push(`+ ${name}: only in ours: ${sig}`);
    else if (other !== sig) lines.push(`~ ${name}: ours ${sig}\n    theirs ${other}`);
  }
  for (const [name, sig] of theirs) if (!ours.has(name)) lines.push(`- ${name}: only in theirs: ${sig}`);
  return lines;
}
