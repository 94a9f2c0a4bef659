import { lookup as dnsLookup } from "node:dns/promises";
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import type { LookupFunction, Socket } from "node:net";
import { env } from "../env.js";
import { classifyAddress, isAllowedAddress, isIpLiteral } from "./address.js";

export { classifyAddress, isAllowedAddress, type AddressClass } from "./address.js";

/**
 * The one guard for every server-side fetch of a URL a customer chose: webhook deliveries (src/webhooks/send.ts)
 * and media downloads (src/platforms/http.ts). Its rules:
 *
 * - the URL is `https` (plain `http` only to loopback where OUTBOUND_ALLOW_LOOPBACK is on), carries no credentials,
 *   and does not name an internal host (`localhost`, `*.internal`, `*.local`, …);
 * - the host is resolved once and EVERY address it resolves to must be public unicast (src/core/net/address.ts:
 *   loopback, private, link-local, metadata, CGNAT, unspecified, multicast, broadcast, reserved, benchmarking,
 *   documentation, Teredo, and IPv6 forms carrying a refused IPv4 address are all refused; loopback is admitted only
 *   with OUTBOUND_ALLOW_LOOPBACK);
 * - the connection goes to a checked address only (a pinned `lookup`, so the name is never resolved again and DNS
 *   rebinding cannot steer it), and the address the socket actually connected to is checked again;
 * - redirects are never followed by the HTTP stack: where the caller allows them (media, at most 5 hops) each hop's
 *   Location is parsed and goes through all of the above again;
 * - one time limit covers resolution, every hop and the body, and the body is cut off at a byte cap while streaming.
 *
 * Refusals never name the address a host resolved to (that would make the guard a port-scan oracle for internal
 * names): they say the host "resolves to a private, loopback or reserved address".
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has. Tests inject their own; production uses the system resolver. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver, every A and AAAA answer. */
export const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** A URL refused by the guard's rules; the message is fit to show the customer (it names no resolved address). */
export class UnsafeUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafeUrlError";
  }
}

export interface GuardOptions {
  /** OUTBOUND_ALLOW_LOOPBACK: admit loopback addresses (and http to them). Never private, link-local or metadata. */
  allowLoopback: boolean;
  resolve?: Resolver;
}

/** The deployment's setting (the local home turns it on; refused in the cloud). */
export function outboundAllowLoopback(): boolean {
  return env().OUTBOUND_ALLOW_LOOPBACK;
}

/** Host names that name internal things whatever they resolve to. */
const internalNames = /(^|\.)(internal|local|localdomain|home\.arpa|intranet|corp|lan)$/i;
const loopbackNames = /(^|\.)localhost$/i;

const bareHost = (url: URL) => url.hostname.replace(/^\[|\]$/g, "").replace(/\.$/, "");

