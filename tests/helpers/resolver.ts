import type { Resolver } from "../../src/core/net/guard.js";

/**
 * A DNS resolver from a table, injected into the outbound guard (a parameter, not a mock of our modules): a name not
 * in the table does not resolve.
 */
export const resolverOf =
  (table: Record<string, string[]>): Resolver =>
  async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return addresses.map((address) => ({ address, family: address.includes(":") ? (6 as const) : (4 as const) }));
  };
