import { describe, expect, it } from 'vitest';
import { Body } from '../src/host/body.js';
import type { MainChannel } from '../src/host/channel.js';
import { emptyHostConfig, type HostConfig } from '../src/host/config.js';
import { acl, geo } from '../src/host/interfaces/geo-acl.js';
import { addressBits, parsePrefix, prefixContains } from '../src/host/ip.js';
import { toIpAddress, type IpAddress } from '../src/host/messages.js';
import type { Session } from '../src/host/session.js';
import { payload } from './support/host-error.js';

const channel = {} as MainChannel;

function session(edit: (config: HostConfig) => void): Session {
  const config = emptyHostConfig();
  edit(config);
  return { config, channel } as unknown as Session;
}

const ip = (text: string): IpAddress => toIpAddress(text)!;

describe('ip prefixes', () => {
  it('parses IPv4, IPv6 and bare addresses', () => {
    expect(parsePrefix('10.1.0.0/16')).toMatchObject({ family: 4, length: 16 });
    expect(parsePrefix('2001:db8::/32')).toMatchObject({ family: 6, length: 32 });
    expect(parsePrefix('192.0.2.7')).toMatchObject({ family: 4, length: 32 });
    expect(parsePrefix('::1')).toMatchObject({ family: 6, length: 128, value: 1n });
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', 'nonsense', '10.0.0.0/x', '1:2:3']) expect(parsePrefix(bad)).toBeUndefined();
  });

  it('matches by family and leading bits only', () => {
    const v4 = parsePrefix('10.1.0.0/16')!;
    expect(prefixContains(v4, addressBits(ip('10.1.255.3')))).toBe(true);
    expect(prefixContains(v4, addressBits(ip('10.2.0.1')))).toBe(false);
    expect(prefixContains(parsePrefix('0.0.0.0/0')!, addressBits(ip('203.0.113.9')))).toBe(true);
    // An IPv6 address whose low bits look like 10.1.x.x is still not in an IPv4 prefix.
    expect(prefixContains(v4, addressBits(ip('::a01:1')))).toBe(false);
    expect(prefixContains(parsePrefix('2001:db8::/32')!, addressBits(ip('2001:db8:ffff::1')))).toBe(true);
    expect(prefixContains(parsePrefix('2001:db8::/32')!, addressBits(ip('2001:db9::1')))).toBe(false);
  });

  it('reads IPv4-mapped IPv6 (as node:net reports some peers) as IPv4', () => {
    expect(ip('::ffff:192.0.2.1')).toEqual({ tag: 'ipv4', val: [192, 0, 2, 1] });
  });
});

describe('acl lookup', () => {
  const entries = [
    { prefix: '10.0.0.0/8', action: 'BLOCK' },
    { prefix: '10.1.0.0/16', action: 'ALLOW' },
    { prefix: '10.1.2.0/24', action: 'BLOCK' },
    { prefix: '10.1.2.3/32', action: 'ALLOW' },
    { prefix: '2001:db8::/32', action: 'BLOCK' },
    { prefix: '2001:db8:1::/48', action: 'ALLOW' },
    { prefix: 'not a prefix', action: 'IGNORED' },
  ];
  // Listed out of order: the most specific entry wins, not the first.
  const { Acl } = acl(session((config) => (config.acls.list = [...entries].reverse()))) as {
    Acl: { open(name: string): { lookup(address: IpAddress): Body | undefined } };
  };
  const lookup = (address: string) => {
    const body = Acl.open('list').lookup(ip(address));
    return body === undefined ? undefined : JSON.parse(Buffer.from(body.read(1 << 16)).toString('utf8'));
  };

  it.each([
    ['10.9.9.9', { action: 'BLOCK', prefix: '10.0.0.0/8' }],
    ['10.1.9.9', { action: 'ALLOW', prefix: '10.1.0.0/16' }],
    ['10.1.2.9', { action: 'BLOCK', prefix: '10.1.2.0/24' }],
    ['10.1.2.3', { action: 'ALLOW', prefix: '10.1.2.3/32' }],
    ['2001:db8:2::1', { action: 'BLOCK', prefix: '2001:db8::/32' }],
    ['2001:db8:1:ffff::1', { action: 'ALLOW', prefix: '2001:db8:1::/48' }],
  ])('%s takes the longest matching prefix', (address, expected) => {
    expect(lookup(address)).toEqual(expected);
  });

  it('answers no match as none', () => {
    expect(lookup('192.0.2.1')).toBeUndefined();
    expect(lookup('2001:db9::1')).toBeUndefined();
  });

  it('opens only configured ACLs, checking the name', () => {
    expect(payload(() => Acl.open('other'))).toBe('not-found');
    expect(payload(() => Acl.open(''))).toBe('invalid-syntax');
    expect(payload(() => Acl.open('x'.repeat(256)))).toBe('name-too-long');
  });
});

