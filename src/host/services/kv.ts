/**
 * The main-thread methods of KV stores (`fastly:compute/kv-store`, legacy `fastly_kv_store` / `fastly_object_store`): method name → the arguments the worker sends and the
 * result it gets back. The worker side calls them through `Session.service`; the main side
 * implements every one (`src/server/services`), which the compiler checks.
 */
export type KvMethods = {};
