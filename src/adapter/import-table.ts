import { LiveTypes } from './live.js';
import type { WHandle, WitFunctionView, WitView, WType } from './wit-view.js';

/** Collects the WIT imports generated code calls, so each is declared once. */
export class ImportTable {
  private readonly byKey = new Map<string, { id: string; fn: WitFunctionView }>();
  private readonly helpers = new Map<string, string>();
  /** Resource types whose guest handles the generated code tracks (see live.ts). */
  readonly live = new LiveTypes();

  constructor(private readonly wit: WitView) {}

  id(ref: string): string {
    const fn = this.wit.func(ref);
    const key = `${fn.importModule}#${fn.importName}`;
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = { id: `$wit_${this.byKey.size}`, fn };
      this.byKey.set(key, entry);
    }
    return entry.id;
  }

  view(ref: string): WitFunctionView {
    return this.wit.func(ref);
  }

  /** The `[resource-drop]` intrinsic of a resource, in the interface that defines it. */
  dropId(t: WHandle): string {
    return this.id(`${t.iface}/[resource-drop]${t.resource}`);
  }

  /** The live-set number of a resource type. */
  liveId(t: Pick<WHandle, 'iface' | 'resource'>): number {
    return this.live.id(t);
  }

  /** Registers a shared WAT function once (by name) and returns its name. */
  helper(name: string, wat: string): string {
    this.helpers.set(name, wat);
    return name;
  }

  helperFuncs(): string[] {
    return [...this.helpers.values()];
  }

  /** The `module#name` of every WIT function imported so far. */
  keys(): string[] {
    return [...this.byKey.keys()];
  }

  /** Error types of every imported function, for the status helpers. */
  errorTypes(): WType[] {
    const types: WType[] = [];
    for (const { fn } of this.byKey.values()) if (fn.result?.kind === 'result' && fn.result.err) types.push(fn.result.err);
    return types;
  }

  declarations(): string[] {
    return [...this.byKey.values()].map(({ id, fn }) => {
      const params = fn.paramsIndirect ? ['i32'] : [...fn.flatParams];
      let results = fn.flatResults;
      if (fn.resultsIndirect) {
        params.push('i32');
        results = [];
      }
      const sig = `${params.length ? ` (param ${params.join(' ')})` : ''}${results.length ? ` (result ${results.join(' ')})` : ''}`;
      return `  (import ${JSON.stringify(fn.importModule)} ${JSON.stringify(fn.importName)} (func ${id}${sig}))`;
    });
  }
}
