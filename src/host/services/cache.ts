/**
 * The main-thread methods of the core cache (`fastly:compute/cache`, legacy `fastly_cache`) and purging by surrogate key: method name → the arguments the worker sends and the
 * result it gets back. The worker side calls them through `Session.service`; the main side
 * implements every one (`src/server/services`), which the compiler checks.
 */
export type CacheMethods = {};
