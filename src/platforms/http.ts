import { readStreamCapped } from "../core/http.js";
import { guardedFetch, MAX_REDIRECTS, OutboundError, outboundAllowLoopback, type Resolver } from "../core/net/guard.js";
import { PlatformError } from "./types.js";

/**
 * The one outbound HTTP helper every platform adapter uses. Every call is bounded: a timeout (AbortSignal) that also
 * covers reading the body, a cap on how many bytes are read, and no redirects followed on API calls. Failures that
 * never produced an HTTP answer (timeout, refused connection, DNS, reset) become PlatformError("network_error");
 * an HTTP answer of any status is returned to the adapter, which classifies it from the parsed status and fields.
 *
 * Media downloads (`download`) fetch a URL a customer chose, so they never use `fetch`: they go through the
 * outbound guard (src/core/net/guard.ts), which refuses private, loopback and reserved addresses, pins the connection
 * to a checked address, checks every redirect hop, and caps time and size.
 *
 * There are no retries here on purpose: publishing calls are not idempotent, and the publish executor already
 * retries a whole attempt with backoff. An adapter that wants a bounded retry of an idempotent read can loop itself.
 */

export const DEFAULT_TIMEOUT_MS = 10_000;
/** API answers are small JSON documents; anything larger is a fault, not data. */
export const DEFAULT_MAX_RESPONSE_BYTES = 2 * 1024 * 1024;
/** The most bytes any media download reads, whatever the caller asks (the largest any adapter re-uploads). */
export const MAX_MEDIA_DOWNLOAD_BYTES = 64 * 1024 * 1024;
/** The longest any media download may take, whatever the caller asks. */
export const MAX_MEDIA_DOWNLOAD_MS = 120_000;

export interface HttpClientOptions {
  /** The network's display name, used in error messages ("X", "LinkedIn"). */
  service: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  maxResponseBytes?: number;
  /** Media downloads: admit loopback hosts (default: OUTBOUND_ALLOW_LOOPBACK). Private addresses are never admitted. */
  allowLoopback?: boolean;
  /** Media downloads: the resolver the guard uses (tests inject one; default: the system's). */
  resolve?: Resolver;
}

export interface HttpRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  url: string | URL;
  headers?: Record<string, string>;
  /** A JSON body (serialised, `content-type: application/json` set). */
  json?: unknown;
  /** An `application/x-www-form-urlencoded` body; undefined values are left out. */
  form?: Record<string, string | undefined>;
  /** Any other body (multipart FormData, raw bytes). */
  body?: FormData | Uint8Array | string;
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export interface HttpResponse {
  status: number;
  ok: boolean;
  headers: Headers;
  text: string;
  /** The parsed body when it is JSON; `undefined` for empty, HTML or malformed bodies (never throws). */
  json: unknown;
}

export interface DownloadedMedia {
  bytes: Uint8Array<ArrayBuffer>;
  /** The content type the media host declared, without parameters. */
  contentType: string | undefined;
}

export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResponse>;
  /**
   * Downloads media to re-upload it to a network, through the outbound guard, refusing more than `maxBytes` (at
   * most MAX_MEDIA_DOWNLOAD_BYTES). A URL the guard refuses (at any redirect hop), a media host that answers with an
   * error status, or a file over the limit, is a `media_error`; no answer in time, or at all, is a `network_error`.
   * Messages name the URL's path only, never an address or a system error.
   */
  download(url: string, options: { maxBytes: number; timeoutMs?: number }): Promise<DownloadedMedia>;
}

/** A handler that answers HTTP requests in this process (the local home's sandbox networks). */
export type InProcessHandler = (req: Request) => Promise<Response>;

const inProcess = new Map<string, InProcessHandler>();

/**
 * Serves the URLs under `prefix` (scheme, host, port and path, no trailing slash) with `handler` in this process: an
 * adapter's request to them is handed to it as a `Request` instead of going out through a socket to the same
 * process, which cost more CPU than the handler (the local home publishes through its sandbox networks this way).
 * The handler sees the same method, URL, headers and body; the timeout still applies. Returns the undo.
 */
export function serveInProcess(prefix: string, handler: InProcessHandler): () => void {
  inProcess.set(prefix, handler);
  return () => {
    if (inProcess.get(prefix) === handler) inProcess.delete(prefix);
  };
}

/**
 * `fetch` for `url` when this process serves it (the longest registered prefix wins), else undefined. The request's
 * signal (its timeout) settles the call as it would a fetch.
 */