describe('geolocation', () => {
  const lookup = (config: (config: HostConfig) => void, address: string, maxLen = 1n << 20n) => JSON.parse(geo(session(config)).lookup(ip(address), maxLen));

  it('maps each configured address, written in any form, to its data', () => {
    const configure = (config: HostConfig) => {
      config.geolocation.addresses = { '192.0.2.1': { city: 'Four' }, '2001:DB8:0:0::1': { city: 'Six' } };
    };
    expect(lookup(configure, '192.0.2.1')).toEqual({ city: 'Four' });
    expect(lookup(configure, '2001:db8::1')).toEqual({ city: 'Six' });
  });

  it('normalizes IPv6 keys and lookups: compressed, expanded, upper case, dotted tail, IPv4-mapped', () => {
    const configure = (config: HostConfig) => {
      config.geolocation.addresses = {
        '2001:0DB8:0000:0000:0000:0000:0000:0002': { city: 'Expanded' },
        '2001:db8:0:0:1::3': { city: 'Shortened' },
        '64:ff9b::198.51.100.1': { city: 'Dotted' },
        '::ffff:192.0.2.9': { city: 'Mapped' },
      };
    };
    expect(lookup(configure, '2001:db8::2')).toEqual({ city: 'Expanded' });
    expect(lookup(configure, '2001:DB8::1:0:0:3')).toEqual({ city: 'Shortened' });
    expect(lookup(configure, '64:ff9b::c633:6401')).toEqual({ city: 'Dotted' });
    expect(lookup(configure, '192.0.2.9')).toEqual({ city: 'Mapped' });
    // A guest's 16-byte IPv4-mapped address finds the IPv4 entry.
    expect(JSON.parse(geo(session(configure)).lookup({ tag: 'ipv6', val: [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0209] }, 1000n))).toEqual({ city: 'Mapped' });
  });

  it('parses addresses node:net accepts, and only those', () => {
    expect(toIpAddress('fe80::1%eth0')).toEqual({ tag: 'ipv6', val: [0xfe80, 0, 0, 0, 0, 0, 0, 1] });
    expect(toIpAddress('::')).toEqual({ tag: 'ipv6', val: [0, 0, 0, 0, 0, 0, 0, 0] });
    for (const bad of ['1:2:3', '999.1.1.1', '2001:db8::1::2', '12345::', 'g::1', '1.2.3']) expect(toIpAddress(bad)).toBeUndefined();
  });

  it('falls back to the default, else fails', () => {
    const withDefault = (config: HostConfig) => {
      config.geolocation = { addresses: { '192.0.2.1': { city: 'Four' } }, fallback: { city: 'Anywhere' } };
    };
    expect(lookup(withDefault, '198.51.100.7')).toEqual({ city: 'Anywhere' });
    expect(payload(() => geo(session(() => {})).lookup(ip('198.51.100.7'), 1000n))).toEqual({ tag: 'generic-error' });
  });

  it('answers buffer-len with the size needed when the guest buffer is too small', () => {
    const configure = (config: HostConfig) => {
      config.geolocation.addresses = { '192.0.2.1': { city: 'Four' } };
    };
    expect(payload(() => geo(session(configure)).lookup(ip('192.0.2.1'), 4n))).toEqual({ tag: 'buffer-len', val: BigInt('{"city":"Four"}'.length) });
  });
});
