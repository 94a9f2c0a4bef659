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

/**
 * One transaction on a connection of `sql`'s pool, with the after-commit hand-off of what it recorded. Never fails for
 * the hand-off.
 *
 * Why not postgres.js' `sql.begin`: it sends BEGIN and waits for the answer before `fn` may send anything, a round trip
 * of its own on every transaction, and each round trip is a socket write that wakes the database's process (on a
 * small VM the biggest single cost of a request in our own process). Here BEGIN, `setup` (the caller's claims and
 * role, see `runAs`) and `fn`'s first statement are pipelined: all three leave in one write. Postgres runs them in
 * order, so nothing of `fn` runs outside the transaction or before the setup; if the setup fails, the transaction is
 * aborted, everything after it fails too and it is rolled back. The hand-off read, when there is one, shares COMMIT's
 * write.
 *
 * What `sql.begin` guarantees is kept (see `scoped`): a statement of `fn` that failed fails the transaction even if
 * `fn` caught the error, and is what the caller sees (not the "transaction is aborted" of a later statement);
 * `tx.savepoint(fn)` works as postgres.js documents it.
 */
async function transaction<T>(sql: Sql, fn: (tx: Tx) => Promise<T>, setup = ""): Promise<T> {
  const notices = handOffNotices.get(sql);
  const before = notices?.handOff ?? 0;
  let entries: string[] = [];
  const reserved = await sql.reserve();
  const scope: Scope = {};
  let result: T;
  try {
    // Two messages, not one string: Postgres parses a multi-statement string whole before running any of it, so a
    // setup it could not parse would leave `fn`'s statements outside any transaction, as the service role.
    const opened = [reserved.unsafe("begin").execute(), ...(setup ? [reserved.unsafe(setup).execute()] : [])];
    try {
      result = (await Promise.all([fn(scoped(reserved, scope)), ...opened]))[0];
      if (scope.error) throw scope.error;
    } catch (error) {
      throw (error instanceof postgres.PostgresError && error.code === "25P02" && scope.error) || error;
    }
    if (notices && notices.handOff !== before) {
      // Two statements sent together: one write, one wait.
      const read = reserved.unsafe<{ v: string | null }[]>("select current_setting('amplify.hand_off', true) as v").execute();
      const [[row]] = await Promise.all([read, reserved.unsafe("commit").execute()]);
      entries = (row?.v ?? "").split(" ").filter(Boolean);
    } else {
      await reserved.unsafe("commit");
    }
  } catch (error) {
    await reserved.unsafe("rollback").catch(() => undefined);
    throw error;
  } finally {
    reserved.release();
  }
  // Loaded on use (and not at module level, which would be an import cycle: jobs use this module).
  if (entries.length) await (await import("./jobs/hand-off.js")).handOff(entries);
  return result;
}

/** The first error of a statement sent in a transaction (or savepoint) scope. */
interface Scope {
  error?: unknown;
}

/** postgres.js' internal request handler of a query, which runs it when the query is first awaited. */
type QueryHandler = ((query: Promise<unknown>) => unknown) & { debug?: unknown };

/**
 * The transaction's `tx` for `fn`: the reserved connection's `sql`, with every statement it runs recording its error
 * in `scope` (as `sql.begin` does) and with `savepoint`. A query is lazy until awaited: its handler is wrapped when it
 * is made, so a fragment (tx`true` inside another statement) is never run, and each statement is seen as it runs.
 * (`handler` is the property postgres.js 3.4's Query keeps it in; tests/core/transactions.test.ts holds us to it.)
 */
function scoped(reserved: postgres.ReservedSql, scope: Scope, savepoints = { next: 0 }): Tx {
  const tracked = <Q>(query: Q): Q => {
    const handler = query instanceof Promise ? (query as unknown as { handler?: QueryHandler }).handler : undefined;
    if (typeof handler === "function") {
      const wrapped: QueryHandler = (q) => {
        q.catch((error: unknown) => void (scope.error ??= error));
        return handler(q);
      };
      wrapped.debug = handler.debug;
      (query as unknown as { handler: QueryHandler }).handler = wrapped;
    }
    return query;
  };
  const tx = ((first: unknown, ...rest: unknown[]) => tracked((reserved as unknown as (...a: unknown[]) => unknown)(first, ...rest))) as unknown as Tx;
  Object.assign(tx, reserved, {
    unsafe: (...args: Parameters<Sql["unsafe"]>) => tracked(reserved.unsafe(...args)),
    savepoint: async <R>(nameOrFn: string | ((sp: Tx) => Promise<R>), maybeFn?: (sp: Tx) => Promise<R>): Promise<R> => {
      const fn = typeof nameOrFn === "function" ? nameOrFn : maybeFn!;
      const name = `s${savepoints.next++}${typeof nameOrFn === "string" ? `_${nameOrFn.replace(/\W/g, "")}` : ""}`;
      await tx.unsafe(`savepoint ${name}`);
      const inner: Scope = {};
      try {
        const value = await fn(scoped(reserved, inner, savepoints));
        if (inner.error) throw inner.error;
        return value;
      } catch (error) {
        await tx.unsafe(`rollback to ${name}`);
        throw (error instanceof postgres.PostgresError && error.code === "25P02" && inner.error) || error;
      }
    },
  });
  return tx;
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
  // One statement for the caller's claims, the timeout and the role, as PostgREST does it: set_config('role', …, true)
  // is `set local role`, so the rest of the transaction runs as amplify_api under the RLS policies. It goes with BEGIN,
  // and `fn`'s first statement behind them (see `transaction`). Sent without parameters (the claims as a quoted
  // literal): see `literal`.
  return transaction(
    sql,
    fn,
    `select set_config('request.jwt.claims', ${literal(JSON.stringify(claims))}, true),
            set_config('statement_timeout', '15s', true),
            set_config('role', 'amplify_api', true)`,
  );
}

/**
 * Runs `fn` in one transaction on the service connection (RLS bypassed). Every read there joins on profile as well
 * as id (a target's post and connection, a delivery's endpoint), which the composite foreign keys also guarantee.
 */
export async function runService<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return transaction(sql, fn);
}
