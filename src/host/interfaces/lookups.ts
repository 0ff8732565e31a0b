import { checkOpenName, failOpen, fitBytes, fitString } from '../errors.js';
import type { Session } from '../session.js';

/** `dictionary` and `config-store`: string maps from `[local_server]`. */
export function dictionary(session: Session): Record<string, unknown> {
  class Dictionary {
    private constructor(private readonly entries: Record<string, string>) {}

    static open(name: string): Dictionary {
      checkOpenName(name);
      const entries = session.config.dictionaries[name] ?? session.config.configStores[name];
      if (!entries) failOpen('not-found');
      return new Dictionary(entries);
    }

    lookup(key: string, maxLen: bigint): string | undefined {
      const value = this.entries[key];
      return value === undefined ? undefined : fitString(value, maxLen);
    }
  }
  return { Dictionary };
}

export function configStore(session: Session): Record<string, unknown> {
  class Store {
    private constructor(private readonly entries: Record<string, string>) {}

    static open(name: string): Store {
      checkOpenName(name);
      const entries = session.config.configStores[name] ?? session.config.dictionaries[name];
      if (!entries) failOpen('not-found');
      return new Store(entries);
    }

    get(key: string, maxLen: bigint): string | undefined {
      const value = this.entries[key];
      return value === undefined ? undefined : fitString(value, maxLen);
    }
  }
  return { Store };
}

export function secretStore(session: Session): Record<string, unknown> {
  class Secret {
    constructor(private readonly bytes: Uint8Array) {}

    static fromBytes(bytes: Uint8Array): Secret {
      return new Secret(bytes.slice());
    }

    plaintext(maxLen: bigint): Uint8Array {
      return fitBytes(this.bytes, maxLen);
    }
  }
  class Store {
    private constructor(private readonly entries: Record<string, Uint8Array>) {}

    static open(name: string): Store {
      checkOpenName(name);
      const entries = session.config.secretStores[name];
      if (!entries) failOpen('not-found');
      return new Store(entries);
    }

    get(key: string): Secret | undefined {
      const value = this.entries[key];
      return value === undefined ? undefined : new Secret(value);
    }
  }
  return { Secret, Store };
}

export function deviceDetection(session: Session) {
  return {
    lookup(userAgent: string, maxLen: bigint): string | undefined {
      const found = session.config.deviceDetection[userAgent];
      return found === undefined ? undefined : fitString(JSON.stringify(found), maxLen);
    },
  };
}

export function computeRuntime(session: Session) {
  const runtime = session.config.runtime;
  return {
    getVcpuMs: () => BigInt(Math.round(session.activeMs())),
    getHeapMib: () => Math.ceil(session.memories.reduce((sum, memory) => sum + memory.buffer.byteLength, 0) / (1 << 20)),
    getSandboxId: () => session.downstream?.id ?? '',
    getHostname: () => runtime.hostname,
    getPop: () => runtime.pop,
    getRegion: () => runtime.region,
    getCacheGeneration: () => 0n,
    getCustomerId: () => runtime.customerId,
    getIsStaging: () => runtime.isStaging,
    getServiceId: () => runtime.serviceId,
    getServiceVersion: () => runtime.serviceVersion,
    getNamespaceId: () => runtime.namespaceId,
  };
}
