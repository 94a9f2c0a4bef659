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

export type Settings = Required<Omit<QStashEmulatorOptions, "sql" | "token" | "currentSigningKey" | "nextSigningKey">>;

export const defaults: Settings = {
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
`;

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
