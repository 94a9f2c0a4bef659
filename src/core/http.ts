import { randomUUID } from "node:crypto";
import { AppError } from "./errors.js";

/** What a handler returns when it needs a status other than 200 or extra headers. */
export class Reply<T = unknown> {
  constructor(
    readonly status: number,
    readonly body: T,
    readonly headers: Record<string, string> = {},
  ) {}
}

export const created = <T>(body: T): Reply<T> => new Reply(201, body);

const requestIdPattern = /^[A-Za-z0-9._-]{8,64}$/;

/** The caller's own X-Request-Id when it is a sane token (so they can correlate), otherwise a new UUID. */
export function requestIdFor(req: Request): string {
  const given = req.headers.get("x-request-id");
  return given && requestIdPattern.test(given) ? given : randomUUID();
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

/** The error envelope: `{ success: false, error, code, requestId }` plus `details` for validation errors. */
export function errorResponse(error: AppError, requestId: string, headers: Record<string, string> = {}): Response {
  const body: Record<string, unknown> = { success: false, error: error.message, code: error.code, requestId };
  if (error.details) body.details = error.details;
  return jsonResponse(error.status, body, { ...headers, ...error.headers, "x-request-id": requestId });
}

/**
 * Reads the body as text, refusing more than `maxBytes` (413) whatever Content-Length claims, so an oversized or
 * lying upload cannot exhaust memory.
 */
export async function readBodyText(req: Request, maxBytes: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge(maxBytes);
  return (await readStreamCapped(req.body, maxBytes, () => tooLarge(maxBytes))).toString("utf8");
}

/**
 * Reads a body stream to the end, stopping (and cancelling the stream) as soon as it passes `maxBytes`, when it
 * throws `overLimit()`. Every size-bounded read of a request or response goes through here.
 */
export async function readStreamCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  overLimit: () => Error,
): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw overLimit();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

const tooLarge = (maxBytes: number) =>
  new AppError("payload_too_large", `Request body exceeds the ${Math.floor(maxBytes / 1024)} KiB limit`);
