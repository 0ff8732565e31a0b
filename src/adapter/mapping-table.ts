import type { WitxAbi } from '../witx/index.js';
import { HAND_WRITTEN } from './generate.js';
import { generateHostcall } from './hostcall/index.js';
import { ImportTable } from './import-table.js';
import { MAPPINGS } from './mappings/index.js';
import { asyncCalls } from './async-io.js';
import { DEFAULT_TARGET } from './target.js';
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
        asyncCalls(fn.name === 'select' ? 'select' : 'is_ready', DEFAULT_TARGET).forEach((r) => imports.id(r));
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
