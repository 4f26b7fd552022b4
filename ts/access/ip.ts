/**
 * IP addresses and subnets as APR's `apr_ipsubnet_create` / `apr_ipsubnet_test` read and test
 * them (for `Require ip`, `Allow from`, `Deny from`): a full IPv4 or IPv6 address; a partial IPv4
 * address naming a network (`10.1` is 10.1.0.0/16); `addr/bits`; `addr/netmask` (IPv4). A client
 * address in IPv4-mapped IPv6 form (`::ffff:10.1.2.3`) is tested as IPv4.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** A parsed subnet: address and mask bytes (4 or 16 of each). */
export interface Subnet {
  readonly family: 4 | 6;
  readonly address: readonly number[];
  readonly mask: readonly number[];
}

/**
 * `not-ip`: the text looks nothing like an address (APR_EINVAL: mod_access_compat then takes it
 * for a host name); `bad`: it looks like one but is malformed.
 */
export type SubnetResult = Subnet | 'not-ip' | 'bad';

function v4Bytes(text: string): number[] | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split('.').map(Number);
}

function v6Bytes(text: string): number[] | undefined {
  if (!isIPv6(text)) return undefined;
  const words = (side: string): number[] => side === '' ? [] : side.split(':').flatMap((w) => {
    if (!w.includes('.')) return [parseInt(w, 16)];
    const b = v4Bytes(w)!;
    return [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
  });
  const halves = text.split('::');
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  const all = halves.length === 2 ? [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

/** APR's `parse_network`: `a.b.c.` style prefixes of an IPv4 address. */
function parseNetwork(text: string): Subnet | undefined {
  if (text.length >= 16) return undefined; // longer than 255.255.255.255
  const address = [0, 0, 0, 0];
  const mask = [0, 0, 0, 0];
  let i = 0;
  for (const part of text.split('.').filter((p, n, all) => !(p === '' && n === all.length - 1))) {
    if (!/^\d+$/.test(part) || i > 3) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    address[i] = octet;
    mask[i] = 255;
    i++;
  }
  return { family: 4, address, mask };
}

const looksLikeIp = (text: string): boolean => text !== '' && (text.includes(':') || /^[.\d]*$/.test(text));

/**
 * Parses `address` with an optional `mask` (bits or an IPv4 netmask), as `apr_ipsubnet_create`.
 */
export function parseSubnet(address: string, mask?: string): SubnetResult {
  if (!looksLikeIp(address)) return 'not-ip';
  let family: 4 | 6;
  let bytes = v6Bytes(address);
  if (bytes) {
    if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return 'bad';
    family = 6;
  } else {
    bytes = v4Bytes(address);
    family = 4;
  }
  let maskBytes: number[];
  if (!bytes) {
    if (mask !== undefined) return 'bad';
    return parseNetwork(address) ?? 'bad';
  }
  maskBytes = bytes.map(() => 255);
  if (mask !== undefined) {
    const max = family === 6 ? 128 : 32;
    const bits = /^\d+$/.test(mask) ? Number(mask) : NaN;
    if (bits > 0 && bits <= max) {
      maskBytes = maskBytes.map((_, i) => {
        const left = Math.max(0, Math.min(8, bits - i * 8));
        return (0xff << (8 - left)) & 0xff;
      });
    } else if (family === 4 && v4Bytes(mask)) {
      maskBytes = v4Bytes(mask)!;
    } else {
      return 'bad';
    }
  }
  return { family, address: bytes.map((b, i) => b & maskBytes[i]!), mask: maskBytes };
}

/** The bytes of a client address (`::ffff:a.b.c.d` as IPv4), or undefined if it is not an address. */
export function clientBytes(addr: string): { family: 4 | 6; bytes: number[] } | undefined {
  const v4 = v4Bytes(addr);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = v6Bytes(addr);
  if (!v6) return undefined;
  if (v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) return { family: 4, bytes: v6.slice(12) };
  return { family: 6, bytes: v6 };
}

/** Whether the client address is in the subnet (`apr_ipsubnet_test`). */
export function inSubnet(subnet: Subnet, addr: string): boolean {
  const c = clientBytes(addr);
  if (!c || c.family !== subnet.family) return false;
  return c.bytes.every((b, i) => (b & subnet.mask[i]!) === subnet.address[i]);
}
