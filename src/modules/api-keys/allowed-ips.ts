// The client addresses an API key may be used from: IPv4 and IPv6 addresses and CIDR ranges,
// parsed and matched with ipaddr.js. Parsing is stricter than ipaddr.js, which also reads `1.2.3`,
// `127.1`, `0x7f.0.0.1` and `010.0.0.1` as IPv4 addresses other than the ones a partner means, and
// reads `::1.2.3.4` as `::ffff:1.2.3.4`: IPv4 is four decimal parts only, and an IPv6 address's
// dotted tail is converted here. An IPv4 client reaching an IPv6 socket shows up as
// `::ffff:1.2.3.4`, so IPv4-mapped addresses are compared, and stored, as IPv4.
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

/** Longer than any address or range (45-character IPv6 with an IPv4 tail, plus `/128`). */
const MAX_ENTRY_LENGTH = 49;

/** The address in `text`, or undefined unless it is written in one of the plain forms. */
function parseAddress(text: string): Address | undefined {
  if (!text.includes(':')) {
    return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : undefined;
  }
  // A zone (`fe80::1%eth0`) names an interface of one host: meaningless in an allowed list.
  if (text.includes('%')) return undefined;
  let hex = text;
  const tailStart = text.lastIndexOf(':') + 1;
  if (text.includes('.', tailStart)) {
    const tail = text.slice(tailStart);
    if (!ipaddr.IPv4.isValidFourPartDecimal(tail)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(tail).octets;
    hex = `${text.slice(0, tailStart)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  return ipaddr.IPv6.isValid(hex) ? ipaddr.IPv6.parse(hex) : undefined;
}

/** An IPv4-mapped IPv6 address or range (`::ffff:0:0/96` and within) as the IPv4 one it maps. */
function unmapped([address, prefix]: Range): Range {
  if (address.kind() === 'ipv6' && prefix >= 96) {
    const ipv6 = address as ipaddr.IPv6;
    if (ipv6.isIPv4MappedAddress()) return [ipv6.toIPv4Address(), prefix - 96];
  }
  return [address, prefix];
}

function parseRange(text: string): Range | undefined {
  if (text.length > MAX_ENTRY_LENGTH) return undefined;
  const [addressText = '', prefixText, ...rest] = text.split('/');
  const address = parseAddress(addressText);
  if (address === undefined || rest.length > 0) return undefined;
  const bits = address.kind() === 'ipv4' ? 32 : 128;
  if (prefixText === undefined) return unmapped([address, bits]);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) return undefined;
  return unmapped([address, Number(prefixText)]);
}

/** The canonical text of a range: its network address, and `/prefix` unless it is one address. */
function formatRange([address, prefix]: Range): string {
  const ipv4 = address.kind() === 'ipv4';
  if (prefix === (ipv4 ? 32 : 128)) {
    return ipv4 ? address.toString() : (address as ipaddr.IPv6).toRFC5952String();
  }
  const network = ipv4
    ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefix}`).toString()
    : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${prefix}`).toRFC5952String();
  return `${network}/${prefix}`;
}

/**
 * The entries, trimmed, in canonical form (lower-case, compressed IPv6; ranges as their network
 * address; a one-address range as the address; IPv4-mapped as IPv4), duplicates dropped, order
 * kept; or the entries that are not addresses or ranges.
 */
export function normaliseAllowedIps(
  entries: readonly string[],
): { ok: true; allowedIps: string[] } | { ok: false; invalid: string[] } {
  const invalid: string[] = [];
  const allowedIps = new Set<string>();
  for (const entry of entries) {
    const range = parseRange(entry.trim());
    if (range === undefined) invalid.push(entry);
    else allowedIps.add(formatRange(range));
  }
  return invalid.length > 0 ? { ok: false, invalid } : { ok: true, allowedIps: [...allowedIps] };
}

/** Whether the client address lies in one of the (normalised) allowed entries. */
export function isAddressAllowed(clientIp: string, allowedIps: readonly string[]): boolean {
  // A link-local client's address may carry the zone it arrived through; the address is the rest.
  const client = parseAddress(clientIp.replace(/%.*$/s, ''));
  if (client === undefined) return false;
  const [address] = unmapped([client, client.kind() === 'ipv4' ? 32 : 128]);
  return allowedIps.some((entry) => {
    const range = parseRange(entry);
    return range !== undefined && range[0].kind() === address.kind() && address.match(range);
  });
}
