// Where a webhook may go (contract "Webhooks and events", Destinations). Checked twice: the URL
// when an endpoint is created or changed (scheme, userinfo, IP literals), and every address a
// delivery connects to, after DNS resolution, inside the connection itself (an undici Agent whose
// connect.lookup refuses), so a name that resolves to an inside address, or changes to one after
// the endpoint was created (DNS rebinding), fails its delivery before any byte is sent.
// Addresses are classified with ipaddr.js: only its `unicast` range (globally routable) is
// allowed; IPv4-mapped and IPv4-embedding IPv6 forms are judged by the IPv4 address they carry.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why a URL cannot be an endpoint's, or undefined when it may. */
export function urlProblem(raw: string, allowPrivateNetworks: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL such as https://example.com/webhooks';
  }
  const schemes = allowPrivateNetworks ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) {
    return allowPrivateNetworks ? 'must use https:// or http://' : 'must use https://';
  }
  if (url.username !== '' || url.password !== '')
    return 'must not carry a user name or password (user:pass@)';
  if (url.hash !== '' || raw.includes('#')) return 'must not have a fragment (#...)';
  if (url.hostname === '') return 'must name a host';
  if (allowPrivateNetworks) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    const problem = addressProblem(host);
    if (problem !== undefined) return `must not point at ${problem}`;
  }
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost'))
    return 'must not point at a loopback address (localhost)';
  return undefined;
}

const rangeNames: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'a broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address',
  private: 'a private address',
  reserved: 'a reserved address',
  uniqueLocal: 'a unique-local (private) address',
  benchmarking: 'a benchmarking address',
  amt: 'a reserved address',
  as112: 'a reserved address',
  deprecated: 'a reserved address',
  orchid2: 'a reserved address',
  droneRemoteIdProtocolEntityTags: 'a reserved address',
};

/** Why an IP address may not be connected to, or undefined when it is globally routable. */
export function addressProblem(address: string): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  } catch {
    return 'an address that cannot be read';
  }
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    const embedded = embeddedIpv4(v6);
    if (embedded !== undefined) return addressProblem(embedded);
  }
  const range = parsed.range();
  if (range === 'unicast') return undefined;
  return rangeNames[range] ?? `a non-public address (${range})`;
}

/** The IPv4 address an IPv6 form carries (mapped, translated, NAT64, 6to4, compatible), if any. */
function embeddedIpv4(address: ipaddr.IPv6): string | undefined {
  const parts = address.parts;
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  switch (address.range()) {
    case 'ipv4Mapped':
      return address.toIPv4Address().toString();
    case 'rfc6145': // ::ffff:0:a.b.c.d
    case 'rfc6052': // 64:ff9b::a.b.c.d
      return v4(parts[6] ?? 0, parts[7] ?? 0);
    case '6to4': // 2002:aabb:ccdd::
      return v4(parts[1] ?? 0, parts[2] ?? 0);
    default:
      // The deprecated IPv4-compatible form ::a.b.c.d (but not :: and ::1, handled as such).
      if (parts.slice(0, 6).every((part) => part === 0) && (parts[6] ?? 0) !== 0) {
        return v4(parts[6] ?? 0, parts[7] ?? 0);
      }
      return undefined;
  }
}

export class BlockedDestinationError extends Error {
  readonly code = 'EBLOCKEDDESTINATION';
  constructor(problem: string) {
    super(`The destination resolves to ${problem}`);
    this.name = 'BlockedDestinationError';
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => {
      if (error) reject(error);
      else resolve(addresses);
    });
  });

/**
 * A `lookup` for net/tls.connect (undici's connect.lookup) that resolves with `resolve` and fails
 * when any resolved address is not allowed: a name must not mix inside and outside addresses.
 */
export function checkedLookup(resolve: Resolver, allowPrivateNetworks: boolean) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number | 'IPv4' | 'IPv6' },
    callback: LookupCallback,
  ): void => {
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0) {
          callback(Object.assign(new Error(`No address for ${hostname}`), { code: 'ENOTFOUND' }), []);
          return;
        }
        if (!allowPrivateNetworks) {
          for (const { address } of addresses) {
            const problem = addressProblem(address);
            if (problem !== undefined) {
              callback(new BlockedDestinationError(problem), []);
              return;
            }
          }
        }
        const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
        const wanted = family === 4 || family === 6 ? family : undefined;
        const usable =
          wanted === undefined ? addresses : addresses.filter((entry) => entry.family === wanted);
        if (options.all === true) callback(null, usable);
        else if (usable[0] === undefined) {
          callback(
            Object.assign(new Error(`No IPv${wanted} address for ${hostname}`), { code: 'ENOTFOUND' }),
            [],
          );
        } else callback(null, usable[0].address, usable[0].family);
      },
      (error: unknown) => {
        callback(error instanceof Error ? error : new Error(String(error)), []);
      },
    );
  };
}
