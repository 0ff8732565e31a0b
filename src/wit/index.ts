// WIT for the component side of witshim: parsing, resolution, and the
// Canonical ABI that core code uses to call into (and be called from) it.

export * from './ast.js';
export { tokenize, WitSyntaxError, type Token, type TokenKind } from './lexer.js';
export { parseWit, KEYWORDS } from './parser.js';
export { printWitPackage, printType, type PrintOptions } from './printer.js';
export * from './model.js';
export { resolveWit, WitResolveError, type DependencyProvider, type ResolveOptions } from './resolve.js';
export { loadWit, resolveWitSources, defaultWitDir, type LoadOptions } from './load.js';
export { builtinWasiPackage, jcoBuiltinWitDir } from './wasi-builtin.js';
export { findInterface, findWorld, findFunction, findType, worldItems } from './lookup.js';
export * from './abi.js';
export * from './mangle.js';
export { describeWitFunction, describeType } from './describe.js';
export { witSource } from './source.js';
