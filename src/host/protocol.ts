/**
 * Messages between a guest worker and the main thread. The main thread owns every socket;
 * a worker names main-side streams by number: `source` ids (readable: downstream request
 * body, backend response bodies) are handed out by the main thread, `sink` and `pending`
 * ids (writable streaming bodies, in-flight backend requests) by the worker.
 */
import type { MessagePort } from 'node:worker_threads';
import type { BackendSpec, HostConfig } from './config.js';
import type { IndirectShim } from './indirect-calls.js';
import type { TabledModule } from './lazy-exports.js';
import type { ServiceCall, ServiceReply } from './services/protocol.js';

export type HeaderList = Array<[name: string, value: Uint8Array]>;

/** One piece of a body: bytes held by the worker, or the unread rest of a main-side source. */
export type BodySegment = Uint8Array | { source: number };

export interface OutgoingBody {
  segments: BodySegment[];
  /** Set for streaming bodies: later writes arrive as `sink-write`, the end as `sink-close`. */
  sink?: number;
  /** The whole length when a main-side source promised it (an origin's content-length), so a proxied body keeps it. */
  knownLength?: bigint;
  /** Trailers the guest appended to a body sent whole; a streaming body's come with `sink-close`. */
  trailers?: HeaderList;
}

export interface MessageHead {
  headers: HeaderList;
  version: HttpVersion;
  /** `manually-from-headers`: keep the guest's content-length / transfer-encoding. */
  manualFraming: boolean;
}

export type HttpVersion = 'http09' | 'http10' | 'http11' | 'h2' | 'h3';

export interface DownstreamRequest {
  id: string;
  method: string;
  uri: string;
  version: HttpVersion;
  headers: HeaderList;
  /** Header names as the client spelled them, in order. */
  originalHeaderNames: string[];
  body: number;
  knownLength?: bigint;
  clientAddress?: string;
  serverAddress?: string;
  /** Set when the client connected over TLS (`serve --https` / `--tls-cert`). */
  tls?: DownstreamTls;
}

/** What the TLS handshake told about the client, as the platform's `downstream-tls-*` report it. */
export interface DownstreamTls {
  /** e.g. `TLSv1.3`. */
  protocol: string;
  /** The cipher's OpenSSL name, e.g. `TLS_AES_256_GCM_SHA384`. */
  cipherOpensslName: string;
  /** The SNI name the client sent. */
  servername?: string;
  /** The certificate the client presented, PEM. */
  clientCertificate?: string;
  /** Present when the client presented a certificate. */
  clientCertVerifyResult?: import('./wit-types/interfaces/fastly-compute-http-req.js').ClientCertVerifyResult;
}

export interface BackendResponse {
  status: number;
  version: HttpVersion;
  headers: HeaderList;
  body: number;
  knownLength?: bigint;
  remoteAddress?: string;
  remotePort?: number;
}

/** Names a `send-error-detail` case of the WIT (jco's declaration of `http-req`). */
export type SendErrorTag = import('./wit-types/interfaces/fastly-compute-http-req.js').SendErrorDetail['tag'];

export type AwaitedResponse = { ok: BackendResponse } | { err: SendErrorTag; message: string };

/**
 * `until`: ready once `Date.now()` reaches it (a pending downstream request that never gets one);
 * `service`: a key a server-wide service handed out (a cache entry waiting on a transaction, a KV
 * operation), ready when that service says so; `nextRequest`: `next-request`'s pending request,
 * ready once the server handed this sandbox a further request, or it will get none (its deadline,
 * `nextRequest`, passed, or the server retired it).
 */
export type Waitable = { source: number } | { pending: number } | { until: number } | { service: string } | { nextRequest: number };

/** A header change the guest asked for on a pending response, applied when it arrives. */
export type HeaderEdit = { op: 'insert' | 'append'; name: string; value: Uint8Array } | { op: 'remove'; name: string };

/** Calls the worker makes and blocks on until the main thread answers. */
export type SyncCall =
  | { op: 'read'; source: number; max: number }
  | { op: 'wait'; items: Waitable[]; timeoutMs: number | null }
  | { op: 'await-response'; pending: number }
  /** A method of a server-wide service (`src/host/services/protocol.ts`). */
  | { op: 'service'; call: ServiceCall }
  /**
   * Waits for the request the server hands this sandbox after `next-request`, and takes it; none
   * when the wait ends without one (at `deadline`, or when the server retires the sandbox).
   */
  | { op: 'await-request'; deadline: number };

export type SyncReply =
  | { op: 'read'; bytes?: Uint8Array; end?: boolean; error?: string; trailers?: HeaderList }
  | { op: 'wait'; index: number | null }
  | { op: 'await-response'; result: AwaitedResponse }
  | ServiceReply
  | { op: 'await-request'; next?: { request: DownstreamRequest; env: Record<string, string> } };