export function inProcessFetch(url: string | URL): typeof fetch | undefined {
  const target = String(url);
  let handler: InProcessHandler | undefined;
  let matched = -1;
  for (const [prefix, candidate] of inProcess) {
    const under = target === prefix || target.startsWith(`${prefix}/`) || target.startsWith(`${prefix}?`);
    if (under && prefix.length > matched) [handler, matched] = [candidate, prefix.length];
  }
  if (!handler) return undefined;
  const serve = handler;
  return (input, init) => {
    const request = new Request(input, init);
    const signal = request.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<Response>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      serve(request)
        .then(resolve, reject)
        .finally(() => signal.removeEventListener("abort", onAbort));
    });
  };
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const defaultFetch = options.fetch ?? fetch;
  const fetchFor = (url: string | URL) => (options.fetch ? undefined : inProcessFetch(url)) ?? defaultFetch;
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const defaultMaxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const service = options.service;

  async function request(req: HttpRequest): Promise<HttpResponse> {
    const timeoutMs = req.timeoutMs ?? defaultTimeoutMs;
    const signal = AbortSignal.timeout(timeoutMs);
    const headers = new Headers(req.headers);
    let body: BodyInit | undefined = req.body as BodyInit | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    } else if (req.form) {
      const form = new URLSearchParams();
      for (const [key, value] of Object.entries(req.form)) if (value !== undefined) form.set(key, value);
      body = form.toString();
      headers.set("content-type", "application/x-www-form-urlencoded");
    }
    if (!headers.has("accept")) headers.set("accept", "application/json");
    const method = req.method ?? (body === undefined ? "GET" : "POST");
    const what = `${service} ${method} ${pathOf(req.url)}`;
    const response = await send(what, timeoutMs, () =>
      fetchFor(req.url)(req.url, { method, headers, body, signal, redirect: "manual" }),
    );
    const bytes = await readCapped(response, req.maxResponseBytes ?? defaultMaxBytes, what, timeoutMs, () => {
      return new PlatformError("unknown", `${what} answered with a body larger than the limit`, { status: response.status });
    });
    const text = new TextDecoder().decode(bytes);
    return { status: response.status, ok: response.ok, headers: response.headers, text, json: parseJson(text) };
  }

  async function download(url: string, opts: { maxBytes: number; timeoutMs?: number }): Promise<DownloadedMedia> {
    const timeoutMs = Math.min(opts.timeoutMs ?? defaultTimeoutMs, MAX_MEDIA_DOWNLOAD_MS);
    const maxBytes = Math.min(opts.maxBytes, MAX_MEDIA_DOWNLOAD_BYTES);
    const what = `media download ${pathOf(url)}`;
    let response;
    try {
      response = await guardedFetch({
        url,
        method: "GET",
        headers: { "user-agent": "AmplifyScheduler-Media/1.0", accept: "*/*" },
        timeoutMs,
        maxBytes,
        // Media hosts (CDNs, signed storage URLs) may redirect: each hop is checked like the first URL.
        maxRedirects: MAX_REDIRECTS,
        allowLoopback: options.allowLoopback ?? outboundAllowLoopback(),
        resolve: options.resolve,
      });
    } catch (error) {
      throw downloadFailure(what, timeoutMs, maxBytes, error);
    }
    if (response.status < 200 || response.status >= 300) {
      throw new PlatformError("media_error", `${what} answered ${response.status}`, { status: response.status });
    }
    const bytes = new Uint8Array(response.body.byteLength);
    bytes.set(response.body);
    const type = response.headers["content-type"];
    const contentType = (Array.isArray(type) ? type[0] : type)?.split(";")[0]?.trim().toLowerCase() || undefined;
    return { bytes, contentType };
  }

  return { request, download };
}

/**
 * A failed media download as one category-correct PlatformError: the guard's refusals and oversize files are media
 * errors (the media cannot be used), no answer is a network error; no address or system error detail is included.
 */
function downloadFailure(what: string, timeoutMs: number, maxBytes: number, error: unknown): PlatformError {
  if (!(error instanceof OutboundError)) return new PlatformError("network_error", `${what} failed`);
  switch (error.kind) {
    case "refused":
      return new PlatformError("media_error", `${what} refused: ${error.message}`);
    case "redirect":
      return new PlatformError("media_error", `${what} refused: ${error.message}`);
    case "too_large":
      return new PlatformError("media_error", `${what}: the media is larger than ${maxBytes} bytes`);
    case "timeout":
      return new PlatformError("network_error", `${what} did not finish within ${timeoutMs} ms`);
    default:
      return new PlatformError("network_error", `${what} failed: the media host could not be reached`);
  }
}

/** Runs one fetch, turning "no answer" failures into network errors. */
async function send(what: string, timeoutMs: number, call: () => Promise<Response>): Promise<Response> {
  try {
    return await call();
  } catch (error) {
    throw noAnswer(what, timeoutMs, error);
  }
}

/** Reads the body, stopping at `maxBytes`; the timeout signal given to fetch also aborts a slow body. */
async function readCapped(
  response: Response,
  maxBytes: number,
  what: string,
  timeoutMs: number,
  overLimit: () => PlatformError,
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const bytes = await readStreamCapped(response.body, maxBytes, overLimit);
    return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  } catch (error) {
    if (error instanceof PlatformError) throw error;
    throw noAnswer(what, timeoutMs, error);
  }
}

function noAnswer(what: string, timeoutMs: number, error: unknown): PlatformError {
  const name = error instanceof Error ? error.name : "";
  if (name === "TimeoutError" || name === "AbortError") {
    return new PlatformError("network_error", `${what} did not answer within ${timeoutMs} ms`);
  }
  // undici reports connection failures as TypeError("fetch failed") with the system error as the cause.
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  return new PlatformError("network_error", `${what} failed${code ? ` (${code})` : ""}`, { platformCode: code });
}

/** Parses JSON without throwing: an HTML error page from a gateway is data to classify, not a crash. */
export function parseJson(text: string): unknown {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {
    return undefined;
  }
}

/** The path of a URL for messages: never the query, which may carry tokens. */
function pathOf(url: string | URL): string {
  try {
    return new URL(url).pathname;
  } catch {
    return "(invalid url)";
  }
}

/** Seconds from `now` until an epoch-seconds instant, at least 1 (a reset in the past means "try again now"). */
export function secondsUntil(epochSeconds: number, now: Date): number {
  return Math.max(1, Math.ceil(epochSeconds - now.getTime() / 1000));
}

/** A `Retry-After` header (delta seconds or an HTTP date) as seconds from `now`. */
export function retryAfterHeader(headers: Headers, now: Date): number | undefined {
  const value = headers.get("retry-after");
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Math.max(1, Number(value.trim()));
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : secondsUntil(date / 1000, now);
}

/** A short, log-safe excerpt of an error message from a network. */
export function excerpt(value: unknown, max = 300): string | undefined {
  if (typeof value !== "string" || !value) return undefined;
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
