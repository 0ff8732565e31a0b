/**
 * Per-request limits of the dev server, with the platform's documented values as defaults
 * (Fastly's "Compute resource limits" page: 50 ms of CPU time and 2 minutes of run time per
 * execution, a 128 MB heap, 8192-byte URLs and 69 KB per request header).
 */

/** What one guest run may use before the server kills it (its worker is then replaced). */
export interface GuestLimits {
  /** Wall-clock time from the start of the run, ms. */
  wallMs: number;
  /** CPU time of the guest's thread during the run, ms. */
  cpuMs: number;
  /** Linear memory of each of the guest's core instances, bytes (each defined memory gets this maximum). */
  memoryBytes: number;
}

/** What the server accepts from clients before the guest sees anything. */
export interface RequestLimits {
  /** Bytes of one header line (name + value): larger answers 431. */
  headerBytes: number;
  /** Bytes of the request target (path and query): longer answers 414. */
  urlBytes: number;
  /** Bytes of a request body: larger answers 413 (no platform figure; see README). */
  bodyBytes: number;
}

export const PLATFORM_GUEST_LIMITS: GuestLimits = {
  // "Maximum runtime for a single request instance: 2 min".
  wallMs: 120_000,
  // The platform allows 50 ms ("Maximum CPU time available to a single request instance"), for
  // code compiled ahead of time. Here V8 compiles the guest lazily on a worker's first requests
  // and runs baseline code: a js-compute hello measured 20-40 ms warm and 100 ms on a fresh worker,
  // a 1 MiB echo 120-160 ms. 20 times the platform's figure stops a runaway loop within a second
  // and never a real request; `--cpu-limit 50` asks for the platform's figure.
  cpuMs: 1_000,
  // "Maximum memory consumption: 1M bytes stack, 128MB heap".
  memoryBytes: 128 * 1024 * 1024,
};

export const PLATFORM_REQUEST_LIMITS: RequestLimits = {
  // "Maximum length of a request header: 69KB per header".
  headerBytes: 69 * 1024,
  // "Maximum length of a URL: 8192 bytes".
  urlBytes: 8192,
  // The platform documents none for request bodies; this bounds what one request can make the
  // dev server buffer while staying far above what tests and apps send (1 MiB bodies and up).
  bodyBytes: 100 * 1024 * 1024,
};

export const WASM_PAGE = 65536;

/** `run` executes a command, which may compute for as long as it likes unless told otherwise. */
export const RUN_LIMITS: GuestLimits = { ...PLATFORM_GUEST_LIMITS, cpuMs: Infinity, wallMs: Infinity };
