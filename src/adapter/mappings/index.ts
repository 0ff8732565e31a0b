import type { Mapping } from '../mapping.js';
import { cache, httpCache, kvStore, objectStore } from './cache.js';
import { httpBody, httpDownstream, httpReq, httpResp, log } from './http.js';
import {
  abi,
  acl,
  backend,
  computeRuntime,
  configStore,
  deviceDetection,
  dictionary,
  erl,
  geo,
  imageOptimizer,
  purge,
  secretStore,
  shielding,
  uap,
} from './misc.js';

/** Every legacy module's hostcalls (except `fastly_async_io`, written by hand in async-io.ts). */
export const MAPPINGS: Readonly<Record<string, Record<string, Mapping>>> = {
  fastly_abi: abi,
  fastly_uap: uap,
  fastly_http_body: httpBody,
  fastly_log: log,
  fastly_http_req: httpReq,
  fastly_http_downstream: httpDownstream,
  fastly_http_resp: httpResp,
  fastly_dictionary: dictionary,
  fastly_geo: geo,
  fastly_device_detection: deviceDetection,
  fastly_erl: erl,
  fastly_object_store: objectStore,
  fastly_image_optimizer: imageOptimizer,
  fastly_kv_store: kvStore,
  fastly_secret_store: secretStore,
  fastly_backend: backend,
  fastly_purge: purge,
  fastly_compute_runtime: computeRuntime,
  fastly_acl: acl,
  fastly_cache: cache,
  fastly_http_cache: httpCache,
  fastly_config_store: configStore,
  fastly_shielding: shielding,
};
