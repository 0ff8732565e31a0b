import type { MainChannel } from './channel.js';
import type { BackendSpec, HostConfig } from './config.js';
import { Subscriptions, type Pollable, type Waiter } from './pollable.js';
import { HostError } from './errors.js';
import type { DownstreamRequest, Waitable } from './protocol.js';
import type { ServiceArgs, ServiceMethodName, ServiceResult } from './services/protocol.js';

/** Everything one guest instance's host objects share: the request being served and its line out. */
export class Session implements Waiter {
  /** Set once a response head has gone downstream; a second one is an error. */
  responded = false;
  readonly dynamicBackends = new Map<string, BackendSpec>();
  /** `next-request`'s outstanding pending request (one at a time). */
  pendingDownstream: Pollable | undefined;
  /** Downstream requests this instance (sandbox) has been handed, counting the first, and when it got the first. */
  served = 0;
  firstBegunAt = 0;
  /** Set by the runner: binds a further downstream request to this instance (`await-request`). */
  rebind: ((downstream: DownstreamRequest, env: Record<string, string>) => void) | undefined;
  /** Set when the instance is bound to a request (`begin`): instances are made ahead of time. */
  startedAt = process.hrtime.bigint();
  private blockedAtStart = 0n;
  private nextPending = 1;
  /** Cache-entry pollables made for `select` / `is_ready` and not dropped yet (see `Subscription`). */
  readonly subscriptions = new Subscriptions();
  /** Bytes of linear memory of the guest's core instances, filled in at instantiation. */
  memories: WebAssembly.Memory[] = [];

  memoryBytes(): number {
    return this.memories.reduce((sum, memory) => sum + memory.buffer.byteLength, 0);
  }

  constructor(
    readonly channel: MainChannel,
    readonly config: HostConfig,
    public downstream: DownstreamRequest | undefined,
  ) {}

  /** Binds an instance made ahead of time to the request it now serves (see `runner.ts`). */
  begin(downstream: DownstreamRequest | undefined): void {
    this.downstream = downstream;
    this.responded = false;
    if (downstream && this.served++ === 0) this.firstBegunAt = Date.now();
    this.startedAt = process.hrtime.bigint();
    this.blockedAtStart = this.channel.blockedNs;
  }

  /**
   * Time the guest has been running since `begin`, less the time it waited on the main thread:
   * Viceroy's active CPU time. The guest has its thread to itself, and `process.cpuUsage` would
   * count every thread of the process (and cost a system call per request).
   */
  activeMs(): number {
    return Number(process.hrtime.bigint() - this.startedAt - (this.channel.blockedNs - this.blockedAtStart)) / 1e6;
  }

  wait(items: Waitable[], timeoutMs: number | null): number | null {
    return this.channel.call({ op: 'wait', items, timeoutMs }).index;
  }

  /**
   * Calls a method of a server-wide service and blocks until it answers; its failure is thrown
   * as the guest's WIT error, a host failure as a trap.
   */
  service<M extends ServiceMethodName>(method: M, args: ServiceArgs<M>): ServiceResult<M> {
    const reply = this.channel.call({ op: 'service', call: { method, args } as never });
    if ('failure' in reply) throw new HostError(reply.failure.payload);
    if ('crash' in reply) throw new Error(`host service ${method} failed: ${reply.crash}`);
    return reply.result as ServiceResult<M>;
  }

  /** Calls a service method without waiting for it (its result and failures are dropped). */
  serviceNotice<M extends ServiceMethodName>(method: M, args: ServiceArgs<M>): void {
    this.channel.notify({ op: 'service-notice', call: { method, args } as never });
  }

  allocatePending(): number {
    return this.nextPending++;
  }

  backend(name: string): BackendSpec | undefined {
    return this.config.backends[name] ?? this.dynamicBackends.get(name);
  }
}