/** Notices the worker sends without waiting; they are handled in order with the calls. */
export type Notice =
  | { op: 'send-request'; pending: number; method: string; uri: string; head: MessageHead; backend: BackendSpec; body: OutgoingBody; decompressGzip: boolean }
  /** The downstream response; one with an informational status (see below) may precede it. */
  | { op: 'respond'; status: number; head: MessageHead; body: OutgoingBody }
  /** Send the backend's response downstream when it arrives, with the edits for its kind. */
  | { op: 'respond-pending'; pending: number; responseEdits: HeaderEdit[]; errorEdits: HeaderEdit[] }
  /** Hand the downstream request over to a backend (`redirect-to-websocket-proxy`): its answer is the response. */
  | { op: 'handoff'; backend: BackendSpec; method: string; uri: string; head: MessageHead; body: OutgoingBody }
  /** `redirect-to-grip-proxy`: there is no Pushpin locally, which the response says. */
  | { op: 'handoff-grip'; backend: string }
  | { op: 'sink-write'; sink: number; bytes: Uint8Array }
  /** The rest of a main-side stream goes into a streaming body, after what was written before. */
  | { op: 'sink-pipe'; sink: number; source: number }
  | { op: 'sink-close'; sink: number; trailers?: HeaderList }
  | { op: 'sink-abort'; sink: number }
  | { op: 'drop-source'; source: number }
  | { op: 'drop-pending'; pending: number }
  | { op: 'output'; stream: 'stdout' | 'stderr'; line: string }
  | { op: 'log'; endpoint: string; line: string }
  /** A service method whose result the worker does not need (dropping a handle, say). */
  | { op: 'service-notice'; call: ServiceCall }
  /**
   * `next-request`: this sandbox asks for a further downstream request until `timeoutMs` from now;
   * `served` (requests so far), `ageMs` (since its first) and `memoryBytes` (its linear memories)
   * let the server retire it.
   */
  | { op: 'next-request'; timeoutMs: number; served: number; ageMs: number; memoryBytes: number }
  /** The guest dropped its pending request (`next_request_abandon`). */
  | { op: 'next-request-abandon' }
  /** A traced adapter's report of one legacy hostcall: its trace id and the status it returned. */
  | { op: 'hostcall'; id: number; status: number };

export type WorkerToMain =
  | ({ kind: 'call' } & SyncCall)
  | ({ kind: 'notice' } & Notice)
  /** `undroppedPollables`: cache-entry pollables (`subscribe` / `step`) the guest still held at the end (see `Subscription`). */
  | { kind: 'finished'; outcome: 'ok' | 'guest-error' | 'trap'; message?: string; exitCode?: number; undroppedPollables?: number };

/** Serve one downstream request, or (for `witshim run`) run the guest once as a command. */
export type RunMessage =
  | { kind: 'run'; request: DownstreamRequest; env: Record<string, string> }
  | { kind: 'command'; args: string[]; env: Record<string, string> };

/** A transpiled guest's compiled core modules, with what the runner answers or wires itself in them. */
export interface GuestModules {
  coreModules: Record<string, WebAssembly.Module>;
  /** wit-component shim/fixup pairs the host answers in JavaScript (see indirect-calls.ts). */
  indirectShims?: IndirectShim[];
  /** Core modules whose function exports are in one table, given to the glue lazily (see lazy-exports.ts). */
  tabledModules?: TabledModule[];
}

/**
 * The guest a worker runs: its first message, sent once the app is loaded, so that a worker
 * boots (Node's own start, the host's modules) while the main thread loads the app.
 */
export interface WorkerGuest extends GuestModules {
  /** File URL of the jco-transpiled guest (`instantiation: sync`). */
  guestModule: string;
  /** The glue as a classic script, compiled with V8's code cache at `codeCache` (written by the first worker to start without one). */
  guestScript?: { path: string; codeCache: string };
}

export interface WorkerInit {
  config: HostConfig;
  /** Calls, notices and `finished` go out on `calls`; answers come back on `replies`. */
  calls: MessagePort;
  replies: MessagePort;
  /** Int32 slots (see `SIGNAL_SLOTS`): the flag the worker waits on while a call is answered, and its CPU clock at run start. */
  signal: SharedArrayBuffer;
}

/** 1xx statuses but 101 (which switches protocols, so is final) go ahead of the response proper. */
export function isInformational(status: number): boolean {
  return status >= 100 && status < 200 && status !== 101;
}

/** Slots of `WorkerInit.signal`, an Int32Array shared by the worker and the main thread. */
export const SIGNAL_SLOTS = {
  /** Flipped by the main thread when an answer is on the reply port. */
  flag: 0,
  /** Counts requests the worker has begun (runs, and further requests of a reused sandbox), so the main thread knows which one `runCpuMs` belongs to. */
  runs: 1,
  /** The worker thread's CPU time (ms) when its current request began. */
  runCpuMs: 2,
  length: 3,
} as const;

/** The worker's first message: its guest loaded and an instance made; `threadId` names its /proc entry (Linux). */
export interface WorkerReady {
  kind: 'ready';
  threadId?: number;
}
