/**
 * witshim as a library: adapt legacy Fastly Compute modules, inspect modules and components,
 * summarise the ABIs, and serve or run apps. The CLI (`src/cli`) is a thin layer over this.
 */
export { adapt, AdaptError, type AdaptOptions } from './adapt/index.js';
export { inspect, type InspectReport, type ModuleReport, type ComponentReport } from './api/inspect.js';
export { abi, abiCHeader, abiMapping, compareAbi, AbiCompareError, type AbiSummary, type AbiComparison, type MappingRow } from './api/abi.js';
export { AppError, type AppSource } from './api/app.js';
export { ConfigError, type ConfigSource, type LocalServerConfig, type ConfigOptions } from './api/config.js';
export { createServer, runOnce, type Server, type ServerOptions, type ListenOptions, type RunOptions, type RunResult, type Logger, type TlsIdentity, type HostcallTrace } from './api/server.js';
