/**
 * The server-wide stateful services, on the main thread: every worker's guests call into the
 * same state, so a value one request stores is there for the next request on any worker.
 * One `Services` lives as long as the server (a `--watch` reload keeps it unless the
 * `fastly.toml` changed). Each service is a module with a handler for each of its methods
 * (`src/host/services/*` declares them); the composed table must cover every method.
 */
import type { Readable } from 'node:stream';
import type { HostConfig } from '../../host/config.js';
import type { HeaderList } from '../../host/protocol.js';
import type { ServiceArgs, ServiceCall, ServiceMethodName, ServiceResult } from '../../host/services/protocol.js';
import type { InboundSource } from '../inbound.js';
import { cacheService } from './cache.js';
import { erlService } from './erl.js';
import { kvService } from './kv.js';
import { alongsideCoreCache } from './http-cache.js';
import type { CacheView, KvView, ServicesView } from './view.js';

/** Where the worker's writes to a streaming body go (the same calls `OutboundBody` takes). */
export interface BodySink {
  bytes(bytes: Uint8Array): void;
  /** The unread rest of a main-side stream follows what was written before. */
  source(source: InboundSource): void;
  end(trailers?: HeaderList): void;
  abort(): void;
}

/** What a handler may ask of the request that called it. */
export interface ServiceContext {
  /** Held state (a transaction's insert obligation, say) is released when this request ends. */
  readonly requestId: string;
  /** Hands a main-side stream to the worker as a body source, read with the usual `read` calls. */
  addSource(stream: Readable): number;
  /** Routes the worker's writes to its streaming body `sink` (a number the worker chose) into `target`. */
  addSink(sink: number, target: BodySink): void;
}

export type ServiceHandler<M extends ServiceMethodName> = (args: ServiceArgs<M>, ctx: ServiceContext) => ServiceResult<M> | Promise<ServiceResult<M>>;

export type ServiceHandlers<Methods extends ServiceMethodName = ServiceMethodName> = { [M in Methods]: ServiceHandler<M> };

/** Tells every waiting request that some service state changed, so it re-checks what it waits on. */
export interface ServiceEvents {
  changed(): void;
}

/** One service: its handlers, and optionally readiness of the waitables it hands out and per-request clean-up. */
export interface ServiceModule<Methods extends ServiceMethodName = ServiceMethodName> {
  handlers: ServiceHandlers<Methods>;
  /** Whether the waitable `key` is ready; `undefined` when the key is not this service's. */
  isReady?(key: string): boolean | undefined;
  /** The request ended (finished, trapped or gone): release what it held. */
  endRequest?(requestId: string): void;
  /** The server is closing: stop timers. */
  close?(): void;
  /** Its part of the read-only view on the server's state (`Services.view()`). */
  view?: ServiceViewPart;
  /** Removes (hard) or marks stale (soft) every cached object carrying `surrogateKey`; how many. */
  purge?(surrogateKey: string, soft: boolean): number;
}

/** What one service module adds to `Services.view()`: a module shows only the state it holds. */
export interface ServiceViewPart {
  kv?: KvView;
  cache?: Partial<CacheView>;
}

/** A call as the dispatcher sees it: the method table is typed, the crossing is not. */
export interface UntypedServiceCall {
  method: string;
  args: unknown;
}

/** A service's failure: `payload` is the WIT error value the guest's call returns. */
export class ServiceError extends Error {
  constructor(readonly payload: unknown) {
    super(typeof payload === 'string' ? payload : JSON.stringify(payload));
  }
}

export type ServiceFactory<Methods extends ServiceMethodName = ServiceMethodName> = (config: HostConfig, events: ServiceEvents) => ServiceModule<Methods>;

/** Every service the server provides; each adds itself here. */
const factories = [kvService(), erlService(), alongsideCoreCache(cacheService())] as const;

type MethodsOf<F> = F extends ServiceFactory<infer Methods> ? Methods : never;
/** Fails to compile when a declared method has no handler in any service. */
const everyMethodServed: [ServiceMethodName] extends [MethodsOf<(typeof factories)[number]>] ? true : never = true;
void everyMethodServed;

export class Services {
  private readonly listeners = new Set<() => void>();
  private readonly modules: ServiceModule[];
  private readonly handlers: Partial<Record<ServiceMethodName, ServiceHandler<ServiceMethodName>>> = {};

  constructor(config: HostConfig) {
    const events: ServiceEvents = { changed: () => this.changed() };
    this.modules = (factories as readonly ServiceFactory<never>[]).map((factory) => factory(config, events) as unknown as ServiceModule);
    for (const module of this.modules) Object.assign(this.handlers, module.handlers);
  }

  /** Runs a call; a `ServiceError` is the guest's error, anything else a host failure. */
  call(call: ServiceCall | UntypedServiceCall, ctx: ServiceContext): unknown {
    const handler = this.handlers[call.method as ServiceMethodName] as ((args: unknown, ctx: ServiceContext) => unknown) | undefined;
    if (!handler) throw new Error(`no service provides ${call.method}`);
    return handler(call.args, ctx);
  }

  isReady(key: string): boolean {
    for (const module of this.modules) {
      const ready = module.isReady?.(key);
      if (ready !== undefined) return ready;
    }
    // A key no service knows stands for something already gone: waiting on it must not hang.
    return true;
  }

  /** Calls `listener` on every change until the returned function is called. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A read-only view on the live state (KV entries, cached objects), read anew on each call:
   * what a test asserts on after a request. Reading changes nothing a guest sees.
   */
  view(): ServicesView {
    const parts = this.modules.flatMap((module) => (module.view ? [module.view] : []));
    const kv = parts.flatMap((part) => (part.kv ? [part.kv] : []));
    const cache = parts.flatMap((part) => (part.cache ? [part.cache] : []));
    return {
      kv: {
        stores: () => kv.flatMap((part) => part.stores()).sort(),
        entries: (store) => kv.map((part) => part.entries(store)).find((found) => found !== undefined),
      },
      cache: {
        core: () => cache.flatMap((part) => part.core?.() ?? []),
        http: () => cache.flatMap((part) => part.http?.() ?? []),
      },
    };
  }

  /** Purges a surrogate key from every cache, as `purge.surrogate-key` does for a guest; how many objects it reached. */
  purge(surrogateKey: string, options: { soft?: boolean } = {}): number {
    return this.modules.reduce((count, module) => count + (module.purge?.(surrogateKey, options.soft ?? false) ?? 0), 0);
  }

  endRequest(requestId: string): void {
    for (const module of this.modules) module.endRequest?.(requestId);
  }

  close(): void {
    for (const module of this.modules) module.close?.();
    this.listeners.clear();
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
