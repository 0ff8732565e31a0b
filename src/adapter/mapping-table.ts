import type { WitxAbi } from '../witx/index.js';
import { HAND_WRITTEN } from './generate.js';
import { generateHostcall } from './hostcall/index.js';
import { ImportTable } from './import-table.js';
import { MAPPINGS } from './mappings/index.js';
import { ASYNC_STATUSES, asyncCalls } from './async-io.js';
import type { StatusName } from './status.js';
import { DEFAULT_TARGET } from './target.js';
import type { WitView } from './wit-view.js';

export interface MappingRow {
  hostcall: string;
  /** Core import names (`interface#function`) of the WIT functions the hostcall calls. */
  calls: string[];
  /** Set when the hostcall answers `unsupported`; says why. */
  unsupported?: string;
  /**
   * The error statuses a guest can provoke in the adapter itself, whatever the host: a bad
   * handle (`badf`), a short buffer (`buflen`), an absent value (`none`), an invalid argument
   * (`inval`: an enum or flags value out of range, text that is not UTF-8, a bad length).
   */
  errorPaths: StatusName[];
}

/** The statuses that count as a hostcall's error paths (issue: bad handle, short buffer, missing entry, invalid argument). */
export const ERROR_PATH_STATUSES: readonly StatusName[] = ['badf', 'buflen', 'none', 'inval'];

const errorPaths = (statuses: readonly StatusName[]) => ERROR_PATH_STATUSES.filter((s) => statuses.includes(s));

/** Each WITX hostcall and the WIT functions its adapter export calls. */
export function mappingTable(abi: WitxAbi, wit: WitView): MappingRow[] {
  const rows: MappingRow[] = [];
  for (const module of abi.modules) {
    for (const fn of module.functions) {
      const hostcall = `${module.name}#${fn.name}`;
      const imports = new ImportTable(wit);
      if (HAND_WRITTEN.includes(hostcall)) {
        asyncCalls(fn.name === 'select' ? 'select' : 'is_ready', DEFAULT_TARGET).forEach((r) => imports.id(r));
        rows.push({ hostcall, calls: imports.keys(), errorPaths: errorPaths(ASYNC_STATUSES[fn.name === 'select' ? 'select' : 'is_ready']) });
        continue;
      }
      const mapping = MAPPINGS[module.name]?.[fn.name];
      if (mapping && typeof mapping === 'object' && 'unsupported' in mapping) {
        rows.push({ hostcall, calls: [], unsupported: mapping.unsupported, errorPaths: [] });
        continue;
      }
      const statuses = mapping ? generateHostcall(abi, wit, imports, module.name, fn.name, mapping).statuses : [];
      rows.push({ hostcall, calls: imports.keys(), errorPaths: errorPaths(statuses) });
    }
  }
  return rows;
}
