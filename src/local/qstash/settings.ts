import type postgres from "postgres";
import { json, Reply } from "../emulator.js";
import { type FetchHandler } from "../server.js";

/** The emulator's options, defaults and limits, its schema, and QStash's error shape. */

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
  /** Deliveries in flight at once per instance (QStash itself sets no such limit unless a flow-control key says so). */
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

export type Settings = Required<Omit<QStashEmulatorOptions, "sql" | "token" | "currentSigningKey" | "nextSigningKey">>;

export const defaults: Settings = {
  mountPath: "/qstash",
  retryDelayScale: 1,
  attemptTimeoutMs: 15_000,
  leaseMarginMs: 10_000,
  pollIntervalMs: 250,
  concurrency: 32,
  defaultRetries: 3,
  deduplicationWindowMs: 10 * 60_000,
  maxMessageBytes: 1_048_576,
};

/** QStash's message states (its `State` type), as the emulator uses them. */
export type MessageState = "CREATED" | "ACTIVE" | "RETRY" | "DELIVERED" | "FAILED" | "CANCELED";

export const MAX_RETRIES = 20;
export const MAX_BACKOFF_SECONDS = 86_400;
export const SIGNATURE_LIFETIME_SECONDS = 300;
export const KEPT_RESPONSE_CHARS = 10_000;
export const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);
/** Headers a destination never receives from a publisher, whatever it forwards. */
export const UNFORWARDABLE = new Set(["host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect"]);
export const NOT_EMULATED: Record<string, string> = {
  "upstash-callback": "callbacks",
  "upstash-failure-callback": "failure callbacks",
  "upstash-retry-delay": "Upstash-Retry-Delay expressions",
};

/**
 * Stores a publish or a whole batch (publish.ts `store`): one message per element of the arrays, in their order.
 * A deduplication id seen within the window yields the earlier message, and within one call the first of two messages
 * with the same id wins, exactly as storing them one after the other would. Returns one row per message, in order.
 *
 * A plpgsql function so that each connection parses and plans this statement once and then reuses the plan: sent as
 * a query, it was parsed and planned again for every batch request (the emulator's pool runs without prepared
 * statements, as the product's does), a sixth or so of the database's work for a batch of 100.
 */
const storeBatchSql = `
  create or replace function local_qstash.store_batch(
    p_ids text[], p_urls text[], p_methods text[], p_headers text[], p_bodies text[], p_max_retries integer[],
    p_timeouts integer[], p_not_before text[], p_delays double precision[], p_dedup_ids text[],
    p_window_ms double precision
  ) returns table (message_id text, deduplicated boolean)
  language plpgsql set search_path = '' as $fn$
  #variable_conflict use_column
  begin
    return query
    with input as (
      select * from unnest(p_ids, p_urls, p_methods, p_headers, p_bodies, p_max_retries, p_timeouts, p_not_before,
                           p_delays, p_dedup_ids)
        with ordinality as t(id, url, method, header, body, max_retries, timeout_ms, not_before, delay_ms, dedup_id, ord)
    ),
    claimed as (
      insert into local_qstash.deduplication (id, message_id, expires_at)
      select distinct on (dedup_id) dedup_id, id, now() + p_window_ms * interval '1 millisecond'
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
             coalesce(to_timestamp(i.not_before::double precision), now() + i.delay_ms * interval '1 millisecond'),
             i.dedup_id
      from input i
      where i.dedup_id is null or exists (select 1 from claimed c where c.message_id = i.id)
      returning id
    )
    select coalesce(s.id, c.message_id,
                    -- A lookup per message by primary key: a join here let the planner scan the whole table (which
                    -- grows with every message of the window) for every batch.
                    (select seen.message_id from local_qstash.deduplication seen where seen.id = i.dedup_id)),
           s.id is null
    from input i
    left join stored s on s.id = i.id
    left join claimed c on c.dedup_id = i.dedup_id
    order by i.ord;
  end;
  $fn$;
`;

export const schemaSql = `
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
` + storeBatchSql;

/** A client error answered as QStash does: a status and `{ "error": "…" }`. */
export function qstashError(status: number, message: string): Reply {
  return new Reply(json(status, { error: message }));
}

/** What a publish asks for, validated, before it is stored. */
export interface Draft {
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

export interface PublishResult {
  messageId: string;
  url: string;
  deduplicated?: true;
}

export interface ClaimedMessage {
  id: string;
  url: string;
  method: string;
  header: Record<string, string[]>;
  body: Buffer;
  retried: number;
  max_retries: number;
  timeout_ms: number;
}

export interface Outcome {
  status: number | null;
  error: string | null;
  responseBody: string | null;
  retryAfterMs: number | null;
}
