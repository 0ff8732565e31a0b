import { Body } from '../body.js';
import type { GeoConfig } from '../config.js';
import { checkOpenName, fail, failOpen, fitString, utf8 } from '../errors.js';
import { addressBits, parsePrefix, prefixContains, type Prefix } from '../ip.js';
import { formatIpAddress, toIpAddress, type IpAddress } from '../messages.js';
import type { Session } from '../session.js';
import type { HostInterface } from '../host-types.js';
import { sessionView } from '../session-view.js';

/** Canonical text of an address, so config keys and lookups agree however they were written. */
function canonical(text: string): string | undefined {
  const address = toIpAddress(text);
  return address && formatIpAddress(address);
}

/** Per config rather than per instance: every request would otherwise re-parse every address. */
const tables = new WeakMap<GeoConfig, Map<string, Record<string, unknown>>>();

function addressTable(geolocation: GeoConfig): Map<string, Record<string, unknown>> {
  let table = tables.get(geolocation);
  if (!table) {
    table = new Map(Object.entries(geolocation.addresses).map(([text, data]) => [canonical(text) ?? text, data]));
    tables.set(geolocation, table);
  }
  return table;
}

export function geo(session: Session) {
  const { fallback } = session.config.geolocation;
  const byAddress = addressTable(session.config.geolocation);
  return {
    lookup(address: IpAddress, maxLen: bigint): string {
      // Through text again, so a 16-byte IPv4-mapped address finds an IPv4 entry.
      const found = byAddress.get(canonical(formatIpAddress(address)) ?? '') ?? fallback;
      if (found === undefined) fail('generic-error');
      return fitString(JSON.stringify(found), maxLen);
    },
  };
}

interface AclRule {
  prefix: Prefix;
  text: string;
  action: string;
}

class Acl {
  private constructor(
    private readonly session: Session,
    private readonly rules: AclRule[],
  ) {}

  static open(session: Session, name: string): Acl {
    checkOpenName(name);
    const entries = session.config.acls[name];
    if (!entries) failOpen('not-found');
    const rules = entries.flatMap(({ prefix, action }) => {
      const parsed = parsePrefix(prefix);
      return parsed ? [{ prefix: parsed, text: prefix, action }] : [];
    });
    return new Acl(session, rules);
  }

  /** The most specific matching entry, as the JSON body the platform returns. */
  lookup(address: IpAddress): Body | undefined {
    const bits = addressBits(address);
    let best: AclRule | undefined;
    for (const rule of this.rules) {
      if (prefixContains(rule.prefix, bits) && (!best || rule.prefix.length > best.prefix.length)) best = rule;
    }
    if (!best) return undefined;
    return Body.fromBytes(this.session.channel, utf8.encode(JSON.stringify({ action: best.action, prefix: best.text })));
  }
}

export function acl(session: Session): HostInterface<'fastly:compute/acl'> {
  return { Acl: sessionView(Acl, session, ['open']) };
}

// Checked against the WIT (see ../host-types.ts).
geo satisfies (session: Session) => HostInterface<'fastly:compute/geo'>;
