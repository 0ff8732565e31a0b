import { fail } from '../errors.js';

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
