import postgres from "postgres";
import { env } from "./env.js";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

/**
 * The JWT claims a request runs under; `auth.uid()` and `auth.jwt()` read them inside Postgres. `role` is the claim
 * Supabase's tokens carry; the Postgres role the request runs as is always `amplify_api` (see `withClaims`).
 */
export interface Claims {
  sub: string;
  role: "authenticated";
  email?: string;
  /** Set for API-key requests: RLS confines such a request to this one profile. */
  profile_id?: string;
  api_key_id?: string;
  [claim: string]: unknown;
}

let client: Sql | undefined;

/**
 * The process-wide connection pool, created on first use so that warm function instances reuse it.
 * `prepare: false` because Supabase's transaction pooler does not support prepared statements.
 */
export function sql(): Sql {
  if (!client) {
    client = postgres(env().DATABASE_URL, {
      prepare: false,
      max: env().DATABASE_POOL_MAX,
      idle_timeout: 20,
      connect_timeout: 10,
      onnotice: () => {},
      transform: { undefined: null },
    });
  }
  return client;
}

export async function closeSql(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) await c.end({ timeout: 5 });
}

/**
 * Runs `fn` in one transaction as role `amplify_api` with `request.jwt.claims` set, so every row it touches passes the
 * RLS policies for that caller (`auth.uid()` and `auth.jwt()` read the claims). Tenancy is the database's job, not
 * only ours. `amplify_api` is the role every policy in schema public applies to and the only one holding grants there;
 * Supabase's data API cannot assume it (its login role `authenticator` is not a member), and `anon`/`authenticated`
 * hold nothing in public, so a user calling `/rest/v1` directly with their own token can do nothing at all.
 */
export async function withClaims<T>(claims: Claims, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return (await sql().begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true), set_config('statement_timeout', '15s', true)`;
    await tx`set local role amplify_api`;
    return fn(tx);
  })) as T;
}

/**
 * Runs `fn` in one transaction with the service connection, which bypasses RLS. Used only where no user request's
 * claims apply: API key verification, the OAuth callback, token refresh, the sweep, the publish executor, the webhook
 * worker, the Stripe webhook, storage signing and the local emulators. Every read there joins on profile as well as
 * id (a target's post and connection, a delivery's endpoint), which the composite foreign keys also guarantee.
 */
export async function withService<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  return (await sql().begin(fn)) as T;
}
