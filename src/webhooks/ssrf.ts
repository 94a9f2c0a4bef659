import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";

/**
 * The SSRF guard for customer-supplied webhook URLs (reference/infrastructure.md §6.3). A URL is acceptable when it is
 * `https` (or loopback `http` where the loopback setting allows it), carries no credentials, and every address its
 * host resolves to is a public unicast address. The sender connects to one of the addresses checked here, never
 * resolving the name again, so a DNS answer that changes between the check and the connection (rebinding) cannot
 * steer a delivery inside; it also checks the address the socket actually connected to.
 */

/** Why an address is not public. `public` is the only class a delivery may reach (loopback only when allowed). */
export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "link_local"
  | "shared" // 100.64.0.0/10, carrier-grade NAT
  | "multicast"
  | "unspecified"
  | "metadata"
  | "reserved";

interface Range {
  bits: bigint;
  prefix: number;
  cls: AddressClass;
}

const V4_BITS = 32;
const V6_BITS = 128;

function parseV4(address: string): bigint | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

/** Expands an IPv6 address (with `::`, an embedded dotted quad, or a zone id) to its 128-bit value. */
function parseV6(address: string): bigint | undefined {
  let text = address.replace(/^\[|\]$/g, "");
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  let tail: bigint | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tail = parseV4(text.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  if (tail !== undefined) value = (value & ~0xffffffffn) | tail;
  return value;
}

function v4(cidr: string, cls: AddressClass): Range {
  const [ip, prefix] = cidr.split("/");
  return { bits: parseV4(ip!)!, prefix: Number(prefix), cls };
}

function v6(cidr: string, cls: AddressClass): Range {
  const [ip, prefix] = cidr.split("/");
  return { bits: parseV6(ip!)!, prefix: Number(prefix), cls };
}

/** Most specific first: the first range containing the address names its class. */
const v4Ranges: Range[] = [
  v4("169.254.169.254/32", "metadata"), // AWS, GCP, Azure, OpenStack instance metadata
  v4("168.63.129.16/32", "metadata"), // Azure wire server
  v4("100.100.100.200/32", "metadata"), // Alibaba Cloud metadata
  v4("0.0.0.0/8", "unspecified"),
  v4("10.0.0.0/8", "private"),
  v4("100.64.0.0/10", "shared"),
  v4("127.0.0.0/8", "loopback"),
  v4("169.254.0.0/16", "link_local"),
  v4("172.16.0.0/12", "private"),
  v4("192.0.0.0/24", "reserved"), // IETF protocol assignments
  v4("192.0.2.0/24", "reserved"), // documentation
  v4("192.88.99.0/24", "reserved"), // 6to4 relay anycast
  v4("192.168.0.0/16", "private"),
  v4("198.18.0.0/15", "reserved"), // benchmarking
  v4("198.51.100.0/24", "reserved"), // documentation
  v4("203.0.113.0/24", "reserved"), // documentation
  v4("224.0.0.0/4", "multicast"),
  v4("240.0.0.0/4", "reserved"), // reserved, and 255.255.255.255 broadcast
];

const v6Ranges: Range[] = [
  v6("::/128", "unspecified"),
  v6("::1/128", "loopback"),
  v6("fd00:ec2::254/128", "metadata"), // AWS instance metadata over IPv6
  v6("100::/64", "reserved"), // discard-only
  v6("2001:db8::/32", "reserved"), // documentation
  v6("fc00::/7", "private"), // unique local
  v6("fe80::/10", "link_local"),
  v6("fec0::/10", "private"), // deprecated site-local
  v6("ff00::/8", "multicast"),
];

function inRange(value: bigint, range: Range, width: number): boolean {
  const shift = BigInt(width - range.prefix);
  return value >> shift === range.bits >> shift;
}

function classifyV4(value: bigint): AddressClass {
  return v4Ranges.find((r) => inRange(value, r, V4_BITS))?.cls ?? "public";
}

/**
 * IPv6 forms that carry an IPv4 address and reach it: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d,
 * deprecated), NAT64 (64:ff9b::/96) and 6to4 (2002:AABB:CCDD::/16). They are judged by the IPv4 address inside.
 */
function embeddedV4(value: bigint): bigint | undefined {
  const low32 = value & 0xffffffffn;
  const high96 = value >> 32n;
  if (high96 === 0xffffn) return low32; // ::ffff:0:0/96
  if (high96 === 0n && low32 > 1n) return low32; // ::/96 except :: and ::1
  if (value >> 32n === 0x0064ff9b0000000000000000n) return low32; // 64:ff9b::/96
  if (value >> 112n === 0x2002n) return (value >> 80n) & 0xffffffffn; // 2002::/16
  return undefined;
}

/** Classifies an IP address literal (IPv4 or IPv6); anything that is not one is `reserved` (never reachable). */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address.replace(/^\[|\]$/g, "").replace(/%.*$/, ""));
  if (family === 4) return classifyV4(parseV4(address)!);
  if (family !== 6) return "reserved";
  const value = parseV6(address);
  if (value === undefined) return "reserved";
  const inner = embeddedV4(value);
  if (inner !== undefined) return classifyV4(inner);
  return v6Ranges.find((r) => inRange(value, r, V6_BITS))?.cls ?? "public";
}

