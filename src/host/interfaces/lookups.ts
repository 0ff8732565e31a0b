import { checkOpenName, failOpen, fitBytes, fitString } from '../errors.js';
import type { Session } from '../session.js';
import type { HostInterface } from '../host-types.js';

/**
 * A string map from `[local_server]` opened by name: `dictionary` and `config-store` read the
 * same two tables (each preferring its own), as Fastly's tooling lets either API open either.
 */
function stringMap(tables: () => Array<Record<string, Record<string, string>>>) {
  return class StringMap {
    protected constructor(private readonly entries: Record<string, string>) {}

    static find(name: string): Record<string, string> {
      checkOpenName(name);
      const entries = tables().map((table) => table[name]).find((found) => found !== undefined);
      if (!entries) failOpen('not-found');
      return entries;
    }

    protected value(key: string, maxLen: bigint): string | undefined {
      const value = this.entries[key];
      return value === undefined ? undefined : fitString(value, maxLen);
    }
  };
}

export function dictionary(session: Session): HostInterface<'fastly:compute/dictionary'> {
  class Dictionary extends stringMap(() => [session.config.dictionaries, session.config.configStores]) {
    static open(name: string): Dictionary {
      return new Dictionary(Dictionary.find(name));
    }

    lookup(key: string, maxLen: bigint): string | undefined {
      return this.value(key, maxLen);
    }
  }
  return { Dictionary };
}

export function configStore(session: Session): HostInterface<'fastly:compute/config-store'> {
  class Store extends stringMap(() => [session.config.configStores, session.config.dictionaries]) {
    static open(name: string): Store {
      return new Store(Store.find(name));
    }

    get(key: string, maxLen: bigint): string | undefined {
      return this.value(key, maxLen);
    }
  }
  return { Store };
}

export function secretStore(session: Session): HostInterface<'fastly:compute/secret-store'> {
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

// Checked against the WIT (see ../host-types.ts).
deviceDetection satisfies (session: Session) => HostInterface<'fastly:compute/device-detection'>;
computeRuntime satisfies (session: Session) => HostInterface<'fastly:compute/compute-runtime'>;
