import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { abi, abiCHeader, abiMapping, compareAbi } from '../api/abi.js';
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
  if (opts.output && !opts.cHeader) throw new UsageError('--output goes with --c-header');
  if (opts.cHeader) return writeCHeader(opts.output);
  if (opts.compare) return compare(opts.compare, !!opts.json);
  if (opts.mapping) return printMapping(!!opts.json);
  const summary = abi();
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

function compare(dir: string, json: boolean): number {
  const result = compareAbi(dir);
  if (json) {
    console.log(JSON.stringify({ witx: result.witx, wit: result.wit }, null, 2));
  } else {
    console.log(`WITX: ${result.identicalHostcalls} hostcalls identical, ${result.witx.length} differences`);
    result.witx.forEach((l) => console.log(`  ${l}`));
    console.log(`WIT: ${result.wit.length} differences`);
    result.wit.forEach((l) => console.log(`  ${l}`));
  }
  return result.witx.length + result.wit.length ? 1 : 0;
}

function printMapping(json: boolean): number {
  const rows = abiMapping();
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  for (const row of rows) {
    const target = row.unsupported ? `unsupported (${row.unsupported})` : row.calls.join(', ') || 'answered by the adapter itself';
    console.log(`${row.hostcall} -> ${target}${row.errorPaths.length ? ` [error paths: ${row.errorPaths.join(' ')}]` : ''}`);
  }
  const mapped = rows.filter((r) => !r.unsupported).length;
  const witLacks = rows.filter((r) => r.unsupported?.startsWith('the WIT has no')).length;
  console.log(
    `${mapped}/${rows.length} hostcalls call the component ABI; ${rows.length - mapped} answer unsupported (${witLacks} because the WIT has no counterpart)`,
  );
  console.log(`${rows.reduce((n, r) => n + r.errorPaths.length, 0)} error paths a guest can provoke in the adapter (badf, buflen, none, inval)`);
  return 0;
}

function writeCHeader(output: string | undefined): number {
  const header = abiCHeader();
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