/** True when a delivery may connect to the address: public, or loopback where the loopback setting allows it. */
export function isAllowedAddress(address: string, allowLoopback: boolean): boolean {
  const cls = classifyAddress(address);
  return cls === "public" || (allowLoopback && cls === "loopback");
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver, every A and AAAA answer. */
export const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

export class UnsafeUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafeUrlError";
  }
}

/** Host names that name internal things whatever they resolve to. */
const internalNames = /(^|\.)(internal|local|localdomain|home\.arpa|intranet|corp|lan)$/i;
const loopbackNames = /(^|\.)localhost$/i;

export interface GuardOptions {
  allowLoopback: boolean;
  resolve?: Resolver;
}

/** Parses and checks the URL's shape (no DNS): scheme, credentials, host name. Throws UnsafeUrlError. */
export function assertUrlShape(raw: string, options: { allowLoopback: boolean }): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUrlError("Not a valid absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new UnsafeUrlError("The URL must use https");
  if (url.username || url.password) throw new UnsafeUrlError("The URL must not contain credentials");
  const host = url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (!host) throw new UnsafeUrlError("The URL has no host");
  if (loopbackNames.test(host) && !options.allowLoopback) throw new UnsafeUrlError("The URL points at this machine (localhost)");
  if (internalNames.test(host)) throw new UnsafeUrlError(`The host ${host} is an internal name`);
  return url;
}

/**
 * Resolves the URL's host and checks every address (an IP literal is checked as it is). Returns the addresses a
 * delivery may connect to. Plain `http` is accepted only when the loopback setting is on and every address is
 * loopback. Throws UnsafeUrlError with a reason fit to show the customer.
 */
export async function resolveSafeAddresses(raw: string, options: GuardOptions): Promise<{ url: URL; addresses: ResolvedAddress[] }> {
  const url = assertUrlShape(raw, options);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: ResolvedAddress[];
  const literal = isIP(host);
  if (literal) {
    addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await (options.resolve ?? systemResolver)(host.replace(/\.$/, ""));
    } catch {
      throw new UnsafeUrlError(`The host ${host} could not be resolved`);
    }
    if (!addresses.length) throw new UnsafeUrlError(`The host ${host} could not be resolved`);
  }
  const refused = addresses.find((a) => !isAllowedAddress(a.address, options.allowLoopback));
  if (refused) {
    const cls = classifyAddress(refused.address);
    const what = literal ? `The address ${host}` : `The host ${host} resolves to ${refused.address}, which`;
    throw new UnsafeUrlError(`${what} is ${describeClass(cls)}; webhook endpoints must be reachable on the public internet`);
  }
  const allLoopback = addresses.every((a) => classifyAddress(a.address) === "loopback");
  if (url.protocol === "http:" && !(options.allowLoopback && allLoopback)) {
    throw new UnsafeUrlError("The URL must use https");
  }
  return { url, addresses };
}

function describeClass(cls: AddressClass): string {
  switch (cls) {
    case "loopback":
      return "a loopback address";
    case "private":
      return "a private address";
    case "link_local":
      return "a link-local address";
    case "shared":
      return "a carrier-grade NAT address";
    case "multicast":
      return "a multicast address";
    case "unspecified":
      return "an unspecified address";
    case "metadata":
      return "a cloud metadata address";
    default:
      return "a reserved address";
  }
}
