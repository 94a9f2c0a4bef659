/** A failure the API answered (its error envelope) or a request that could not be answered at all. */
export class AmplifyError extends Error {
  override name = "AmplifyError";
  /** The HTTP status (0 when no answer came back). */
  readonly status: number;
  /** The envelope's machine-readable code: `validation_error`, `not_found`, `rate_limited`, … (`network_error` when no answer). */
  readonly code: string;
  /** The request's id (the envelope's `requestId`, or the X-Request-Id header): quote it in support requests. */
  readonly requestId: string | undefined;
  /** Validation errors (one per field) or other detail the envelope carried. */
  readonly details: unknown;
  /** Seconds the API asked to wait (Retry-After on a 429), when it said. */
  readonly retryAfter: number | undefined;

  constructor(init: { status: number; code: string; message: string; requestId?: string; details?: unknown; retryAfter?: number; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.details = init.details;
    this.retryAfter = init.retryAfter;
  }
}

/** Builds the error from a non-2xx answer and its parsed body (the error envelope, or whatever came back). */
export function errorFromResponse(response: Response, body: unknown): AmplifyError {
  const envelope = (body && typeof body === "object" ? body : {}) as { error?: unknown; code?: unknown; requestId?: unknown; details?: unknown };
  const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
  return new AmplifyError({
    status: response.status,
    code: typeof envelope.code === "string" ? envelope.code : `http_${response.status}`,
    message: typeof envelope.error === "string" ? envelope.error : `${response.status} ${response.statusText || "error"}`,
    requestId: typeof envelope.requestId === "string" ? envelope.requestId : (response.headers.get("x-request-id") ?? undefined),
    details: envelope.details,
    retryAfter: retryAfter === undefined ? undefined : retryAfter / 1000,
  });
}

/** Retry-After in milliseconds: seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