function describeClass(cls: string): string {
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

/** Parses and checks the URL's shape (no DNS): scheme, credentials, host name. Throws UnsafeUrlError. */
export function assertUrlShape(raw: string | URL, options: { allowLoopback: boolean }): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUrlError("Not a valid absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new UnsafeUrlError("The URL must use https");
  if (url.username || url.password) throw new UnsafeUrlError("The URL must not contain credentials");
  const host = bareHost(url);
  if (!host) throw new UnsafeUrlError("The URL has no host");
  if (loopbackNames.test(host) && !options.allowLoopback) throw new UnsafeUrlError("The URL points at this machine (localhost)");
  if (internalNames.test(host)) throw new UnsafeUrlError(`The host ${host} is an internal name`);
  return url;
}

/**
 * Every check that needs no DNS, for URLs stored now and fetched later (media `public_url` at post creation): the
 * shape, an IP literal in a refused range, and `https` (plain `http` only to a loopback literal or `localhost`
 * where loopback is allowed). The full check runs again, with resolution, when the URL is fetched.
 */
export function assertUrlWithoutDns(raw: string | URL, options: { allowLoopback: boolean }): URL {
  const url = assertUrlShape(raw, options);
  const host = bareHost(url);
  let loopbackHost = loopbackNames.test(host);
  if (isIpLiteral(host)) {
    const cls = classifyAddress(host);
    if (!isAllowedAddress(host, options.allowLoopback)) throw new UnsafeUrlError(`The address ${host} is ${describeClass(cls)}`);
    loopbackHost = cls === "loopback";
  }
  if (url.protocol === "http:" && !(options.allowLoopback && loopbackHost)) throw new UnsafeUrlError("The URL must use https");
  return url;
}

/**
 * Resolves the URL's host and checks every address (an IP literal is checked as it is). Returns the addresses a
 * fetch may connect to. Plain `http` is accepted only when loopback is allowed and every address is loopback.
 * Throws UnsafeUrlError with a reason fit to show the customer (never the resolved address).
 */
export async function resolveSafeAddresses(raw: string | URL, options: GuardOptions): Promise<{ url: URL; addresses: ResolvedAddress[] }> {
  const url = assertUrlShape(raw, options);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: ResolvedAddress[];
  const literal = isIpLiteral(host);
  if (literal) {
    addresses = [{ address: host, family: host.includes(":") ? 6 : 4 }];
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
    // An address the caller typed may be named; one a name resolved to may not (no oracle for internal names).
    if (literal) throw new UnsafeUrlError(`The address ${host} is ${describeClass(classifyAddress(host))}; it must be reachable on the public internet`);
    throw new UnsafeUrlError(`The host ${host} resolves to a private, loopback or reserved address; it must be reachable on the public internet`);
  }
  const allLoopback = addresses.every((a) => classifyAddress(a.address) === "loopback");
  if (url.protocol === "http:" && !(options.allowLoopback && allLoopback)) {
    throw new UnsafeUrlError("The URL must use https");
  }
  return { url, addresses };
}

// --- the guarded fetch ---------------------------------------------------------------------------------------------

export type OutboundFailure =
  /** The guard's rules refused a URL (the first one or a redirect's); the message is UnsafeUrlError's. */
  | "refused"
  /** The time limit passed (resolution, any hop, or the body). */
  | "timeout"
  /** The body passed the byte cap (declared or streamed). */
  | "too_large"
  /** Too many redirects, or a redirect without a usable Location. */
  | "redirect"
  /** No HTTP answer: connection refused or reset, TLS failure, unreachable. `code` is the system error's. */
  | "network";

export class OutboundError extends Error {
  constructor(
    readonly kind: OutboundFailure,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "OutboundError";
  }
}

export interface OutboundRequest extends GuardOptions {
  url: string | URL;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** One limit for everything: resolution, every hop, and reading the body. */
  timeoutMs: number;
  /** The most body bytes read. */
  maxBytes: number;
  /** `error` (default): a larger body is a `too_large` failure. `truncate`: keep the first maxBytes and stop reading. */
  overflow?: "error" | "truncate";
  /** Redirects followed (each hop checked like the first URL); 0 (default) returns a 3xx as it is. At most 5. */
  maxRedirects?: number;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** True when `overflow: "truncate"` cut the body off. */
  truncated: boolean;
  /** The URL that answered (after redirects). */
  url: URL;
}

/** The most redirects any caller may follow. */
export const MAX_REDIRECTS = 5;

/** A `lookup` that answers with the address the guard already checked, so the connection cannot be re-resolved. */
function pinnedLookup(pinned: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  }) as LookupFunction;
}

const isRedirect = (status: number) => status === 301 || status === 302 || status === 303 || status === 307 || status === 308;

/**
 * Fetches a URL through the guard. Never resolves a name after checking it, never follows a redirect it has not
 * checked, never reads past `maxBytes` or `timeoutMs`. Throws OutboundError (its `kind` says which rule or failure).
 */
