// Builds the witshim adapter modules into adapter/build/ (run by `npm run build`).
// The adapter's source is TypeScript that generates WAT (src/adapter/); this runs that generator
// once per variant and target, so `witshim adapt` starts from a ready module. Each one's WAT is kept beside it.
import { adapterModule } from '../dist/adapter/build.js';
import { ADAPTER_TARGETS } from '../dist/adapter/target.js';

for (const target of ADAPTER_TARGETS) for (const variant of ['command', 'library']) await adapterModule(variant, target);
console.log('adapter modules built in adapter/build/');
