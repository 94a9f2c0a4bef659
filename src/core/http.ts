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

/** A JSON answer (`no-store`); a 204 has no body. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const init = { status, headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers } };
  if (status === 204) return new Response(null, init);
  const text = JSON.stringify(body);
  return textBodies ? new TextBodyResponse(text, init) : new Response(text, init);
}

/**
 * The JSON text of an answer `jsonResponse` built in the local home, for its server to write as it is (src/local/server.ts).
 * It is what the body holds whether or not anyone has read the body meanwhile: a body cannot be replaced, only read.
 */
export function jsonTextOf(response: Response): string | undefined {
  return response instanceof TextBodyResponse ? response[TEXT] : undefined;
}

const TEXT = Symbol("amplify.responseText");
const FULL = Symbol("amplify.fullResponse");

/**
 * A JSON answer whose body stream is made only when something reads the body. Node's `Response` builds a web stream
 * for every body as it is constructed (about 8 % of the local server's CPU per answer in `npm run bench`), and the
 * local server never reads it (it writes `jsonTextOf`). To every reader this is a `Response` like any other: `body`, `bodyUsed`,
 * `text()`, `json()`, `arrayBuffer()`, `blob()`, `bytes()`, `formData()` and `clone()` answer from a real `Response`
 * with the same text, status and headers, built on first use.
 */
class TextBodyResponse extends Response {
  readonly [TEXT]: string;
  [FULL]?: Response;

  constructor(text: string, init: ResponseInit) {
    super(null, init);
    this[TEXT] = text;
  }

  /** The same answer as a plain `Response`, made once, when the body is first read. */
  private full(): Response {
    return (this[FULL] ??= new Response(this[TEXT], { status: this.status, statusText: this.statusText, headers: this.headers }));
  }

  override get body(): Response["body"] {
    return this.full().body;
  }

  override get bodyUsed(): boolean {
    return this[FULL]?.bodyUsed ?? false;
  }

  override clone(): Response {
    if (this.bodyUsed) throw new TypeError("Response.clone: Body has already been consumed.");
    return new TextBodyResponse(this[TEXT], { status: this.status, statusText: this.statusText, headers: this.headers });
  }
}
for (const reader of ["arrayBuffer", "blob", "bytes", "formData", "json", "text"] as const) {
  Object.defineProperty(TextBodyResponse.prototype, reader, {
    value(this: TextBodyResponse) {
      const full = (this as unknown as { full(): Record<string, () => unknown> }).full();
      return full[reader]!();
    },
    writable: true,
    configurable: true,
  });
}

/**
 * Whether `jsonResponse` builds its answers with a body made on first read. The local server turns it on for its
 * process (it writes every JSON answer from its text); in the cloud, Netlify's runtime reads what a function returns,
 * and answers stay plain `Response`s.
 */
let textBodies = false;
export function buildJsonBodiesOnRead(on = true): void {
  textBodies = on;
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
