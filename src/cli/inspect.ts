import type { Command } from 'commander';
import type { InspectReport } from '../api/inspect.js';
import { readInput } from './adapt.js';
import { UsageError } from './errors.js';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show what a legacy module imports, or what a component imports and exports')
    .argument('<file.wasm>', 'a core module or a component')
    .option('--json', 'print machine-readable JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      // wasm-tools is loaded when needed, not at start-up: it costs every other command (serve) ~0.2 s.
      const [{ inspect }, { AdaptError }] = await Promise.all([import('../api/inspect.js'), import('../adapt/index.js')]);
      let report: InspectReport;
      try {
        report = await inspect(readInput(file));
      } catch (err) {
        if (err instanceof AdaptError) throw new UsageError(`${file}: ${err.message}`);
        throw err;
      }
      console.log(opts.json ? JSON.stringify(report, null, 2) : render(report));
    });
}

function render(report: InspectReport): string {
  if (report.kind === 'component') {
    return [
      `component${report.producedByWitshim ? ' (produced by witshim)' : ''}`,
      ...(report.adapterTarget ? [`adapter target: ${report.adapterTarget}`] : []),
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
