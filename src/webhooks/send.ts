import http from "node:http";
import https from "node:https";
import type { LookupFunction, Socket } from "node:net";
import { isAllowedAddress, resolveSafeAddresses, UnsafeUrlError, type ResolvedAddress, type Resolver } from "./ssrf.js";

/** How much of a response body is kept for the delivery history (and read at all). */
export const RESPONSE_EXCERPT_BYTES = 1024;
/** Longest `Retry-After` honoured. */
export const MAX_RETRY_AFTER_SECONDS = 86_400;

export interface SendRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowLoopback: boolean;
  resolve?: Resolver;
}

export interface SendResult {
  /** A 2xx answered within the timeout. */
  ok: boolean;
  /** The HTTP status, or null when no response came (refused URL, connection error, timeout). */
  status: number | null;
  latencyMs: number;
  /** The start of the response body, at most RESPONSE_EXCERPT_BYTES. */
  excerpt: string | null;
  /** What went wrong when there is no status, or why a status is a failure (e.g. a redirect). */
  error: string | null;
  /** The receiver's Retry-After, in seconds (capped). */
  retryAfterSeconds?: number;
}

/** A `lookup` that answers with the address the guard already checked, so the connection cannot be re-resolved. */
function pinnedLookup(pinned: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  }) as LookupFunction;
}

/** Seconds from a Retry-After header (delay-seconds or an HTTP date), capped; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  let seconds: number;
  if (/^\d+$/.test(trimmed)) seconds = Number(trimmed);
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    seconds = Math.max(0, (at - now) / 1000);
  }
  return Math.min(seconds, MAX_RETRY_AFTER_SECONDS);
}

/**
 * One delivery attempt: checks the URL again (DNS answers change), connects to a checked address only, sends the
 * body, and waits at most `timeoutMs` for the answer. Redirects are not followed (a 3xx is a failure). Never throws.
 */
export async function sendWebhook(request: SendRequest): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let target: { url: URL; addresses: ResolvedAddress[] };
  try {
    target = await resolveSafeAddresses(request.url, { allowLoopback: request.allowLoopback, resolve: request.resolve });
  } catch (error) {
    const message = error instanceof UnsafeUrlError ? `Refused: ${error.message}` : "Refused: the URL could not be checked";
    return { ok: false, status: null, latencyMs: elapsed(), excerpt: null, error: message };
  }
  const { url, addresses } = target;
  const client = url.protocol === "https:" ? https : http;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<SendResult, "latencyMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...result, latencyMs: elapsed() });
    };
    const req = client.request(url, {
      method: "POST",
      headers: { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
      agent: false,
      lookup: pinnedLookup(addresses[0]!),
    });
    const timer = setTimeout(() => {
      finish({ ok: false, status: null, excerpt: null, error: `No response within ${request.timeoutMs / 1000} s` });
    }, request.timeoutMs);
    // Whatever name resolution did, the peer actually connected to must be an allowed address.
    req.on("socket", (socket: Socket) => {
      const check = () => {
        const remote = socket.remoteAddress;
        if (remote && !isAllowedAddress(remote, request.allowLoopback)) {
          finish({ ok: false, status: null, excerpt: null, error: `Refused: connected to a disallowed address ${remote}` });
        }
      };
      if (socket.remoteAddress) check();
      else socket.once("connect", check);
    });
    req.on("error", (error: NodeJS.ErrnoException) => {
      finish({ ok: false, status: null, excerpt: null, error: connectionError(error) });
    });
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let kept = 0;
      const done = () => {
        const excerpt = Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString("utf8");
        const ok = status >= 200 && status < 300;
        const redirect = status >= 300 && status < 400;
        finish({
          ok,
          status,
          excerpt: excerpt || null,
          error: ok ? null : redirect ? `Redirect to ${res.headers.location ?? "(no location)"} not followed` : `HTTP ${status}`,
          retryAfterSeconds: parseRetryAfter(res.headers["retry-after"]),
        });
      };
      res.on("data", (chunk: Buffer) => {
        if (kept < RESPONSE_EXCERPT_BYTES) {
          chunks.push(chunk);
          kept += chunk.length;
        }
        if (kept >= RESPONSE_EXCERPT_BYTES) done();
      });
      res.on("end", done);
      res.on("error", done);
      res.on("close", done);
    });
    req.end(request.body);
  });
}

function connectionError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return "Connection refused";
    case "ECONNRESET":
      return "Connection reset by the receiver";
    case "ETIMEDOUT":
      return "Connection timed out";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "Receiver unreachable";
    case "EPROTO":
      return "TLS handshake failed";
    default:
      if (error.code && certificateErrors.test(error.code)) return `TLS certificate not accepted (${error.code})`;
      return `Connection failed (${error.code ?? "unknown error"})`;
  }
}

/** OpenSSL's and Node's codes for a certificate the receiver presented that we do not trust. */
const certificateErrors = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS/;
