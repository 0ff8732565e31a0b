import { componentWit, metadataShow } from '@bytecodealliance/jco-transpile/wasm-tools';
import { inspectModule, TARGET_SECTION } from '../adapt/index.js';
import { readCustomSection } from '../wasm/custom-sections.js';
import { classifyImport, importLabel } from '../adapt/classify.js';
import { knownHostcalls } from '../adapt/fold.js';
import { wasmKind } from '../server/artifacts.js';

/** Hostcalls whose behaviour depends on the handle-type shim. */
const SHIM_MODULES = new Set(['fastly_async_io', 'fastly_cache', 'fastly_http_cache']);

/** What a legacy core module imports, sorted by what witshim makes of each import. */
export interface ModuleReport {
  kind: 'module';
  /** Hostcalls by WITX module, e.g. `{ fastly_http_req: ['send', …] }`. */
  hostcalls: Record<string, string[]>;
  /** WASI preview1 imports, by name. */
  wasi: string[];
  /** Imports the Fastly ABI does not define (`module::name`); `adapt` refuses them unless told to trap. */
  unknown: string[];
  /** Hostcalls (`module#name`) that go through the handle-type shim. */
  shim: string[];
}

/** What a component imports and exports (WIT paths), and whether witshim produced it. */
export interface ComponentReport {
  kind: 'component';
  imports: string[];
  exports: string[];
  producedByWitshim: boolean;
  /** The adapter target (`subscribe` or `published`) of a module witshim adapted. */
  adapterTarget?: string;
}

export type InspectReport = ModuleReport | ComponentReport;

/**
 * Reports what a legacy core module or a component imports (and a component exports).
 * Throws `AdaptError` when the bytes are not a valid module.
 */
export async function inspect(bytes: Uint8Array): Promise<InspectReport> {
  return wasmKind(bytes) === 'component' ? inspectComponent(bytes) : inspectLegacy(bytes);
}

function inspectLegacy(bytes: Uint8Array): ModuleReport {
  const iface = inspectModule(bytes);
  const known = knownHostcalls();
  const report: ModuleReport = { kind: 'module', hostcalls: {}, wasi: [], unknown: [], shim: [] };
  for (const imp of iface.imports) {
    const c = classifyImport(known, imp);
    if (c.kind === 'hostcall') {
      const [module, name] = c.hostcall.split('#') as [string, string];
      (report.hostcalls[module] ??= []).push(name);
      if (SHIM_MODULES.has(module)) report.shim.push(c.hostcall);
    } else if (c.kind === 'wasi') report.wasi.push(imp.name);
    else report.unknown.push(importLabel(imp));
  }
  return report;
}

async function inspectComponent(bytes: Uint8Array): Promise<ComponentReport> {
  const wit = await componentWit(bytes);
  const lines = wit.split('\n').map((l) => l.trim());
  const imports = lines.filter((l) => l.startsWith('import ')).map((l) => l.slice(7).replace(/;$/, ''));
  const exports = lines.filter((l) => l.startsWith('export ')).map((l) => l.slice(7).replace(/;$/, ''));
  const metadata = await metadataShow(bytes);
  const adapterTarget = readCustomSection(bytes, TARGET_SECTION);
  return { kind: 'component', imports, exports, producedByWitshim: JSON.stringify(metadata).includes('"witshim"'), ...(adapterTarget ? { adapterTarget } : {}) };
}
