// Builds the witshim adapter modules into adapter/build/ (run by `npm run build`).
// The adapter's source is TypeScript that generates WAT (src/adapter/); this runs that generator
// once, so `witshim adapt` starts from a ready module. Each variant's WAT is kept beside it.
import { adapterModule } from '../dist/adapter/build.js';

for (const variant of ['command', 'library']) await adapterModule(variant);
console.log('adapter modules built in adapter/build/');
