import { guardedFetch, OutboundError, type Resolver } from "../core/net/guard.js";

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
 * One delivery attempt through the outbound guard (src/core/net/guard.ts): the URL is checked again (DNS answers
 * change), the connection goes to a checked address only, and the answer must come within `timeoutMs`. Redirects
 * are not followed (a 3xx is a failure); only the first RESPONSE_EXCERPT_BYTES of the answer are read. Never throws.
 */
export async function sendWebhook(request: SendRequest): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const res = await guardedFetch({
      url: request.url,
      method: "POST",
      headers: request.headers,
      body: request.body,
      timeoutMs: request.timeoutMs,
      maxBytes: RESPONSE_EXCERPT_BYTES,
      overflow: "truncate",
      maxRedirects: 0,
      allowLoopback: request.allowLoopback,
      resolve: request.resolve,
    });
    const status = res.status;
    const excerpt = res.body.toString("utf8");
    const ok = status >= 200 && status < 300;
    const redirect = status >= 300 && status < 400;
    return {
      ok,
      status,
      latencyMs: elapsed(),
      excerpt: excerpt || null,
      error: ok ? null : redirect ? `Redirect to ${res.headers.location ?? "(no location)"} not followed` : `HTTP ${status}`,
      retryAfterSeconds: parseRetryAfter(res.headers["retry-after"]),
    };
  } catch (error) {
    return { ok: false, status: null, latencyMs: elapsed(), excerpt: null, error: failureMessage(error, request.timeoutMs) };
  }
}

function failureMessage(error: unknown, timeoutMs: number): string {
  if (!(error instanceof OutboundError)) return "Refused: the URL could not be checked";
  switch (error.kind) {
    case "refused":
      return `Refused: ${error.message}`;
    case "timeout":
      return `No response within ${timeoutMs / 1000} s`;
    default:
      return connectionError(error.code);
  }
}

function connectionError(code: string | undefined): string {
  switch (code) {
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
      if (code && certificateErrors.test(code)) return `TLS certificate not accepted (${code})`;
      return `Connection failed (${code ?? "unknown error"})`;
  }
}

/** OpenSSL's and Node's codes for a certificate the receiver presented that we do not trust. */
const certificateErrors = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS/;
