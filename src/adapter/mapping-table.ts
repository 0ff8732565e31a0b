import type { WitxAbi } from '../witx/index.js';
import { HAND_WRITTEN } from './generate.js';
import { generateHostcall } from './hostcall/index.js';
import { ImportTable } from './import-table.js';
import { MAPPINGS } from './mappings/index.js';
import { ASYNC_CALLS } from './runtime.js';
import type { WitView } from './wit-view.js';

export interface MappingRow {
  hostcall: string;
  /** Core import names (`interface#function`) of the WIT functions the hostcall calls. */
  calls: string[];
  /** Set when the hostcall answers `unsupported`; says why. */
  unsupported?: string;
}

/** Each WITX hostcall and the WIT functions its adapter export calls. */
export function mappingTable(abi: WitxAbi, wit: WitView): MappingRow[] {
  const rows: MappingRow[] = [];
  for (const module of abi.modules) {
    for (const fn of module.functions) {
      const hostcall = `${module.name}#${fn.name}`;
      const imports = new ImportTable(wit);
      if (HAND_WRITTEN.includes(hostcall)) {
        const refs = fn.name === 'select'
          ? [ASYNC_CALLS.select, ASYNC_CALLS.selectWithTimeout, ASYNC_CALLS.subscribeCache, ASYNC_CALLS.subscribeReplace, ASYNC_CALLS.subscribeHttpCache, ASYNC_CALLS.dropPollable]
          : [ASYNC_CALLS.isReady, ASYNC_CALLS.subscribeCache, ASYNC_CALLS.subscribeReplace, ASYNC_CALLS.subscribeHttpCache, ASYNC_CALLS.dropPollable];
        refs.forEach((r) => imports.id(r));
        rows.push({ hostcall, calls: imports.keys() });
        continue;
      }
      const mapping = MAPPINGS[module.name]?.[fn.name];
      if (mapping && typeof mapping === 'object' && 'unsupported' in mapping) {
        rows.push({ hostcall, calls: [], unsupported: mapping.unsupported });
        continue;
      }
      if (mapping) generateHostcall(abi, wit, imports, module.name, fn.name, mapping);
      rows.push({ hostcall, calls: imports.keys() });
    }
  }
  return rows;
}
