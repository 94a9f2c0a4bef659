import postgres from "postgres";
import type { Env } from "./env.js";

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

/**
 * The JWT claims a request runs under; `auth.uid()` and `auth.jwt()` read them inside Postgres. `role` is the claim
 * Supabase's tokens carry; the Postgres role the request runs as is always `amplify_api` (see `runAs`).
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

/** Runs `fn` in one transaction as the caller whose claims are given (RLS applies). */
export type CallerDb = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;

/**
 * Runs `fn` in one transaction on the service connection, which bypasses RLS. Only routes that declare
 * `service: true` and jobs receive one; a module that needs it takes it as a parameter.
 */
export type ServiceDb = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;

/**
 * A connection pool for the environment's `DATABASE_URL`. `prepare: false` because Supabase's transaction pooler
 * does not support prepared statements. `services()` keeps one per configuration, so warm function instances reuse it.
 */
export function createSql(e: Pick<Env, "DATABASE_URL" | "DATABASE_POOL_MAX">): Sql {
  const notices = { handOff: 0 };
  const sql = postgres(e.DATABASE_URL, {
    prepare: false,
    max: e.DATABASE_POOL_MAX,
    idle_timeout: 20,
    connect_timeout: 10,
    onnotice: (notice) => {
      if (notice.message === HAND_OFF_NOTICE) notices.handOff++;
    },
    transform: { undefined: null },
  });
  handOffNotices.set(sql, notices);
  return sql;
}

/**
 * After-commit hand-off (migration 20261206083000): a trigger that creates outbox rows records `<job>:<id>` in the
 * transaction-local setting `amplify.hand_off` and raises this notice. Notices arrive before the statement's result,
 * per pool, so a transaction during which the pool saw one reads the setting before committing (one round trip, paid
 * only then) and hands the entries to src/core/jobs/hand-off.ts after the commit. Transactions that create no outbox
 * rows pay nothing; one that rolls back hands off nothing.
 */
const HAND_OFF_NOTICE = "amplify:hand-off";
const handOffNotices = new WeakMap<Sql, { handOff: number }>();

/** `sql.begin(fn)`, then the after-commit hand-off of what the transaction recorded. Never fails for the hand-off. */
async function transaction<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const notices = handOffNotices.get(sql);
  const before = notices?.handOff ?? 0;
  let entries: string[] = [];
  const result = (await sql.begin(async (tx) => {
    const value = await fn(tx);
    if (notices && notices.handOff !== before) {
      const [row] = await tx<{ v: string | null }[]>`select current_setting('amplify.hand_off', true) as v`;
      entries = (row?.v ?? "").split(" ").filter(Boolean);
    }
    return value;
  })) as T;
  // Loaded on use (and not at module level, which would be an import cycle: jobs use this module).
  if (entries.length) await (await import("./jobs/hand-off.js")).handOff(entries);
  return result;
}

/**
 * SQLSTATEs of a transaction Postgres aborted so that another could go on: deadlock_detected and
 * serialization_failure. Nothing the transaction did was kept, and running it again is the remedy.
 */
const ABORTED_FOR_ANOTHER = new Set(["40P01", "40001"]);

/**
 * Runs `work`, one whole transaction, again when Postgres aborted it for another (at most `attempts` runs in all).
 * For transactions that record what already happened outside the database, such as a post the network published:
 * lost, the work would be done a second time once its lease ran out.
 */
export async function retryIfAborted<T>(work: () => Promise<T>, attempts = 3): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await work();
    } catch (error) {
      const aborted = error instanceof postgres.PostgresError && ABORTED_FOR_ANOTHER.has(error.code);
      if (!aborted || run >= attempts) throw error;
    }
  }
}