export async function guardedFetch(request: OutboundRequest): Promise<OutboundResponse> {
  const maxRedirects = Math.min(request.maxRedirects ?? 0, MAX_REDIRECTS);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), request.timeoutMs);
  const timedOut = () => new OutboundError("timeout", `No answer within ${request.timeoutMs} ms`);
  // Resolution cannot be cancelled; the race stops waiting for it at the time limit.
  const untilDeadline = <T>(work: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (controller.signal.aborted) return reject(timedOut());
      const onAbort = () => reject(timedOut());
      controller.signal.addEventListener("abort", onAbort, { once: true });
      work.then(resolve, reject).finally(() => controller.signal.removeEventListener("abort", onAbort));
    });
  try {
    let url: string | URL = request.url;
    let method = request.method ?? "GET";
    let body = request.body;
    let headers = request.headers ?? {};
    for (let hop = 0; ; hop++) {
      let target: { url: URL; addresses: ResolvedAddress[] };
      try {
        target = await untilDeadline(resolveSafeAddresses(url, request));
      } catch (error) {
        if (error instanceof UnsafeUrlError) {
          throw new OutboundError("refused", hop === 0 ? error.message : `A redirect was refused: ${error.message}`);
        }
        throw error;
      }
      const res = await untilDeadline(connect(target, method, headers, body, request.allowLoopback, controller.signal));
      if (maxRedirects > 0 && isRedirect(res.statusCode ?? 0)) {
        res.destroy();
        if (hop >= maxRedirects) throw new OutboundError("redirect", `More than ${maxRedirects} redirects`);
        const location = res.headers.location;
        let next: URL;
        try {
          next = new URL(location ?? "", target.url);
        } catch {
          throw new OutboundError("redirect", "A redirect without a valid Location");
        }
        if (!location) throw new OutboundError("redirect", "A redirect without a valid Location");
        // 303 (and 301/302 after a POST) become a GET without a body; a new origin gets none of the caller's headers.
        if (res.statusCode === 303 || (method === "POST" && res.statusCode !== 307 && res.statusCode !== 308)) {
          method = "GET";
          body = undefined;
        }
        if (next.origin !== target.url.origin) headers = {};
        url = next;
        continue;
      }
      const read = await untilDeadline(readCapped(res, request.maxBytes, request.overflow ?? "error"));
      return { status: res.statusCode ?? 0, headers: res.headers, body: read.body, truncated: read.truncated, url: target.url };
    }
  } catch (error) {
    if (error instanceof OutboundError) throw error;
    if (controller.signal.aborted) throw timedOut();
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    throw new OutboundError("network", "No answer from the host", typeof code === "string" ? code : undefined);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** One request to one checked address; resolves with the response head once the peer has been checked again. */
function connect(
  target: { url: URL; addresses: ResolvedAddress[] },
  method: string,
  headers: Record<string, string>,
  body: string | Uint8Array | undefined,
  allowLoopback: boolean,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const client = target.url.protocol === "https:" ? https : http;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = client.request(target.url, {
      method,
      headers: body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) },
      agent: false,
      lookup: pinnedLookup(target.addresses[0]!),
      signal,
    });
    // Whatever name resolution did, the peer actually connected to must be an allowed address.
    req.on("socket", (socket: Socket) => {
      const check = () => {
        const remote = socket.remoteAddress;
        if (remote && !isAllowedAddress(remote, allowLoopback)) {
          req.destroy(new OutboundError("refused", "The connection reached a private, loopback or reserved address"));
        }
      };
      if (socket.remoteAddress) check();
      else socket.once("connect", check);
    });
    req.on("error", reject);
    req.on("response", resolve);
    req.end(body);
  });
}

/** Reads a response body up to `maxBytes`: a declared or streamed excess is refused (or cut off), never buffered. */
async function readCapped(res: IncomingMessage, maxBytes: number, overflow: "error" | "truncate"): Promise<{ body: Buffer; truncated: boolean }> {
  const tooLarge = () => new OutboundError("too_large", `The body is larger than ${maxBytes} bytes`);
  const declared = Number(res.headers["content-length"] ?? "0");
  if (overflow === "error" && declared > maxBytes) {
    res.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (total + chunk.length > maxBytes) {
      res.destroy();
      if (overflow === "error") throw tooLarge();
      chunks.push(chunk.subarray(0, maxBytes - total));
      return { body: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(chunk);
    total += chunk.length;
    if (overflow === "truncate" && total === maxBytes) {
      res.destroy();
      return { body: Buffer.concat(chunks), truncated: true };
    }
  }
  return { body: Buffer.concat(chunks), truncated: false };
}
