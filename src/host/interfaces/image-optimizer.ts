import { fail } from '../errors.js';
import type { HostInterface } from '../host-types.js';

/** Viceroy has no image optimizer and answers `unsupported`; so does the dev server. */
function unsupported(): never {
  fail('unsupported');
}

/** The interface needs nothing of the session: one object for every instance. */
const IMAGE_OPTIMIZER = {
  ExtraImageOptimizerTransformOptions: class ExtraImageOptimizerTransformOptions {},
  sendToImageOptimizer: unsupported,
  transformImageOptimizerRequest: unsupported,
};

export function imageOptimizer() {
  return IMAGE_OPTIMIZER;
}

// Checked against the WIT (see ../host-types.ts).
imageOptimizer satisfies () => HostInterface<'fastly:compute/image-optimizer'>;