/**
 * A string as an SQL literal, for the few hot statements we send without parameters. With `prepare: false`,
 * postgres.js sends a statement that has parameters in two round trips (Parse and Describe first, to learn the
 * parameter types, then Bind and Execute) and sends nothing behind it until both are done; one without parameters
 * goes in a single round trip and can share it with the next statement. Dollar quoting takes the text as it is (no
 * escape sequences, whatever `standard_conforming_strings` says), with a tag the text does not contain.
 */
export function literal(text: string): string {
  let tag = "q";
  for (let n = 0; text.includes(`$${tag}$`); n++) tag = `q${n}`;
  return `$${tag}$${text}$${tag}$`;
}

/**
 * Runs `fn` in one transaction as role `amplify_api` with `request.jwt.claims` set, so every row it touches passes the
 * RLS policies for that caller (`auth.uid()` and `auth.jwt()` read the claims). Tenancy is the database's job, not
 * only ours. `amplify_api` is the role every policy in schema public applies to and the only one holding grants there;
 * Supabase's data API cannot assume it (its login role `authenticator` is not a member), and `anon`/`authenticated`
 * hold nothing in public, so a user calling `/rest/v1` directly with their own token can do nothing at all.
 */
export async function runAs<T>(sql: Sql, claims: Claims, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return transaction(sql, async (tx) => {
    // One statement for the caller's claims, the timeout and the role, as PostgREST does it: set_config('role', …,
    // true) is `set local role`, so the rest of the transaction runs as amplify_api under the RLS policies. It is not
    // awaited before `fn` starts: `fn`'s first statement is pipelined behind it on the transaction's one connection
    // (it has no parameters, so the two go out in one write). Postgres runs them in order, so nothing in `fn` runs
    // before the role and claims are in force, and if the setup failed the transaction is aborted and every later
    // statement fails with it.
    // Sent without parameters (the claims as a quoted literal): see `literal`.
    const setup = tx
      .unsafe(
        `select set_config('request.jwt.claims', ${literal(JSON.stringify(claims))}, true),
                set_config('statement_timeout', '15s', true),
                set_config('role', 'amplify_api', true)`,
      )
      .execute();
    const [, result] = await Promise.all([setup, fn(tx)]);
    return result;
  });
}

/**
 * One read-only transaction sent as one simple-protocol message, so it costs one round trip where `runAs` costs
 * three (BEGIN, the setup with the first statement, COMMIT): BEGIN; `setup` (statements with no parameters, run as the
 * login role: the caller's claims are set there); the timeout and the role switch to amplify_api; `read`, under the
 * RLS policies; COMMIT. Returns the rows of `setup`'s last statement and of `read`. Postgres stops at a failing
 * statement and leaves the transaction aborted; it is rolled back before the connection goes back to the pool (and a
 * connection that cannot even do that, being lost, is not handed back: the pool has already taken it back as closed).
 * `setup` and `read` must not contain BEGIN, COMMIT or ROLLBACK, nor any parameter (they are sent as text).
 */
export async function readInOneMessage<S, R>(sql: Sql, setup: string, read: string): Promise<{ setup: S[]; rows: R[] }> {
  const reserved = await sql.reserve();
  let usable = true;
  try {
    // postgres.js gives a message's results in order, one per statement that returned rows (BEGIN's result is the
    // first, and COMMIT's tag lands on the read's).
    const results = (await reserved
      .unsafe(
        `begin;
         ${setup};
         select set_config('statement_timeout', '15s', true), set_config('role', 'amplify_api', true);
         ${read};
         commit`,
      )
      .simple()) as unknown as [unknown, S[], unknown, R[]];
    return { setup: results[1], rows: results[3] };
  } catch (error) {
    await reserved.unsafe("rollback").catch(() => (usable = false));
    throw error;
  } finally {
    if (usable) reserved.release();
  }
}

/**
 * Runs `fn` in one transaction on the service connection (RLS bypassed). Every read there joins on profile as well
 * as id (a target's post and connection, a delivery's endpoint), which the composite foreign keys also guarantee.
 */
export async function runService<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return transaction(sql, fn);
}
