/**
 * wit-component's indirect-call shim, done in JavaScript.
 *
 * A component whose core instances import each other's functions before those exist (the main
 * module imports the adapter's hostcalls, but the adapter imports the main module's memory, so
 * the main module is instantiated first) gets two small core modules from wit-component:
 *
 * - the *shim* exports function `i` for every slot `i` of its table `$imports`; each only
 *   `call_indirect`s slot `i` with its own arguments;
 * - the *fixup*, instantiated last, imports the real function `actual.i` for every slot and
 *   writes it into slot `i` of the shim's table.
 *
 * jco instantiates both per component instance, and V8 makes a JS function object for every
 * export: about 2 µs each, so the shim of the js-compute hello (395 slots) and its fixup were
 * ~1.3 ms of the ~10 ms a fresh instance costs. Where `findIndirectShims` (src/server) has
 * proven a pair to behave exactly so, `Indirection` answers jco's two `instantiateCore` calls
 * itself: the shim's exports are JavaScript forwarders to a slot array, and the fixup fills it.
 * What a call costs changes little: a hostcall passes one JavaScript function more.
 */

/** A shim and its fixup, by their core module names in the transpiled guest. */
export interface IndirectShim {
  shim: string;
  fixup: string;
  /** How many slots the table has: the shim exports `"0"`…`String(slots - 1)`, the fixup imports `actual."0"`…. */
  slots: number;
}

/** The module and table names wit-component gives the pair. */
export const SHIM_TABLE = '$imports';
export const FIXUP_TABLE_MODULE = 'shim';
export const FIXUP_FUNCTIONS_MODULE = 'actual';

type Slot = (...args: unknown[]) => unknown;

/** What the shim's `$imports` export is, in the JavaScript form: only ever passed back to the fixup. */
class SlotTable {
  constructor(readonly slots: Array<Slot | undefined>) {}
}

/**
 * One component instance's stand-in for its shim instances. Made per instance, like the modules
 * it replaces: the forwarders of one instance never reach another's functions.
 */
export class Indirection {
  private readonly byModule = new Map<WebAssembly.Module, { shim: IndirectShim; role: 'shim' | 'fixup' }>();
  private readonly tables = new Map<IndirectShim, SlotTable>();

  constructor(shims: readonly IndirectShim[], coreModules: Record<string, WebAssembly.Module>) {
    for (const shim of shims) {
      const shimModule = coreModules[shim.shim];
      const fixupModule = coreModules[shim.fixup];
      if (!shimModule || !fixupModule) continue;
      this.byModule.set(shimModule, { shim, role: 'shim' });
      this.byModule.set(fixupModule, { shim, role: 'fixup' });
    }
  }

  /** The instance jco asked for, when it is a shim or a fixup this object answers; else undefined. */
  instantiate(module: WebAssembly.Module, imports: WebAssembly.Imports | undefined): WebAssembly.Instance | undefined {
    const found = this.byModule.get(module);
    if (!found) return undefined;
    switch (found.role) {
      case 'shim':
        return { exports: this.shimExports(found.shim) } as unknown as WebAssembly.Instance;
      case 'fixup':
        this.fill(found.shim, imports);
        return { exports: {} } as unknown as WebAssembly.Instance;
    }
  }

  /** Forwarder `i` calls whatever the fixup put in slot `i`, as `call_indirect` would. */
  private shimExports(shim: IndirectShim): Record<string, unknown> {
    const slots = new Array<Slot | undefined>(shim.slots);
    const table = new SlotTable(slots);
    this.tables.set(shim, table);
    const exports: Record<string, unknown> = { [SHIM_TABLE]: table };
    for (let i = 0; i < shim.slots; i++) {
      exports[String(i)] = (...args: unknown[]) => {
        const target = slots[i];
        // The wasm shim traps on a null slot: a call before the fixup ran.
        if (target === undefined) throw new WebAssembly.RuntimeError(`indirect call to slot ${i} of ${shim.shim} before its fixup ran`);
        return target(...args);
      };
    }
    return exports;
  }

  private fill(shim: IndirectShim, imports: WebAssembly.Imports | undefined): void {
    const table = this.tables.get(shim);
    const passed: unknown = imports?.[FIXUP_TABLE_MODULE]?.[SHIM_TABLE];
    if (!table || passed !== table) throw new Error(`${shim.fixup} was not given the table of ${shim.shim} from this instance`);
    const actual = imports?.[FIXUP_FUNCTIONS_MODULE] ?? {};
    for (let i = 0; i < shim.slots; i++) {
      const target = actual[String(i)];
      if (typeof target !== 'function') throw new Error(`${shim.fixup} was not given a function for slot ${i}`);
      table.slots[i] = target as Slot;
    }
  }
}
