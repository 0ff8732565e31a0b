import type { Command } from 'commander';
import { join } from 'node:path';
import { classifyImport, importLabel } from '../adapt/classify.js';
import { projectRoot } from '../version.js';
import { loadWitxDir } from '../witx/index.js';
import { readInput } from './adapt.js';
import { UsageError } from './errors.js';

/** Hostcalls whose behaviour depends on the handle-type shim. */
const SHIM_MODULES = new Set(['fastly_async_io', 'fastly_cache', 'fastly_http_cache']);

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show what a legacy module imports, or what a component imports and exports')
    .argument('<file.wasm>', 'a core module or a component')
    .option('--json', 'print machine-readable JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const bytes = readInput(file);
      const report = isComponent(bytes) ? await inspectComponent(bytes) : await inspectLegacy(bytes, file);
      console.log(opts.json ? JSON.stringify(report, null, 2) : render(report));
    });
}

function isComponent(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[6] === 1 && bytes[0] === 0 && bytes[1] === 0x61;
}

/** wasm-tools is loaded when needed, not at start-up (see adapt.ts). */
async function inspectLegacy(bytes: Uint8Array, file: string) {
  const { AdaptError, inspectModule } = await import('../adapt/index.js');
  let iface;
  try {
    iface = inspectModule(bytes);
  } catch (err) {
    if (err instanceof AdaptError) throw new UsageError(`${file}: ${err.message}`);
    throw err;
  }
  const abi = loadWitxDir(join(projectRoot, 'witx'));
  const hostcalls: Record<string, string[]> = {};
  const unknown: string[] = [];
  const wasi: string[] = [];
  const shim: string[] = [];
  for (const imp of iface.imports) {
    const c = classifyImport(abi, imp);
    if (c.kind === 'hostcall') {
      const [module, name] = c.hostcall.split('#');
      (hostcalls[module] ??= []).push(name);
      if (SHIM_MODULES.has(module)) shim.push(c.hostcall);
    } else if (c.kind === 'wasi') wasi.push(imp.name);
    else unknown.push(importLabel(imp));
  }
  return { kind: 'module' as const, hostcalls, wasi, unknown, shim };
}

async function inspectComponent(bytes: Uint8Array) {
  const { componentWit, metadataShow } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const wit = await componentWit(bytes);
  const lines = wit.split('\n').map((l) => l.trim());
  const imports = lines.filter((l) => l.startsWith('import ')).map((l) => l.slice(7).replace(/;$/, ''));
  const exports = lines.filter((l) => l.startsWith('export ')).map((l) => l.slice(7).replace(/;$/, ''));
  const metadata = await metadataShow(bytes);
  const witshim = JSON.stringify(metadata).includes('"witshim"');
  return { kind: 'component' as const, imports, exports, producedByWitshim: witshim };
}

function render(report: Awaited<ReturnType<typeof inspectLegacy>> | Awaited<ReturnType<typeof inspectComponent>>): string {
  if (report.kind === 'component') {
    return [
      `component${report.producedByWitshim ? ' (produced by witshim)' : ''}`,
      `imports (${report.imports.length}):`,
      ...report.imports.map((i) => `  ${i}`),
      `exports (${report.exports.length}):`,
      ...report.exports.map((e) => `  ${e}`),
    ].join('\n');
  }
  const total = Object.values(report.hostcalls).reduce((n, l) => n + l.length, 0);
  return [
    `legacy module: ${total} hostcalls in ${Object.keys(report.hostcalls).length} modules, ${report.wasi.length} WASI preview1 imports`,
    ...Object.entries(report.hostcalls).map(([m, fns]) => `  ${m} (${fns.length}): ${fns.join(', ')}`),
    `touching the handle-type shim (${report.shim.length}): ${report.shim.join(', ') || 'none'}`,
    `unknown imports (${report.unknown.length}): ${report.unknown.join(', ') || 'none'}`,
  ].join('\n');
}
