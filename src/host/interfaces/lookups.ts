import { checkOpenName, failOpen, fitBytes, fitString } from '../errors.js';
import type { Session } from '../session.js';
import type { HostInterface } from '../host-types.js';
import { sessionView } from '../session-view.js';

/** Which of `[local_server]`'s two string-map tables a store of one kind reads first. */
type Tables = (config: Session['config']) => Array<Record<string, Record<string, string>>>;

/**
 * A string map from `[local_server]` opened by name: `dictionary` and `config-store` read the
 * same two tables (each preferring its own), as Fastly's tooling lets either API open either.
 */
abstract class StringMap {
  protected constructor(private readonly entries: Record<string, string>) {}

  protected static find(session: Session, tables: Tables, name: string): Record<string, string> {
    checkOpenName(name);
    const entries = tables(session.config).map((table) => table[name]).find((found) => found !== undefined);
    if (!entries) failOpen('not-found');
    return entries;
  }

  protected value(key: string, maxLen: bigint): string | undefined {
    const value = this.entries[key];
    return value === undefined ? undefined : fitString(value, maxLen);
  }
}

class Dictionary extends StringMap {
  static open(session: Session, name: string): Dictionary {
    return new Dictionary(StringMap.find(session, (config) => [config.dictionaries, config.configStores], name));
  }

  lookup(key: string, maxLen: bigint): string | undefined {
    return this.value(key, maxLen);
  }
}

class ConfigStore extends StringMap {
  static open(session: Session, name: string): ConfigStore {
    return new ConfigStore(StringMap.find(session, (config) => [config.configStores, config.dictionaries], name));
  }

  get(key: string, maxLen: bigint): string | undefined {
    return this.value(key, maxLen);
  }
}

export function dictionary(session: Session): HostInterface<'fastly:compute/dictionary'> {
  return { Dictionary: sessionView(Dictionary, session, ['open']) };
}

export function configStore(session: Session): HostInterface<'fastly:compute/config-store'> {
  return { Store: sessionView(ConfigStore, session, ['open']) };
}

class Secret {
  constructor(private readonly bytes: Uint8Array) {}

  static fromBytes(bytes: Uint8Array): Secret {
    return new Secret(bytes.slice());
  }

  plaintext(maxLen: bigint): Uint8Array {
    return fitBytes(this.bytes, maxLen);
  }
}

class SecretStore {
  private constructor(private readonly entries: Record<string, Uint8Array>) {}

  static open(session: Session, name: string): SecretStore {
    checkOpenName(name);
    const entries = session.config.secretStores[name];
    if (!entries) failOpen('not-found');
    return new SecretStore(entries);
  }

  get(key: string): Secret | undefined {
    const value = this.entries[key];
    return value === undefined ? undefined : new Secret(value);
  }
}

export function secretStore(session: Session): HostInterface<'fastly:compute/secret-store'> {
  return { Secret, Store: sessionView(SecretStore, session, ['open']) };
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
