import { createHash, randomBytes } from "node:crypto";
import type postgres from "postgres";
import {
  type Draft,
  MAX_RETRIES,
  METHODS,
  NOT_EMULATED,
  type PublishResult,
  qstashError,
  type Settings,
  UNFORWARDABLE,
} from "./settings.js";

/** `POST /v2/publish/<url>` and `POST /v2/batch`: the request read and checked as QStash checks it, then stored. */

export async function readBody(req: Request): Promise<Buffer> {
  return Buffer.from(await req.arrayBuffer());
}


/** What a publish's headers are read through: the request's `Headers`, or a batch message's `headers` object. */
export interface HeaderSource {
  get(name: string): string | null;
  has(name: string): boolean;
  forEach(fn: (value: string, name: string) => void): void;
}

/** A header name `Headers` accepts (an HTTP token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** The whitespace `Headers` strips from both ends of a value. */
const HEADER_VALUE_PADDING = /^[\t\n\r ]+|[\t\n\r ]+$/g;

/**
 * A batch message's `headers` object read as a `Headers` would read it: names case-insensitive (a later duplicate
 * replaces an earlier one, as `set` does), values without surrounding whitespace, invalid names and values refused.
 * It stands in for one `Headers` per message, whose construction and per-call validation were a large share of the
 * emulator's CPU for a sweep's batches.
 */
class BatchHeaders implements HeaderSource {
  private readonly values = new Map<string, string>();

  constructor(raw: Record<string, unknown>, index: number) {
    for (const [name, value] of Object.entries(raw)) {
      let text = typeof value === "string" ? value : String(value);
      if (text && (text.charCodeAt(0) <= 32 || text.charCodeAt(text.length - 1) <= 32)) text = text.replace(HEADER_VALUE_PADDING, "");
      if (!HEADER_NAME.test(name) || /[\0\r\n]/.test(text)) {
        throw qstashError(400, `message ${index}: invalid header ${JSON.stringify(name)}`);
      }
      this.values.set(name.toLowerCase(), text);
    }
  }

  get(name: string): string | null {
    return this.values.get(name) ?? null;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  forEach(fn: (value: string, name: string) => void): void {
    this.values.forEach(fn);
  }
}

/**
 * One `POST /v2/publish/<destination>`: the destination, the `Upstash-*` headers and the raw body. Header names are
 * looked up in lower case.
 */
export function parseDraft(destination: string, headers: HeaderSource, body: Buffer, settings: Settings): Draft {
  if (!/^https?:\/\//i.test(destination) || !URL.canParse(destination)) {
    throw qstashError(400, `invalid destination url: ${destination} (the local emulator delivers to http(s) URLs only; URL groups and APIs are not emulated)`);
  }
  if (body.byteLength > settings.maxMessageBytes) {
    throw qstashError(413, `message size exceeds the limit of ${settings.maxMessageBytes} bytes`);
  }
  for (const [name, feature] of Object.entries(NOT_EMULATED)) {
    if (headers.has(name)) throw qstashError(400, `${feature} are not supported by the local QStash emulator`);
  }
  const method = (headers.get("upstash-method") ?? "POST").toUpperCase();
  if (!METHODS.has(method)) throw qstashError(400, `invalid Upstash-Method: ${method}`);
  const header = deliveredHeaders(headers);
  const explicitDedup = headers.get("upstash-deduplication-id");
  const contentDedup = headers.get("upstash-content-based-deduplication") === "true";
  return {
    url: destination,
    method,
    header,
    body,
    maxRetries: parseRetries(headers.get("upstash-retries"), settings.defaultRetries),
    timeoutMs: Math.min(settings.attemptTimeoutMs, parseHeaderDuration(headers, "upstash-timeout") ?? Infinity),
    notBeforeSeconds: parseNotBefore(headers.get("upstash-not-before")),
    delayMs: parseHeaderDuration(headers, "upstash-delay") ?? 0,
    deduplicationId: explicitDedup ?? (contentDedup ? contentHash(destination, method, header, body) : null),
  };
}

/** `POST /v2/batch`: `[{ destination, headers, body, queue? }]`, validated as a whole before anything is stored. */
export function parseBatch(raw: Buffer, settings: Settings): Draft[] {
  let items: unknown;
  try {
    items = JSON.parse(raw.toString("utf8"));
  } catch {
    throw qstashError(400, "invalid request body: expected a JSON array of messages");
  }
  if (!Array.isArray(items)) throw qstashError(400, "invalid request body: expected a JSON array of messages");
  return items.map((item: unknown, index) => {
    const message = (item ?? {}) as { destination?: unknown; headers?: unknown; body?: unknown; queue?: unknown };
    if (typeof message.destination !== "string") throw qstashError(400, `message ${index}: destination is required`);
    if (message.queue !== undefined) throw qstashError(400, "queues are not supported by the local QStash emulator");
    if (message.body !== undefined && message.body !== null && typeof message.body !== "string") {
      throw qstashError(400, `message ${index}: body must be a string`);
    }
    const headers = new BatchHeaders((message.headers ?? {}) as Record<string, unknown>, index);
    return parseDraft(message.destination, headers, Buffer.from((message.body as string | undefined) ?? "", "utf8"), settings);
  });
}

/** What the destination receives besides QStash's own headers: the Content-Type and the forwarded headers. */
export function deliveredHeaders(headers: HeaderSource): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const contentType = headers.get("content-type");
  if (contentType) out["Content-Type"] = [contentType];
  headers.forEach((value, name) => {
    if (!name.startsWith("upstash-forward-")) return;
    const forwarded = name.slice("upstash-forward-".length);
    if (forwarded && !UNFORWARDABLE.has(forwarded)) out[canonicalHeaderName(forwarded)] = [value];
  });
  return out;
}

