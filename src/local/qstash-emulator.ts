import { isUtf8 } from "node:buffer";
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { SignJWT } from "jose";
import type postgres from "postgres";
import { log } from "../core/log.js";
import type { FetchHandler } from "./server.js";

/**
 * A local emulator of Upstash QStash's HTTP protocol, so `@upstash/qstash`'s Client and Receiver run unchanged against
 * it: `POST /v2/publish/<url>`, `POST /v2/batch`, `GET|DELETE /v2/messages/:id`, `DELETE /v2/messages?messageIds=…`
 * and `GET /v2/keys`, with QStash's headers (not-before, delay, deduplication, retries, method, timeout, forwarded
 * headers) and signed deliveries (`Upstash-Signature`, `Upstash-Message-Id`, `Upstash-Retried`).
 *
 * Messages live in Postgres (schema `local_qstash`, created here, outside the migrations and the public schema), so a
 * restart loses nothing. Each instance's delivery loop claims due messages with `FOR UPDATE SKIP LOCKED` under a lease,
 * so several instances may share one database and a message claimed by a process that died is delivered again once
 * its lease expires. Delivery is at least once, as with QStash.
 *
 * Not emulated (answered 400 so the gap is loud): URL groups, queues, callbacks, failure callbacks and
 * `Upstash-Retry-Delay` expressions. Flow control, labels and redaction are accepted and ignored.
 */
export interface QStashEmulatorOptions {
  sql: postgres.Sql;
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
  /** Prefix the emulator is mounted under on the local server (stripped before routing). */
  mountPath?: string;
  /** Multiplies QStash's retry backoff `min(86400, e^(2.5·n))` seconds; 1 is QStash's own schedule. */
  retryDelayScale?: number;
  /** Upper bound of one delivery attempt. QStash allows far more; a local emulator should not hang. */
  attemptTimeoutMs?: number;
  /** How long a claim outlives its attempt timeout before another instance may deliver the message again. */
  leaseMarginMs?: number;
  /** Longest sleep of the delivery loop between looks at the database. */
  pollIntervalMs?: number;
  /** Deliveries in flight at once per instance. */
  concurrency?: number;
  /** Retries of a message that names none (QStash: the plan's maximum, 3 on the free plan). */
  defaultRetries?: number;
  /** How long a deduplication id is remembered (QStash documents 10 minutes). */
  deduplicationWindowMs?: number;
  /** Largest message body accepted (QStash's free plan: 1 MB). */
  maxMessageBytes?: number;
}

export interface QStashEmulator {
  handler: FetchHandler;
  /** Starts the delivery loop (idempotent). */
  start(): void;
  /** Stops the delivery loop and waits for the deliveries in flight. */
  stop(): Promise<void>;
}

type Settings = Required<Omit<QStashEmulatorOptions, "sql" | "token" | "currentSigningKey" | "nextSigningKey">>;

const defaults: Settings = {
  mountPath: "/qstash",
  retryDelayScale: 1,
  attemptTimeoutMs: 15_000,
  leaseMarginMs: 10_000,
  pollIntervalMs: 250,
  concurrency: 16,
  defaultRetries: 3,
  deduplicationWindowMs: 10 * 60_000,
  maxMessageBytes: 1_048_576,
};

/** QStash's message states (its `State` type), as the emulator uses them. */
type MessageState = "CREATED" | "ACTIVE" | "RETRY" | "DELIVERED" | "FAILED" | "CANCELED";

const MAX_RETRIES = 20;
const MAX_BACKOFF_SECONDS = 86_400;
const SIGNATURE_LIFETIME_SECONDS = 300;
const KEPT_RESPONSE_CHARS = 10_000;
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);
/** Headers a destination never receives from a publisher, whatever it forwards. */
const UNFORWARDABLE = new Set(["host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect"]);
const NOT_EMULATED: Record<string, string> = {
  "upstash-callback": "callbacks",
  "upstash-failure-callback": "failure callbacks",
  "upstash-retry-delay": "Upstash-Retry-Delay expressions",
};

