import { parseRetryAfter } from "./errors.js";

export interface RetryOptions {
  /** Attempts after the first (default 3). 0 turns retrying off. */
  maxRetries?: number;
  /** The first backoff when the API gives no Retry-After, doubled each time, ±20% jitter (default 500 ms). */
  baseDelayMs?: number;
  /** The longest wait between attempts, Retry-After included (default 60 s). */
  maxDelayMs?: number;
}

const idempotentMethods = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A fetch that retries 429 and 5xx answers, waiting what Retry-After says (else exponential backoff). A 429 was not
 * processed, so it is always retried; a 5xx or a network failure only for requests that are safe to repeat: idempotent
 * methods, or a request carrying an Idempotency-Key (the client adds one to every POST /api/v1/post).
 */
export function retryingFetch(inner: typeof fetch, options: RetryOptions = {}): (request: Request) => Promise<Response> {
  const maxRetries = options.maxRetries ?? 3;
  const base = options.baseDelayMs ?? 500;
  const cap = options.maxDelayMs ?? 60_000;
  return async (request) => {
    const repeatable = idempotentMethods.has(request.method) || request.headers.has("idempotency-key");
    for (let attempt = 0; ; attempt++) {
      const backoff = Math.min(cap, base * 2 ** attempt * (0.8 + Math.random() * 0.4));
      const last = attempt >= maxRetries;
      let response: Response;
      try {
        response = await inner(last ? request : request.clone());
      } catch (error) {
        if (last || !repeatable) throw error;
        await sleep(backoff);
        continue;
      }
      const retryable = response.status === 429 || (response.status >= 500 && repeatable);
      if (!retryable || last) return response;
      const hinted = parseRetryAfter(response.headers.get("retry-after"));
      await response.body?.cancel().catch(() => {});
      await sleep(Math.min(cap, hinted ?? backoff));
    }
  };
}
