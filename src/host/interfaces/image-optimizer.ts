import { fail } from '../errors.js';
import type { HostInterface } from '../host-types.js';

/** Viceroy has no image optimizer and answers `unsupported`; so does the dev server. */
function unsupported(): never {
  fail('unsupported');
}

export function imageOptimizer() {
  return {
    ExtraImageOptimizerTransformOptions: class {},
    sendToImageOptimizer: unsupported,
    transformImageOptimizerRequest: unsupported,
  };
}

// Checked against the WIT (see ../host-types.ts).
imageOptimizer satisfies () => HostInterface<'fastly:compute/image-optimizer'>;
