import type { WitxAbi } from './types.js';

/**
 * Every hostcall of the ABI as `module#name`, in the ABI's order (files, then declarations): the
 * names legacy modules import, and the order the hostcall trace numbers them in.
 */
export function hostcallNames(abi: WitxAbi): string[] {
  return abi.modules.flatMap((m) => m.functions.map((f) => `${m.name}#${f.name}`));
}
