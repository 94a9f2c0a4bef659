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


/** One `POST /v2/publish/<destination>`: the destination, the `Upstash-*` headers and the raw body. */
export function parseDraft(destination: string, headers: Headers, body: Buffer, settings: Settings): Draft {
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
    const headers = new Headers();
    for (const [name, value] of Object.entries((message.headers ?? {}) as Record<string, unknown>)) {
      headers.set(name, String(value));
    }
    return parseDraft(message.destination, headers, Buffer.from((message.body as string | undefined) ?? "", "utf8"), settings);
  });
}

/** What the destination receives besides QStash's own headers: the Content-Type and the forwarded headers. */
export function deliveredHeaders(headers: Headers): Record<string, string[]> {
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

export function parseHeaderDuration(headers: Headers, name: string): number | undefined {
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
 * Stores a publish or a whole batch in one statement (a batch of 500 is one round trip, not a thousand): a
 * deduplication id seen within the window yields the earlier message, and within one batch the first of two drafts
 * with the same id wins, exactly as storing them one after the other would.
 */
export async function store(sql: postgres.Sql, drafts: Draft[], settings: Settings): Promise<PublishResult[]> {
  if (!drafts.length) return [];
  const ids = drafts.map(() => newMessageId());
  const rows = await sql<{ message_id: string; deduplicated: boolean }[]>`
    with input as (
      select * from unnest(
        ${ids}::text[], ${drafts.map((d) => d.url)}::text[], ${drafts.map((d) => d.method)}::text[],
        ${drafts.map((d) => JSON.stringify(d.header))}::text[], ${drafts.map((d) => d.body.toString("base64"))}::text[],
        ${drafts.map((d) => d.maxRetries)}::int[], ${drafts.map((d) => d.timeoutMs)}::int[],
        ${drafts.map((d) => (d.notBeforeSeconds === null ? null : String(d.notBeforeSeconds)))}::text[],
        ${drafts.map((d) => d.delayMs)}::float8[], ${drafts.map((d) => d.deduplicationId)}::text[]
      ) with ordinality as t(id, url, method, header, body, max_retries, timeout_ms, not_before, delay_ms, dedup_id, ord)
    ),
    claimed as (
      insert into local_qstash.deduplication (id, message_id, expires_at)
      select distinct on (dedup_id) dedup_id, id,
             now() + ${settings.deduplicationWindowMs}::double precision * interval '1 millisecond'
      from input where dedup_id is not null
      order by dedup_id, ord
      on conflict (id) do update set message_id = excluded.message_id, expires_at = excluded.expires_at
        where local_qstash.deduplication.expires_at <= now()
      returning id as dedup_id, message_id
    ),
    stored as (
      insert into local_qstash.messages
        (id, url, method, header, body, max_retries, timeout_ms, state, not_before, deduplication_id)
      select i.id, i.url, i.method, i.header::jsonb, decode(i.body, 'base64'), i.max_retries, i.timeout_ms, 'CREATED',
             coalesce(to_timestamp(i.not_before::double precision),
                      now() + i.delay_ms * interval '1 millisecond'),
             i.dedup_id
      from input i
      where i.dedup_id is null or exists (select 1 from claimed c where c.message_id = i.id)
      returning id
    )
    select coalesce(s.id, c.message_id,
                    -- A lookup per message by primary key: a join here let the planner scan the whole table (which
                    -- grows with every message of the window) for every batch.
                    (select seen.message_id from local_qstash.deduplication seen where seen.id = i.dedup_id)) as message_id,
           s.id is null as deduplicated
    from input i
    left join stored s on s.id = i.id
    left join claimed c on c.dedup_id = i.dedup_id
    order by i.ord`;
  return rows.map((row, index) =>
    row.deduplicated
      ? { messageId: row.message_id, url: drafts[index]!.url, deduplicated: true as const }
      : { messageId: row.message_id, url: drafts[index]!.url },
  );
}

export const ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Ids shaped like QStash's (`msg_` and 27 base-62 characters). */
export function newMessageId(): string {
  return `msg_${[...randomBytes(27)].map((byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join("")}`;
}