const schemaSql = `
  create schema if not exists local_qstash;
  create table if not exists local_qstash.messages (
    id text primary key,
    url text not null,
    method text not null,
    header jsonb not null,
    body bytea not null,
    max_retries integer not null,
    timeout_ms integer not null,
    retried integer not null default 0,
    state text not null,
    not_before timestamptz not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    claim_token text,
    lease_until timestamptz,
    deduplication_id text,
    response_status integer,
    response_body text,
    last_error text
  );
  create index if not exists messages_due_idx on local_qstash.messages (not_before) where state in ('CREATED', 'RETRY');
  create index if not exists messages_lease_idx on local_qstash.messages (lease_until) where state = 'ACTIVE';
  create table if not exists local_qstash.attempts (
    id bigserial primary key,
    message_id text not null references local_qstash.messages (id) on delete cascade,
    retried integer not null,
    started_at timestamptz not null,
    finished_at timestamptz not null default now(),
    status integer,
    error text
  );
  create index if not exists attempts_message_idx on local_qstash.attempts (message_id);
  create table if not exists local_qstash.deduplication (
    id text primary key,
    message_id text not null,
    expires_at timestamptz not null
  );
`;

/** A client error answered as QStash does: a status and `{ "error": "…" }`. */
class QStashError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function reply(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** What a publish asks for, validated, before it is stored. */
interface Draft {
  url: string;
  method: string;
  header: Record<string, string[]>;
  body: Buffer;
  maxRetries: number;
  timeoutMs: number;
  notBeforeSeconds: number | null;
  delayMs: number;
  deduplicationId: string | null;
}

interface PublishResult {
  messageId: string;
  url: string;
  deduplicated?: true;
}

interface ClaimedMessage {
  id: string;
  url: string;
  method: string;
  header: Record<string, string[]>;
  body: Buffer;
  retried: number;
  max_retries: number;
  timeout_ms: number;
}

interface Outcome {
  status: number | null;
  error: string | null;
  responseBody: string | null;
  retryAfterMs: number | null;
}

export async function createQStashEmulator(options: QStashEmulatorOptions): Promise<QStashEmulator> {
  const { sql } = options;
  const settings: Settings = { ...defaults, ...definedOnly(options) };
  await sql.begin(async (tx) => {
    // Several instances may start on one database at once; `if not exists` alone races in the catalog.
    await tx`select pg_advisory_xact_lock(hashtext('local_qstash schema'))`;
    await tx.unsafe(schemaSql);
  });

  const loop = createDeliveryLoop(options, settings);
  const handler = createApiHandler(options, settings, () => loop.wake());
  return { handler, start: loop.start, stop: loop.stop };
}

function definedOnly(options: QStashEmulatorOptions): Partial<Settings> {
  return Object.fromEntries(Object.entries(options).filter(([key, value]) => key in defaults && value !== undefined));
}

// --- the API ---------------------------------------------------------------------------------------------------

function createApiHandler(options: QStashEmulatorOptions, settings: Settings, onEnqueued: () => void): FetchHandler {
  const { sql } = options;
  const expectedToken = digest(`Bearer ${options.token}`);

  async function route(req: Request, path: string, search: URLSearchParams, rawSearch: string): Promise<Response> {
    if (req.method === "POST" && path.startsWith("/v2/publish/")) {
      const draft = parseDraft(path.slice("/v2/publish/".length) + rawSearch, req.headers, await readBody(req), settings);
      const [result] = await store(sql, [draft], settings);
      onEnqueued();
      return reply(result!.deduplicated ? 202 : 201, result);
    }
    if (req.method === "POST" && path === "/v2/batch") {
      const results = await store(sql, parseBatch(await readBody(req), settings), settings);
      onEnqueued();
      return reply(200, results);
    }
    const messageId = /^\/v2\/messages\/([A-Za-z0-9_-]+)$/.exec(path)?.[1];
    if (messageId && req.method === "GET") return getMessage(sql, messageId);
    if (messageId && req.method === "DELETE") return cancelOne(sql, messageId);
    if (path === "/v2/messages" && req.method === "DELETE") return cancelMany(sql, search);
    if (path === "/v2/keys" && req.method === "GET") {
      return reply(200, { current: options.currentSigningKey, next: options.nextSigningKey });
    }
    throw new QStashError(404, `not found: ${req.method} ${path}`);
  }

  return async (req) => {
    const url = new URL(req.url);
    const prefix = settings.mountPath;
    const path = url.pathname.startsWith(`${prefix}/`) ? url.pathname.slice(prefix.length) : url.pathname;
    try {
      const given = req.headers.get("authorization");
      if (!given || !timingSafeEqual(digest(given), expectedToken)) throw new QStashError(401, "Unauthorized");
      return await route(req, path, url.searchParams, url.search);
    } catch (error) {
      if (error instanceof QStashError) return reply(error.status, { error: error.message });
      log.error("qstash emulator error", { error });
      return reply(500, { error: "internal server error" });
    }
  };
}

async function readBody(req: Request): Promise<Buffer> {
  return Buffer.from(await req.arrayBuffer());
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** One `POST /v2/publish/<destination>`: the destination, the `Upstash-*` headers and the raw body. */
function parseDraft(destination: string, headers: Headers, body: Buffer, settings: Settings): Draft {
  if (!/^https?:\/\//i.test(destination) || !URL.canParse(destination)) {
    throw new QStashError(400, `invalid destination url: ${destination} (the local emulator delivers to http(s) URLs only; URL groups and APIs are not emulated)`);
  }
  if (body.byteLength > settings.maxMessageBytes) {
    throw new QStashError(413, `message size exceeds the limit of ${settings.maxMessageBytes} bytes`);
  }
  for (const [name, feature] of Object.entries(NOT_EMULATED)) {
    if (headers.has(name)) throw new QStashError(400, `${feature} are not supported by the local QStash emulator`);
  }
  const method = (headers.get("upstash-method") ?? "POST").toUpperCase();
  if (!METHODS.has(method)) throw new QStashError(400, `invalid Upstash-Method: ${method}`);
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
function parseBatch(raw: Buffer, settings: Settings): Draft[] {
  let items: unknown;
  try {
    items = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new QStashError(400, "invalid request body: expected a JSON array of messages");
  }
  if (!Array.isArray(items)) throw new QStashError(400, "invalid request body: expected a JSON array of messages");
  return items.map((item: unknown, index) => {
    const message = (item ?? {}) as { destination?: unknown; headers?: unknown; body?: unknown; queue?: unknown };
    if (typeof message.destination !== "string") throw new QStashError(400, `message ${index}: destination is required`);
    if (message.queue !== undefined) throw new QStashError(400, "queues are not supported by the local QStash emulator");
    if (message.body !== undefined && message.body !== null && typeof message.body !== "string") {
      throw new QStashError(400, `message ${index}: body must be a string`);
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries((message.headers ?? {}) as Record<string, unknown>)) {
      headers.set(name, String(value));
    }
    return parseDraft(message.destination, headers, Buffer.from((message.body as string | undefined) ?? "", "utf8"), settings);
  });
}

/** What the destination receives besides QStash's own headers: the Content-Type and the forwarded headers. */
function deliveredHeaders(headers: Headers): Record<string, string[]> {
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

function canonicalHeaderName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

/** QStash's content-based id: the destination, the delivered headers and the body. */
function contentHash(url: string, method: string, header: Record<string, string[]>, body: Buffer): string {
  const headerPart = JSON.stringify(Object.entries(header).sort(([a], [b]) => a.localeCompare(b)));
  return `content:${createHash("sha256").update(`${method} ${url}\n${headerPart}\n`).update(body).digest("hex")}`;
}

function parseRetries(value: string | null, fallback: number): number {
  if (value === null) return fallback;
  const retries = Number(value);
  if (!/^\d+$/.test(value) || retries > MAX_RETRIES) throw new QStashError(400, `invalid Upstash-Retries: ${value}`);
  return retries;
}

function parseNotBefore(value: string | null): number | null {
  if (value === null) return null;
  if (!/^\d+$/.test(value)) throw new QStashError(400, `invalid Upstash-Not-Before: ${value} (unix seconds)`);
  return Number(value);
}

function parseHeaderDuration(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  if (value === null) return undefined;
  const ms = parseDurationMs(value);
  if (ms === undefined) throw new QStashError(400, `invalid ${name}: ${value} (e.g. "10s", "5m", "2h", "1d")`);
  return ms;
}

const durationUnitsMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as QStash writes them: `10s`, `5m`, `1h30m`, `1d` (a bare number is seconds). */
export function parseDurationMs(value: string): number | undefined {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(amount) * durationUnitsMs[unit!]!;
  return total;
}

// --- storage ---------------------------------------------------------------------------------------------------

/** Stores the drafts in one transaction; a deduplication id seen within the window yields the earlier message. */
async function store(sql: postgres.Sql, drafts: Draft[], settings: Settings): Promise<PublishResult[]> {
  return (await sql.begin(async (tx) => {
    const results: PublishResult[] = [];
    for (const draft of drafts) results.push(await storeOne(tx, draft, settings));
    return results;
  })) as PublishResult[];
}

async function storeOne(tx: postgres.TransactionSql, d: Draft, settings: Settings): Promise<PublishResult> {
  const id = newMessageId();
  if (d.deduplicationId !== null) {
    const [fresh] = await tx`
      insert into local_qstash.deduplication (id, message_id, expires_at)
      values (${d.deduplicationId}, ${id}, now() + ${settings.deduplicationWindowMs}::double precision * interval '1 millisecond')
      on conflict (id) do update set message_id = excluded.message_id, expires_at = excluded.expires_at
        where local_qstash.deduplication.expires_at <= now()
      returning message_id`;
    if (!fresh) {
      const [seen] = await tx<{ message_id: string }[]>`
        select message_id from local_qstash.deduplication where id = ${d.deduplicationId}`;
      return { messageId: seen!.message_id, url: d.url, deduplicated: true };
    }
  }
  await tx`
    insert into local_qstash.messages
      (id, url, method, header, body, max_retries, timeout_ms, state, not_before, deduplication_id)
    values (${id}, ${d.url}, ${d.method}, ${tx.json(d.header)}, ${d.body}, ${d.maxRetries}, ${d.timeoutMs}, 'CREATED',
      coalesce(to_timestamp(${d.notBeforeSeconds}::double precision),
               now() + ${d.delayMs}::double precision * interval '1 millisecond'),
      ${d.deduplicationId})`;
  return { messageId: id, url: d.url };
}

const ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Ids shaped like QStash's (`msg_` and 27 base-62 characters). */
function newMessageId(): string {
  return `msg_${[...randomBytes(27)].map((byte) => ID_ALPHABET[byte % ID_ALPHABET.length]).join("")}`;
}

interface MessageRow {
  id: string;
  url: string;
  method: string;
  header: Record<string, string[]>;
  body: Buffer;
  max_retries: number;
  retried: number;
  state: MessageState;
  not_before: Date;
  created_at: Date;
  response_status: number | null;
  response_body: string | null;
  last_error: string | null;
}

/**
 * `GET /v2/messages/:id`: QStash's `Message` shape. QStash forgets a message once it is delivered or moved to the DLQ;
 * the emulator keeps it and adds its `state` and `retried` count, plus the last response as a DLQ entry would show it.
 */
async function getMessage(sql: postgres.Sql, id: string): Promise<Response> {
  const [m] = await sql<MessageRow[]>`
    select id, url, method, header, body, max_retries, retried, state, not_before, created_at,
           response_status, response_body, last_error
    from local_qstash.messages where id = ${id}`;
  if (!m) throw new QStashError(404, "message not found");
  const utf8 = isUtf8(m.body);
  return reply(200, {
    messageId: m.id,
    url: m.url,
    method: m.method,
    header: m.header,
    ...(utf8 ? { body: m.body.toString("utf8") } : { bodyBase64: m.body.toString("base64") }),
    maxRetries: m.max_retries,
    notBefore: m.not_before.getTime(),
    createdAt: m.created_at.getTime(),
    state: m.state,
    retried: m.retried,
    ...(m.response_status !== null ? { responseStatus: m.response_status } : {}),
    ...(m.response_body !== null ? { responseBody: m.response_body } : {}),
    ...(m.last_error !== null ? { error: m.last_error } : {}),
  });
}

/** Cancels messages not delivered yet; one being delivered right now gets no further attempt. */
async function cancelIds(sql: postgres.Sql, ids: string[]): Promise<number> {
  const rows = await sql`
    update local_qstash.messages set state = 'CANCELED', lease_until = null, updated_at = now()
    where id in ${sql(ids)} and state in ('CREATED', 'RETRY', 'ACTIVE')
    returning id`;
  return rows.length;
}

/** `DELETE /v2/messages/:id`: `{ cancelled: 1 }`, or 404 when QStash no longer holds it (unknown or finished). */
async function cancelOne(sql: postgres.Sql, id: string): Promise<Response> {
  if ((await cancelIds(sql, [id])) === 0) throw new QStashError(404, "message not found");
  return reply(200, { cancelled: 1 });
}

/** `DELETE /v2/messages?messageIds=…`; filters and `all` are not emulated. */
async function cancelMany(sql: postgres.Sql, search: URLSearchParams): Promise<Response> {
  const ids = search.getAll("messageIds");
  if (ids.length === 0) throw new QStashError(400, "only cancelling by messageIds is supported by the local QStash emulator");
  return reply(200, { cancelled: await cancelIds(sql, ids) });
}

// --- delivery --------------------------------------------------------------------------------------------------

function createDeliveryLoop(options: QStashEmulatorOptions, settings: Settings) {
  const { sql } = options;
  const signingKey = new TextEncoder().encode(options.currentSigningKey);
  const inFlight = new Set<Promise<void>>();
  let running = false;
  let finished: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  // A wake-up that arrives while the loop is busy is kept, so the next sleep returns at once.
  let woken = false;

  const wake = () => {
    woken = true;
    wakeUp?.();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  async function run(): Promise<void> {
    while (running) {
      woken = false;
      try {
        const capacity = settings.concurrency - inFlight.size;
        const claimed = capacity > 0 ? await claimDue(sql, capacity, settings.leaseMarginMs) : [];
        for (const message of claimed) track(deliverAndRecord(message));
        if (claimed.length > 0 && claimed.length === capacity) continue;
        if (!running) break;
        await sleep(capacity > 0 ? await msUntilNextDue(sql, settings.pollIntervalMs) : settings.pollIntervalMs);
      } catch (error) {
        log.warn("qstash emulator: delivery loop error", { error });
        if (running) await sleep(settings.pollIntervalMs);
      }
    }
  }

  function track(delivery: Promise<void>): void {
    inFlight.add(delivery);
    void delivery.finally(() => {
      inFlight.delete(delivery);
      wake();
    });
  }

  async function deliverAndRecord(message: ClaimedMessage & { claim_token: string }): Promise<void> {
    const startedAt = new Date();
    const outcome = await deliver(message, signingKey);
    try {
      await recordOutcome(sql, message, outcome, startedAt, settings.retryDelayScale);
    } catch (error) {
      // The lease expires and the message is delivered again: at least once, as QStash.
      log.warn("qstash emulator: could not record a delivery attempt", { error, messageId: message.id });
    }
  }

  return {
    wake,
    start(): void {
      if (running) return;
      running = true;
      finished = run();
    },
    async stop(): Promise<void> {
      running = false;
      wake();
      await finished;
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** Claims due messages (and those whose claim by another process expired) for this instance. */
async function claimDue(
  sql: postgres.Sql,
  limit: number,
  leaseMarginMs: number,
): Promise<(ClaimedMessage & { claim_token: string })[]> {
  const token = randomUUID();
  return sql<(ClaimedMessage & { claim_token: string })[]>`
    update local_qstash.messages m
    set state = 'ACTIVE', claim_token = ${token}, updated_at = now(),
        lease_until = now() + (m.timeout_ms + ${leaseMarginMs}::integer) * interval '1 millisecond'
    where m.id in (
      select id from local_qstash.messages
      where (state in ('CREATED', 'RETRY') and not_before <= now()) or (state = 'ACTIVE' and lease_until <= now())
      order by not_before
      limit ${limit}
      for update skip locked)
    returning m.id, m.url, m.method, m.header, m.body, m.retried, m.max_retries, m.timeout_ms, m.claim_token`;
}

/** Milliseconds until the next message falls due, at most `pollMs` (leases and other instances' writes need a look). */
async function msUntilNextDue(sql: postgres.Sql, pollMs: number): Promise<number> {
  const [row] = await sql<{ ms: number | null }[]>`
    select extract(epoch from (min(not_before) - now())) * 1000 as ms
    from local_qstash.messages where state in ('CREATED', 'RETRY')`;
  const ms = row?.ms === null || row?.ms === undefined ? pollMs : Number(row.ms);
  return Math.max(0, Math.min(pollMs, Math.ceil(ms)));
}

/** One attempt, with QStash's headers and the body byte for byte; never throws. */
async function deliver(message: ClaimedMessage, signingKey: Uint8Array): Promise<Outcome> {
  const headers = new Headers();
  for (const [name, values] of Object.entries(message.header)) for (const value of values) headers.append(name, value);
  headers.set("Upstash-Signature", await sign(message.url, message.body, signingKey));
  headers.set("Upstash-Message-Id", message.id);
  headers.set("Upstash-Retried", String(message.retried));
  headers.set("User-Agent", "Upstash-QStash");
  try {
    const res = await fetch(message.url, {
      method: message.method,
      headers,
      body: message.method === "GET" ? undefined : new Uint8Array(message.body),
      redirect: "manual",
      signal: AbortSignal.timeout(message.timeout_ms),
    });
    const text = await res.text();
    return {
      status: res.status,
      error: null,
      responseBody: text.slice(0, KEPT_RESPONSE_CHARS),
      retryAfterMs: parseRetryAfterMs(res.headers.get("retry-after")),
    };
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { status: null, error: reason, responseBody: null, retryAfterMs: null };
  }
}

/** QStash's `Upstash-Signature`: an HS256 JWT over the destination and the SHA-256 of the raw body. */
async function sign(url: string, body: Buffer, key: Uint8Array): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ body: createHash("sha256").update(body).digest("base64url") })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(url)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + SIGNATURE_LIFETIME_SECONDS)
    .setJti(`jwt_${randomBytes(16).toString("hex")}`)
    .sign(key);
}

/** `Retry-After` as seconds, an HTTP date or a duration like `6m5s`; capped at a day like QStash. */
export function parseRetryAfterMs(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  let ms = parseDurationMs(value);
  if (ms === undefined) {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return null;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, MAX_BACKOFF_SECONDS * 1000);
}

/** QStash's default backoff before retry number `retried`: `min(86400, e^(2.5·retried))` seconds. */
export function backoffMs(retried: number, scale = 1): number {
  return Math.min(MAX_BACKOFF_SECONDS, Math.exp(2.5 * retried)) * 1000 * scale;
}

/** Records the attempt and moves the message on: delivered, scheduled for its next retry, or failed (the DLQ). */
async function recordOutcome(
  sql: postgres.Sql,
  message: ClaimedMessage & { claim_token: string },
  outcome: Outcome,
  startedAt: Date,
  retryDelayScale: number,
): Promise<void> {
  const delivered = outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
  const retried = message.retried + 1;
  const state: MessageState = delivered ? "DELIVERED" : message.retried < message.max_retries ? "RETRY" : "FAILED";
  const delayMs = state === "RETRY" ? (outcome.retryAfterMs ?? backoffMs(retried, retryDelayScale)) : 0;
  await sql.begin(async (tx) => {
    await tx`
      insert into local_qstash.attempts (message_id, retried, started_at, status, error)
      values (${message.id}, ${message.retried}, ${startedAt}, ${outcome.status}, ${outcome.error})`;
    await tx`
      update local_qstash.messages
      set state = ${state}, claim_token = null, lease_until = null, updated_at = now(),
          retried = ${state === "RETRY" ? retried : message.retried},
          not_before = case when ${state}::text = 'RETRY'
                            then now() + ${delayMs}::double precision * interval '1 millisecond'
                            else not_before end,
          response_status = ${outcome.status}, response_body = ${outcome.responseBody}, last_error = ${outcome.error}
      where id = ${message.id} and claim_token = ${message.claim_token} and state = 'ACTIVE'`;
  });
}
