import type { MainChannel } from './channel.js';
import type { BackendSpec, HostConfig } from './config.js';
import type { Waiter } from './pollable.js';
import type { DownstreamRequest, Waitable } from './protocol.js';

/** Everything one guest instance's host objects share: the request being served and its line out. */
export class Session implements Waiter {
  /** Set once a response head has gone downstream; a second one is an error. */
  responded = false;
  readonly dynamicBackends = new Map<string, BackendSpec>();
  readonly startedAt = process.hrtime.bigint();
  readonly cpuAtStart = process.cpuUsage();
  private nextPending = 1;
  /** Bytes of linear memory of the guest's core instances, filled in at instantiation. */
  memories: WebAssembly.Memory[] = [];

  constructor(
    readonly channel: MainChannel,
    readonly config: HostConfig,
    readonly downstream: DownstreamRequest | undefined,
  ) {}

  wait(items: Waitable[], timeoutMs: number | null): number | null {
    return this.channel.call({ op: 'wait', items, timeoutMs }).index;
  }

  allocatePending(): number {
    return this.nextPending++;
  }

  backend(name: string): BackendSpec | undefined {
    return this.config.backends[name] ?? this.dynamicBackends.get(name);
  }
}
