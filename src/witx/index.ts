export type {
  ResolvedWitxType,
  WitxAbi,
  WitxBuiltin,
  WitxDocument,
  WitxField,
  WitxFunction,
  WitxInt,
  WitxLoc,
  WitxModule,
  WitxParam,
  WitxType,
  WitxTypeDef,
} from './types.js';
export { WitxError, WitxLoweringError } from './errors.js';
export { parseWitx } from './parser.js';
export { linkWitx } from './link.js';
export { loadWitxDir } from './load.js';
export { hostcallNames } from './hostcalls.js';
export { findWitxFunction, lookupTypeDef, resolveType, typeName } from './resolve.js';
export {
  coreSignature,
  coreSignatureText,
  lowerFunction,
  scalarCore,
  type CoreSignature,
  type CoreType,
  type LoweredFunction,
  type LoweredParam,
  type LoweredRole,
} from './lower.js';
export { describeWitxFunction, describeWitxType } from './describe.js';
export { witxLayout, type WitxFieldLayout, type WitxLayout } from './layout.js';
export { witxCHeader, cConstantName, cFunctionName, cTypeName, type CHeaderOptions } from './c-header.js';
