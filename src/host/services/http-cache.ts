/**
 * The main-thread methods of the HTTP cache (`fastly:compute/http-cache`, legacy `fastly_http_cache`): method name → the arguments the worker sends and the
 * result it gets back. The worker side calls them through `Session.service`; the main side
 * implements every one (`src/server/services`), which the compiler checks.
 */
export type HttpCacheMethods = {};
