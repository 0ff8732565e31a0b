/**
 * The process src/server/background-build.ts forks: builds one app's glue into the cache
 * (`buildGuest`), replies, and exits. It exits too when its parent goes away.
 */
import { buildGuest } from './artifacts.js';
import type { BuilderReply, BuilderRequest } from './background-build.js';

const reply = (message: BuilderReply) => process.send?.(message, () => process.disconnect());

process.once('disconnect', () => process.exit(0));
process.once('message', (request: BuilderRequest) => {
  buildGuest(request.bytes, request.root, request.options).then(
    () => reply({ kind: 'built' }),
    (err: unknown) => reply({ kind: 'failed', message: String(err instanceof Error ? err.message : err).split('\n')[0]! }),
  );
});
