// Builds the witshim adapter modules into adapter/build/ (run by `npm run build`).
// The adapter's source is TypeScript that generates WAT (src/adapter/); this runs that generator
// once per variant and target, so `witshim adapt` starts from a ready module. Each one's WAT is kept beside it.
// Then the stand-in glue for each target (src/server/stand-in.ts), which `serve` starts a module
// of a shape it has never seen on.
import { adapterModule } from '../dist/adapter/build.js';
import { ADAPTER_TARGETS } from '../dist/adapter/target.js';
import { buildStandIns } from '../dist/server/stand-in-build.js';

for (const target of ADAPTER_TARGETS) for (const variant of ['command', 'library']) await adapterModule(variant, target);
console.log('adapter modules built in adapter/build/');
const started = performance.now();
await buildStandIns(ADAPTER_TARGETS);
console.log(`stand-in glue built in adapter/build/stand-in/ (${((performance.now() - started) / 1000).toFixed(1)} s)`);
