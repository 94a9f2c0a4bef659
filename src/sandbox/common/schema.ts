import type postgres from "postgres";
import { metricsDdl } from "./metrics.js";

/** The sandbox's context and its durable state: the `local_sandbox` schema. */

export type Sql = postgres.Sql;

export interface SandboxContext {
  sql: Sql;
  /** This network's public base URL, e.g. `http://localhost:8888/sandbox/linkedin` (for absolute upload URLs). */
  baseUrl: string;
  now: () => Date;
}

/** One network's handler: `path` is what follows `/sandbox/<network>`, e.g. `/2/tweets`. */
export type NetworkHandler = (req: Request, path: string) => Promise<Response>;

// --- schema --------------------------------------------------------------------------------------------------------

const ddl = `
create schema if not exists local_sandbox;

create table if not exists local_sandbox.accounts (
  network    text not null,
  id         text not null,
  username   text not null,
  name       text not null,
  created_at timestamptz not null default now(),
  primary key (network, id)
);
create unique index if not exists accounts_username on local_sandbox.accounts (network, username);

-- Authorization codes, access tokens and refresh tokens. "family" ties every token to the consent it descends from.
create table if not exists local_sandbox.grants (
  token                 text primary key,
  network               text not null,
  kind                  text not null check (kind in ('code', 'access', 'refresh')),
  account_id            text not null,
  client_id             text not null,
  scopes                text[] not null,
  family                text not null,
  redirect_uri          text,
  code_challenge        text,
  code_challenge_method text,
  expires_at            timestamptz,
  used_at               timestamptz,
  revoked_at            timestamptz,
  created_at            timestamptz not null default now()
);
create index if not exists grants_account on local_sandbox.grants (network, account_id, kind);

create table if not exists local_sandbox.posts (
  network    text not null,
  id         text not null,
  account_id text not null,
  text       text not null,
  media      jsonb not null default '[]',
  created_at timestamptz not null default now(),
  primary key (network, id)
);
create index if not exists posts_account on local_sandbox.posts (network, account_id, created_at desc);

create table if not exists local_sandbox.media (
  network      text not null,
  id           text not null,
  account_id   text not null,
  state        text not null,
  mime_type    text,
  size_bytes   integer,
  sha256       text,
  upload_token text unique,
  created_at   timestamptz not null default now(),
  primary key (network, id)
);

-- Attempts per marked content, for "[sandbox:<category>:<n>]" (fail the first n attempts).
create table if not exists local_sandbox.attempts (
  network      text not null,
  account_id   text not null,
  content_hash text not null,
  attempts     integer not null,
  primary key (network, account_id, content_hash)
);

create table if not exists local_sandbox.rate_windows (
  network      text not null,
  bucket       text not null,
  window_start timestamptz not null,
  calls        integer not null,
  primary key (network, bucket, window_start)
);
`;

/** Creates the sandbox's own schema if needed (idempotent, safe against concurrent starts on one database). */
export async function ensureSandboxSchema(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('local_sandbox.schema'))`;
    await tx.unsafe(ddl);
    await tx.unsafe(metricsDdl);
    await tx`delete from local_sandbox.rate_windows where window_start < now() - interval '2 days'`;
  });
}
