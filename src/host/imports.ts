import { adapterHttpReq } from './interfaces/adapter-http-req.js';
import { adapterTrace } from './interfaces/trace.js';
import { asyncIo } from './interfaces/async-io.js';
import { backendInterface } from './interfaces/backend.js';
import { cacheInterface } from './interfaces/cache.js';
import { erl } from './interfaces/erl.js';
import { acl, geo } from './interfaces/geo-acl.js';
import { httpBody } from './interfaces/http-body.js';
import { httpCache } from './interfaces/http-cache.js';
import { cachedSend } from './interfaces/http-cache-send.js';
import { httpDownstream } from './interfaces/http-downstream.js';
import { httpReq } from './interfaces/http-req.js';
import { httpResp } from './interfaces/http-resp.js';
import { imageOptimizer } from './interfaces/image-optimizer.js';
import { kvStore } from './interfaces/kv-store.js';
import { log } from './interfaces/log.js';
import { computeRuntime, configStore, deviceDetection, dictionary, secretStore } from './interfaces/lookups.js';
import { purgeInterface } from './interfaces/purge.js';
import { security } from './interfaces/security.js';
import { shielding } from './interfaces/shielding.js';
import type { HostImports, InterfaceName } from './host-types.js';
import type { Session } from './session.js';
import type { Wasi } from './wasi.js';

/** Every Fastly interface the WIT declares: the compiler insists each has a module. */
type Served = Extract<InterfaceName, `fastly:${string}` | `witshim:${string}`>;

/** One module per `fastly:compute` interface; the key is the name jco's bindings look up. */
const served: { [K in Served]: (session: Session) => HostImports[K] } = {
  'fastly:compute/async-io': asyncIo,
  'fastly:compute/http-body': httpBody,
  'fastly:compute/http-cache': httpCache,
  // `send` goes through the HTTP cache when the request's cache override asks for caching.
  'fastly:compute/http-req': (session) => httpReq(session, cachedSend),
  'fastly:compute/http-resp': httpResp,
  'fastly:compute/http-downstream': httpDownstream,
  'fastly:compute/backend': backendInterface,
  'fastly:compute/log': log,
  'fastly:compute/dictionary': dictionary,
  'fastly:compute/config-store': configStore,
  'fastly:compute/secret-store': secretStore,
  'fastly:compute/geo': geo,
  'fastly:compute/device-detection': deviceDetection,
  'fastly:compute/acl': acl,
  'fastly:compute/compute-runtime': computeRuntime,
  'fastly:compute/security': security,
  'fastly:compute/shielding': shielding,
  'fastly:compute/image-optimizer': imageOptimizer,
  'fastly:compute/kv-store': kvStore,
  'fastly:compute/erl': erl,
  'fastly:compute/cache': cacheInterface,
  'fastly:compute/purge': purgeInterface,
  'fastly:compute/types': () => ({}),
  'fastly:compute/http-types': () => ({}),
  'fastly:adapter/adapter-http-req': adapterHttpReq,
  'witshim:adapter/trace': adapterTrace,
};

const servedEntries = Object.entries(served);

/** The import object for one guest instance (jco's bindings look interfaces up without `@version`). */
export function buildImports(session: Session, wasi: Wasi): Record<string, Record<string, unknown>> {
  const imports: Record<string, Record<string, unknown>> = { ...wasi.imports };
  for (const [name, factory] of servedEntries) imports[name] = factory(session);
  return imports;
}
