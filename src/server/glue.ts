/**
 * Rewrites of jco's transpiled glue (`instantiation: 'sync'`) that keep its behaviour but cut
 * the cost of instantiating it once per request. Each rewrite matches an exact shape and leaves
 * the source alone when a jco version emits something else, so at worst nothing is gained.
 * Bump GLUE_REWRITES when they, or the core module rewrites of core-modules.ts, change: it is
 * part of the transpile cache key.
 */
export const GLUE_REWRITES = 'glue-5';

/**
 * `try { x = WebAssembly.promising(f); } catch(err) { x = f; }` runs on every instantiation and,
 * without JSPI, throws a TypeError whose message V8 builds by re-parsing the enclosing function:
 * the whole ~10k-line instantiate body, about 2.5 ms per throw. Test for the function instead.
 */
const PROMISING = /try \{\n\s*(\w+) = WebAssembly\.promising\(([\w$.'"[\]#:@/-]+)\);\n\s*\} catch\(err\) \{\n\s*\1 = \2;\n\s*\}/g;

/** `_debugLog` reads `process.env.JCO_DEBUG` on every call (an environment lookup); read it once. */
const DEBUG_LOG = /const _debugLog = \(\.\.\.args\) => \{\n\s*if \(!globalThis\?\.process\?\.env\?\.JCO_DEBUG\) \{ return; \}\n\s*console\.debug\(\.\.\.args\);\n\s*\};/;

export function optimizeGlue(source: string): { source: string; applied: string[] } {
  const applied: string[] = [];
  let out = source.replace(PROMISING, (_match, target: string, fn: string) => {
    applied.push('promising');
    return `${target} = typeof WebAssembly.promising === 'function' ? WebAssembly.promising(${fn}) : ${fn};`;
  });
  out = out.replace(DEBUG_LOG, () => {
    applied.push('debug-log');
    return 'const _debugLog = globalThis?.process?.env?.JCO_DEBUG ? (...args) => console.debug(...args) : () => {};';
  });
  return { source: out, applied };
}

/**
 * The exports of a sync-instantiation transpile: `instantiate`, and `_util` from the jco versions
 * that emit it. A glue with any other import or export is left to `import()`.
 */
const EXPORTS = [
  { from: 'export function instantiate(', to: 'function instantiate(', required: true },
  { from: 'export const _util =', to: 'const _util =', required: false },
] as const;

/**
 * The glue as a classic script whose completion value is `{ instantiate }`, so a worker can
 * compile it with `vm.Script` and V8's code cache (Node 20 has no compile cache for ES modules):
 * parsing and compiling the ~13k-line glue, and its functions compiled during the first
 * instantiation, were most of a worker's start. Undefined when the source has another shape.
 */
export function glueScript(source: string): string | undefined {
  let out = source;
  for (const { from, to, required } of EXPORTS) {
    const found = out.split(from).length - 1;
    if (found > 1 || (required && found === 0)) return undefined;
    out = out.replace(from, to);
  }
  // Module syntax anywhere else (`import.meta`, a dynamic `import(…)` is fine in scripts but keep it simple) keeps the module form.
  if (/^\s*(import|export)\b/m.test(out) || /\bimport\s*[.(]/.test(out)) return undefined;
  return `(function () {\n${out}\nreturn { instantiate };\n})()\n`;
}
