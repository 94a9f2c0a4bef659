import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import type postgres from "postgres";
import { log } from "../../core/log.js";
import { inProcessFetch } from "../../platforms/http.js";
import { parseDurationMs } from "./publish.js";
import {
  type ClaimedMessage,
  KEPT_RESPONSE_CHARS,
  MAX_BACKOFF_SECONDS,
  type MessageState,
  type Outcome,
  type QStashEmulatorOptions,
  type Settings,
  SIGNATURE_LIFETIME_SECONDS,
} from "./settings.js";

/**
 * The delivery loop: claims due messages under a lease (`FOR UPDATE SKIP LOCKED`), delivers them signed, and records
 * the outcome with QStash's retry schedule.
 */

export function createDeliveryLoop(options: QStashEmulatorOptions, settings: Settings) {
  const { sql } = options;
  const signingKey = new TextEncoder().encode(options.currentSigningKey);
  const inFlight = new Set<Promise<unknown>>();
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
        for (const message of claimed) track(message);
        if (claimed.length > 0 && claimed.length === capacity) continue;
        if (!running) break;
        await sleep(capacity > 0 ? await msUntilNextDue(sql, settings.pollIntervalMs) : settings.pollIntervalMs);
      } catch (error) {
        log.warn("qstash emulator: delivery loop error", { error });
        if (running) await sleep(settings.pollIntervalMs);
      }
    }
  }

  function track(message: ClaimedMessage & { claim_token: string }): void {
    const delivery = deliverAndRecord(message);
    inFlight.add(delivery);
    void delivery.then((next) => {
      inFlight.delete(delivery);
      // The slot goes straight on to the message claimed with this outcome; when none was due, the loop looks again.
      if (next) track(next);
      else wake();
    });
  }

  /** One delivery and its outcome; never throws. Returns the next due message when recording the outcome claimed one. */
  async function deliverAndRecord(message: ClaimedMessage & { claim_token: string }): Promise<(ClaimedMessage & { claim_token: string }) | undefined> {
    const startedAt = new Date();
    const outcome = await deliver(message, signingKey);
    try {
      const claimNext = running ? { leaseMarginMs: settings.leaseMarginMs } : undefined;
      return await recordOutcome(sql, message, outcome, startedAt, settings.retryDelayScale, claimNext);
    } catch (error) {
      // The lease expires and the message is delivered again: at least once, as QStash.
      log.warn("qstash emulator: could not record a delivery attempt", { error, messageId: message.id });
      return undefined;
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
      // A delivery finishing as the loop stopped may have claimed the next message already: it is delivered too.
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/** Claims due messages (and those whose claim by another process expired) for this instance. */
export async function claimDue(
  sql: postgres.Sql,
  limit: number,
  leaseMarginMs: number,
): Promise<(ClaimedMessage & { claim_token: string })[]> {
  const token = randomUUID();
  return sql<(ClaimedMessage & { claim_token: string })[]>`
    update local_qstash.messages m
    set state = 'ACTIVE', claim_token = ${token}, updated_at = now(),
        lease_until = now() + (m.timeout_ms + ${leaseMarginMs}::integer) * interval '1 millisecond'
    where m.id in (${claimable(sql, limit)})
    returning m.id, m.url, m.method, m.header, m.body, m.retried, m.max_retries, m.timeout_ms, m.claim_token`;
}

/**
 * The ids of up to `limit` messages to claim now, locked: those due (earliest first) and those whose claim's lease ran
 * out, less `except`. Two index scans (messages_due_idx, messages_lease_idx) that each stop at `limit`, rather than one
 * ordered scan of an OR over both states, which sorted every due message on every claim: in a burst of a thousand
 * messages that sort, once per delivery, was the emulator's largest cost.
 */
function claimable(sql: postgres.Sql, limit: number, except?: string): postgres.PendingQuery<postgres.Row[]> {
  const other = except === undefined ? sql`` : sql`and id <> ${except}`;
  return sql`
    with due as (
      select id, not_before as at from local_qstash.messages
      where state in ('CREATED', 'RETRY') and not_before <= now() ${other}
      order by not_before limit ${limit}
      for update skip locked
    ), expired as (
      select id, lease_until as at from local_qstash.messages
      where state = 'ACTIVE' and lease_until <= now() ${other}
      order by lease_until limit ${limit}
      for update skip locked
    )
    select id from (select id, at from due union all select id, at from expired) claimable order by at limit ${limit}`;
}

/** Milliseconds until the next message falls due, at most `pollMs` (leases and other instances' writes need a look). */
export async function msUntilNextDue(sql: postgres.Sql, pollMs: number): Promise<number> {
  const [row] = await sql<{ ms: number | null }[]>`
    select extract(epoch from (min(not_before) - now())) * 1000 as ms
    from local_qstash.messages where state in ('CREATED', 'RETRY')`;
  const ms = row?.ms === null || row?.ms === undefined ? pollMs : Number(row.ms);
  return Math.max(0, Math.min(pollMs, Math.ceil(ms)));
}

/** One attempt, with QStash's headers and the body byte for byte; never throws. */
export async function deliver(message: ClaimedMessage, signingKey: Uint8Array): Promise<Outcome> {
  const headers = new Headers();
  for (const [name, values] of Object.entries(message.header)) for (const value of values) headers.append(name, value);
  headers.set("Upstash-Signature", await sign(message.url, message.body, signingKey));
  headers.set("Upstash-Message-Id", message.id);
  headers.set("Upstash-Retried", String(message.retried));
  headers.set("User-Agent", "Upstash-QStash");
  try {
    // A destination this process serves (the local home's own functions, src/local/in-process.ts) gets the same
    // request without a socket; any other goes out through fetch.
    const res = await (inProcessFetch(message.url) ?? fetch)(message.url, {
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

/** The protected header of every signature, encoded once. */
const SIGNATURE_HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

/**
 * QStash's `Upstash-Signature`: an HS256 JWT over the destination and the SHA-256 of the raw body. Built with
 * node:crypto's HMAC rather than a JWT library: the same compact JWS (header, claims, HMAC-SHA256), without
 * importing the key into WebCrypto on every delivery, which cost more than the rest of signing.
 */
export async function sign(url: string, body: Buffer, key: Uint8Array): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    body: createHash("sha256").update(body).digest("base64url"),
    iss: "Upstash",
    sub: url,
    iat: now,
    nbf: now,
    exp: now + SIGNATURE_LIFETIME_SECONDS,
    jti: `jwt_${randomBytes(16).toString("hex")}`,
  };
  const signingInput = `${SIGNATURE_HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${signingInput}.${createHmac("sha256", key).update(signingInput).digest("base64url")}`;
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

/**
 * Records the attempt and moves the message on: delivered, scheduled for its next retry, or failed (the DLQ). With
 * `claimNext`, the same statement claims the next due message (as `claimDue` does, one) for the slot this delivery
 * frees, and returns it: a burst of deliveries then costs one statement per message after its first claim.
 */
export async function recordOutcome(
  sql: postgres.Sql,
  message: ClaimedMessage & { claim_token: string },
  outcome: Outcome,
  startedAt: Date,
  retryDelayScale: number,
  claimNext?: { leaseMarginMs: number },
): Promise<(ClaimedMessage & { claim_token: string }) | undefined> {
  const delivered = outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
  const retried = message.retried + 1;
  const state: MessageState = delivered ? "DELIVERED" : message.retried < message.max_retries ? "RETRY" : "FAILED";
  const delayMs = state === "RETRY" ? (outcome.retryAfterMs ?? backoffMs(retried, retryDelayScale)) : 0;
  // One statement (the attempt, the message's next state and the next claim, atomically), not a transaction of four
  // round trips and a claim of its own. The claim cannot pick this message: it is still ACTIVE under its lease in the
  // statement's snapshot, and excluded by id besides.
  const token = randomUUID();
  const [next] = await sql<(ClaimedMessage & { claim_token: string })[]>`
    with attempt as (
      insert into local_qstash.attempts (message_id, retried, started_at, status, error)
      values (${message.id}, ${message.retried}, ${startedAt}, ${outcome.status}, ${outcome.error})
    ), recorded as (
      update local_qstash.messages
      set state = ${state}, claim_token = null, lease_until = null, updated_at = now(),
          retried = ${state === "RETRY" ? retried : message.retried},
          not_before = case when ${state}::text = 'RETRY'
                            then now() + ${delayMs}::double precision * interval '1 millisecond'
                            else not_before end,
          response_status = ${outcome.status}, response_body = ${outcome.responseBody}, last_error = ${outcome.error}
      where id = ${message.id} and claim_token = ${message.claim_token} and state = 'ACTIVE'
    )
    update local_qstash.messages m
    set state = 'ACTIVE', claim_token = ${token}, updated_at = now(),
        lease_until = now() + (m.timeout_ms + ${claimNext?.leaseMarginMs ?? 0}::integer) * interval '1 millisecond'
    where m.id in (${claimable(sql, claimNext ? 1 : 0, message.id)})
    returning m.id, m.url, m.method, m.header, m.body, m.retried, m.max_retries, m.timeout_ms, m.claim_token`;
  // One line per queue retry or dead letter (a delivered message is already the worker's request line).
  if (state !== "DELIVERED") {
    const fields = { messageId: message.id, path: new URL(message.url).pathname, status: outcome.status, error: outcome.error, retried };
    if (state === "RETRY") log.warn("queue retry", { ...fields, inSeconds: Math.round(delayMs / 100) / 10 });
    else log.error("queue message failed for good", fields);
  }
  return next;
}
