import { toIpAddress, type IpAddress } from './messages.js';

/** An address as a family and a big integer, for prefix matching. */
export interface IpBits {
  family: 4 | 6;
  value: bigint;
}

export function addressBits(address: IpAddress): IpBits {
  const width = address.tag === 'ipv4' ? 8n : 16n;
  const value = address.val.reduce((acc, part) => (acc << width) | BigInt(part), 0n);
  return { family: address.tag === 'ipv4' ? 4 : 6, value };
}

export interface Prefix extends IpBits {
  length: number;
}

/** Parses `1.2.3.0/24` or `2001:db8::/32` (a bare address is a full-length prefix). */
export function parsePrefix(text: string): Prefix | undefined {
  const [addressText, lengthText] = text.split('/');
  const address = toIpAddress(addressText ?? '');
  if (!address) return undefined;
  const bits = addressBits(address);
  const max = bits.family === 4 ? 32 : 128;
  const length = lengthText === undefined ? max : Number(lengthText);
  if (!Number.isInteger(length) || length < 0 || length > max) return undefined;
  return { ...bits, length };
}

export function prefixContains(prefix: Prefix, address: IpBits): boolean {
  if (prefix.family !== address.family) return false;
  const shift = BigInt((prefix.family === 4 ? 32 : 128) - prefix.length);
  return prefix.value >> shift === address.value >> shift;
}

