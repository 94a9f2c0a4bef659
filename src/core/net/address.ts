import ipaddr from "ipaddr.js";
import { isIP } from "node:net";

/**
 * What kind of IP address something is, for the outbound-fetch guard (src/core/net/guard.ts). The ranges come from
 * ipaddr.js (a maintained library of the IANA special-purpose registries), plus the cloud metadata addresses, which
 * no registry lists. Only `public` is reachable by an outbound fetch; `loopback` too where OUTBOUND_ALLOW_LOOPBACK is
 * on (the local home).
 */
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

/**
 * Instance metadata services: more specific than the link-local or private range they sit in. Parsed on the first
 * check, not when the module loads (every function with a URL-taking schema imports it).
 */
let metadata: [ipaddr.IPv4 | ipaddr.IPv6, number][] | undefined;
const metadataRanges = () =>
  (metadata ??= [
    ipaddr.parseCIDR("169.254.169.254/32"), // AWS, GCP, Azure, OpenStack
    ipaddr.parseCIDR("168.63.129.16/32"), // Azure wire server
    ipaddr.parseCIDR("100.100.100.200/32"), // Alibaba Cloud
    ipaddr.parseCIDR("fd00:ec2::254/128"), // AWS over IPv6
  ]);

/** ipaddr.js range names → our classes. Any name not listed here (and not `unicast`) is `reserved`. */
const v4Classes: Record<string, AddressClass> = {
  unicast: "public",
  unspecified: "unspecified",
  broadcast: "reserved",
  multicast: "multicast",
  linkLocal: "link_local",
  loopback: "loopback",
  carrierGradeNat: "shared",
  private: "private",
  // reserved (IETF assignments, documentation, benchmarking 198.18/15, 6to4 relay, 240/4), as112, amt: reserved
};

const v6Classes: Record<string, AddressClass> = {
  unicast: "public",
  unspecified: "unspecified",
  linkLocal: "link_local",
  multicast: "multicast",
  loopback: "loopback",
  uniqueLocal: "private", // fc00::/7
  deprecatedSiteLocal: "private", // fec0::/10
  // teredo (2001::/32) is refused outright: it tunnels to an obfuscated IPv4 address through a relay.
  // discard, benchmarking, documentation, orchid, amt, as112v6, segment routing…: reserved
};

function isMetadata(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return metadataRanges().some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
}

function classifyV4(address: ipaddr.IPv4): AddressClass {
  if (isMetadata(address)) return "metadata";
  return v4Classes[address.range()] ?? "reserved";
}

/**
 * The IPv4 address an IPv6 address carries and reaches, for the forms that do: IPv4-mapped (::ffff:a.b.c.d),
 * IPv4-translated (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d, deprecated), NAT64 (64:ff9b::/96; the local-use
 * 64:ff9b:1::/48 counts as reserved) and 6to4 (2002:AABB:CCDD::/16). Such addresses are judged by the IPv4 address inside.
 */
function embeddedV4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = address.parts;
  const low = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  switch (address.range()) {
    case "ipv4Mapped":
    case "rfc6145":
      return low(p[6]!, p[7]!);
    case "rfc6052":
      // 64:ff9b::/96 carries the address in its last 32 bits; in 64:ff9b:1::/48 the operator chooses where: refused.
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 ? low(p[6]!, p[7]!) : new ipaddr.IPv4([240, 0, 0, 0]);
    case "6to4":
      return low(p[1]!, p[2]!);
  }
  // ::a.b.c.d (IPv4-compatible): the first 96 bits zero, except :: and ::1 themselves.
  if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7]! > 1)) return low(p[6]!, p[7]!);
  return undefined;
}

function classifyV6(address: ipaddr.IPv6): AddressClass {
  if (isMetadata(address)) return "metadata";
  const inner = embeddedV4(address);
  if (inner) return classifyV4(inner);
  return v6Classes[address.range()] ?? "reserved";
}

/**
 * Classifies an IP address literal (IPv4 in its strict dotted form, or IPv6, with or without brackets or a zone id).
 * Anything that is not one is `reserved` (never reachable).
 */
export function classifyAddress(address: string): AddressClass {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const family = isIP(bare);
  if (family === 0) return "reserved";
  try {
    const parsed = ipaddr.parse(bare);
    return parsed.kind() === "ipv4" ? classifyV4(parsed as ipaddr.IPv4) : classifyV6(parsed as ipaddr.IPv6);
  } catch {
    return "reserved";
  }
}

/** True when an outbound fetch may connect to the address: public, or loopback where loopback is allowed. */
export function isAllowedAddress(address: string, allowLoopback: boolean): boolean {
  const cls = classifyAddress(address);
  return cls === "public" || (allowLoopback && cls === "loopback");
}

/** True for an IP address literal (a URL's hostname, brackets allowed). */
export function isIpLiteral(host: string): boolean {
  return isIP(host.replace(/^\[|\]$/g, "").replace(/%.*$/, "")) !== 0;
}
