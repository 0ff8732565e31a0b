import type { Command } from 'commander';
import { join } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import { mappingTable } from '../adapter/mapping-table.js';
import { witViewFor } from '../adapter/wit-bind.js';
import { projectRoot } from '../version.js';
import { describeWitFunction, loadWit, type WitResolve } from '../wit/index.js';
import { describeWitxFunction, loadWitxDir, witxCHeader, type WitxAbi } from '../witx/index.js';
import { UsageError } from './errors.js';

interface AbiOptions {
  json?: boolean;
  compare?: string;
  mapping?: boolean;
  cHeader?: boolean;
  output?: string;
}

export function registerAbi(program: Command): void {
  program
    .command('abi')
    .description('summarise the legacy (WITX) and component (WIT) ABIs witshim bridges')
    .option('--json', 'print machine-readable JSON')
    .option('--compare <dir>', 'diff our witx/ and wit/ against another copy (a dir with witx/ and wit/); exit 1 on differences')
    .option('--mapping', 'list each WITX hostcall with the WIT functions the adapter calls for it')
    .option('--c-header', 'print a C header declaring every hostcall with its exact WITX lowering (for C guests)')
    .option('-o, --output <file>', 'with --c-header: write the header to this file instead of stdout')
    .action((opts: AbiOptions) => {
      process.exitCode = runAbi(opts);
    });
}

function runAbi(opts: AbiOptions): number {
  const witx = loadWitxDir(join(projectRoot, 'witx'));
  if (opts.output && !opts.cHeader) throw new UsageError('--output goes with --c-header');
  if (opts.cHeader) return writeCHeader(witx, opts.output);
  const wit = loadWit();
  if (opts.compare) return compare(witx, wit, opts.compare, !!opts.json);
  if (opts.mapping) return printMapping(witx, wit, !!opts.json);
  const summary = {
    witx: witx.modules.map((m) => ({ module: m.name, functions: m.functions.length })),
    wit: fastlyInterfaces(wit).map(([id, fns]) => ({ interface: id, functions: fns.size })),
  };
  if (opts.json) {
    console.log(JSON.stringify(summary, null, 2));
    return 0;
  }
  const witxTotal = summary.witx.reduce((n, m) => n + m.functions, 0);
  const witTotal = summary.wit.reduce((n, i) => n + i.functions, 0);
  console.log(`legacy ABI (witx/): ${witxTotal} hostcalls in ${summary.witx.length} modules`);
  for (const m of summary.witx) console.log(`  ${m.module.padEnd(28)} ${m.functions}`);
  console.log(`component ABI (wit/): ${witTotal} functions in ${summary.wit.length} interfaces`);
  for (const i of summary.wit) console.log(`  ${i.interface.padEnd(44)} ${i.functions}`);
  return 0;
}

function fastlyInterfaces(wit: WitResolve): Array<[string, Map<string, unknown>]> {
  return [...wit.interfaces.entries()]
    .filter(([id]) => id.startsWith('fastly:'))
    .map(([id, iface]) => [id, iface.functions] as [string, Map<string, unknown>]);
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

function compare(witx: WitxAbi, wit: WitResolve, dir: string, json: boolean): number {
  for (const sub of ['witx', 'wit']) {
    if (!existsSync(join(dir, sub))) throw new UsageError(`${dir} has no ${sub}/ directory to compare with`);
  }
  const witxDiff = diff(witxSignatures(witx), witxSignatures(loadWitxDir(join(dir, 'witx'))));
  const witDiff = diff(witSignatures(wit), witSignatures(loadWit(join(dir, 'wit'))));
  const identical = witxSignatures(witx).size - witxDiff.length;
  if (json) {
    console.log(JSON.stringify({ witx: witxDiff, wit: witDiff }, null, 2));
  } else {
    console.log(`WITX: ${identical} hostcalls identical, ${witxDiff.length} differences`);
    witxDiff.forEach((l) => console.log(`  ${l}`));
    console.log(`WIT: ${witDiff.length} differences`);
    witDiff.forEach((l) => console.log(`  ${l}`));
  }
  return witxDiff.length + witDiff.length ? 1 : 0;
}

function printMapping(witx: WitxAbi, wit: WitResolve, json: boolean): number {
  const rows = mappingTable(witx, witViewFor(wit));
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  for (const row of rows) {
    const target = row.unsupported ? `unsupported (${row.unsupported})` : row.calls.join(', ') || 'answered by the adapter itself';
    console.log(`${row.hostcall} -> ${target}`);
  }
  const mapped = rows.filter((r) => !r.unsupported).length;
  const witLacks = rows.filter((r) => r.unsupported?.startsWith('the WIT has no')).length;
  console.log(
    `${mapped}/${rows.length} hostcalls call the component ABI; ${rows.length - mapped} answer unsupported (${witLacks} because the WIT has no counterpart)`,
  );
  return 0;
}

function writeCHeader(witx: WitxAbi, output: string | undefined): number {
  const header = witxCHeader(witx);
  if (output === undefined) {
    process.stdout.write(header);
    return 0;
  }
  try {
    writeFileSync(output, header);
  } catch (err) {
    throw new UsageError(`cannot write ${output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return 0;
}