export function canonicalHeaderName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** QStash's content-based id: the destination, the delivered headers and the body. */
export function contentHash(url: string, method: string, header: Record<string, string[]>, body: Buffer): string {
  const headerPart = JSON.stringify(Object.entries(header).sort(([a], [b]) => a.localeCompare(b)));
  return `content:${createHash("sha256").update(`${method} ${url}\n${headerPart}\n`).update(body).digest("hex")}`;
}

export function parseRetries(value: string | null, fallback: number): number {
  if (value === null) return fallback;
  const retries = Number(value);
  if (!/^\d+$/.test(value) || retries > MAX_RETRIES) throw qstashError(400, `invalid Upstash-Retries: ${value}`);
  return retries;
}

export function parseNotBefore(value: string | null): number | null {
  if (value === null) return null;
  if (!/^\d+$/.test(value)) throw qstashError(400, `invalid Upstash-Not-Before: ${value} (unix seconds)`);
  return Number(value);
}

export function parseHeaderDuration(headers: HeaderSource, name: string): number | undefined {
  const value = headers.get(name);
  if (value === null) return undefined;
  const ms = parseDurationMs(value);
  if (ms === undefined) throw qstashError(400, `invalid ${name}: ${value} (e.g. "10s", "5m", "2h", "1d")`);
  return ms;
}

export const durationUnitsMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as QStash writes them: `10s`, `5m`, `1h30m`, `1d` (a bare number is seconds). */
export function parseDurationMs(value: string): number | undefined {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(amount) * durationUnitsMs[unit!]!;
  return total;
}


/**
 * Stores a publish or a whole batch in one statement (a batch is one round trip, not one per message), through
 * `local_qstash.store_batch` (settings.ts): a deduplication id seen within the window yields the earlier message, and
 * within one batch the first of two drafts with the same id wins, exactly as storing them one after the other would.
 */
export async function store(sql: postgres.Sql, drafts: Draft[], settings: Settings): Promise<PublishResult[]> {
  if (!drafts.length) return [];
  const ids = newMessageIds(drafts.length);
  const rows = await sql<{ message_id: string; deduplicated: boolean }[]>`
    select message_id, deduplicated from local_qstash.store_batch(
      ${ids}::text[], ${drafts.map((d) => d.url)}::text[], ${drafts.map((d) => d.method)}::text[],
      ${drafts.map((d) => JSON.stringify(d.header))}::text[], ${drafts.map((d) => d.body.toString("base64"))}::text[],
      ${drafts.map((d) => d.maxRetries)}::int[], ${drafts.map((d) => d.timeoutMs)}::int[],
      ${drafts.map((d) => (d.notBeforeSeconds === null ? null : String(d.notBeforeSeconds)))}::text[],
      ${drafts.map((d) => d.delayMs)}::float8[], ${drafts.map((d) => d.deduplicationId)}::text[],
      ${settings.deduplicationWindowMs}::double precision)`;
  return rows.map((row, index) =>
    row.deduplicated
      ? { messageId: row.message_id, url: drafts[index]!.url, deduplicated: true as const }
      : { messageId: row.message_id, url: drafts[index]!.url },
  );
}

export const ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** An id shaped like QStash's (`msg_` and 27 base-62 characters). */
export function newMessageId(): string {
  return newMessageIds(1)[0]!;
}

/** `count` ids as `newMessageId` makes them, from one draw of random bytes: a draw per message was a visible share of a batch's CPU. */
export function newMessageIds(count: number): string[] {
  const bytes = randomBytes(27 * count);
  const ids = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    let id = "msg_";
    for (let j = 27 * i; j < 27 * (i + 1); j++) id += ID_ALPHABET[bytes[j]! % ID_ALPHABET.length];
    ids[i] = id;
  }
  return ids;
}
