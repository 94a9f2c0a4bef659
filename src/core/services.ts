import type { JWTVerifyGetKey } from "jose";
import { createRemoteJWKSet } from "jose";
import type Stripe from "stripe";
import { loadMediaStorage, type MediaStorage } from "../media/storage.js";
import { createPlatformRegistry, type PlatformRegistry } from "../platforms/registry.js";
import { currentClock, type Clock } from "./clock.js";
import { env, type Env } from "./env.js";
import { log } from "./log.js";
import { createMail, type Mail, type MailTransport } from "./mail.js";
import { createSql, runAs, runService, type Claims, type ServiceDb, type Sql, type Tx } from "./pg.js";
import { createQueue, type Queue } from "./queue.js";
import { flushApiUsage } from "./ratelimit/api-usage.js";
import { createLimiter, limiterBackend, rateLimitedError } from "./ratelimit/limiter.js";
import { resolvePolicies, type RateLimitPolicy, type RateLimitPolicyName } from "./ratelimit/policies.js";
import type { Limiter, LimiterBackend, RateLimitResult } from "./ratelimit/types.js";

export type { Clock } from "./clock.js";
export type { CallerDb, Claims, ServiceDb, Tx } from "./pg.js";

/** The named rate-limit policies in force and a limiter that counts them. */
export interface RateLimits {
  /** Which limiter the environment selects (throws a readable error for half an Upstash configuration). */
  backend(): LimiterBackend;
  /** The policy as configured (the table, plus any `RATE_LIMIT_OVERRIDES`). */
  policy(name: RateLimitPolicyName): RateLimitPolicy;
  /** Counts `cost` uses of the policy for `identifier` and returns the decision. */
  limit(name: RateLimitPolicyName, identifier: string, cost?: number): Promise<RateLimitResult>;
  /** As `limit`, throwing 429 `rate_limited` (with Retry-After and X-RateLimit-*) when it does not fit. */
  enforce(name: RateLimitPolicyName, identifier: string, cost?: number): Promise<RateLimitResult>;
  /** The limiter port itself (Upstash with a Postgres fallback, or Postgres). */
  port(): Promise<Limiter>;
}

/**
 * Everything a handler or a job may use besides its input, built once per parsed environment by `services()`.
 * The RLS-bypassing `ServiceDb` is deliberately not here: a route receives `ctx.serviceDb` only when its definition
 * says `service: true`, and every job receives one.
 */
export interface Services {
  readonly env: Env;
  /** Runs a function in one transaction as the caller (role `amplify_api`, the caller's claims: RLS applies). */
  readonly db: { as<T>(claims: Claims, fn: (tx: Tx) => Promise<T>): Promise<T> };
  /** The queue (QStash in the cloud, its emulator locally): publish, cancel, and verify a delivery. */
  readonly queue: Queue;
  readonly limiter: RateLimits;
  /** The publishing adapters, one per network, built on first use. */
  readonly platforms: PlatformRegistry;
  /** Media storage (Supabase Storage, or its emulator); supabase-js is loaded on first use. */
  readonly storage: () => Promise<MediaStorage>;
  /** The Stripe client (stripe-node is loaded on first use; without STRIPE_SECRET_KEY billing answers 503). */
  readonly stripe: { client(): Promise<Stripe> };
  /** "Now": the clock the home configured (`configureServices`), else the system clock or one set by `setClockForTests`. */
  readonly clock: Clock;
  readonly log: typeof log;
  /** Outgoing mail (src/core/mail.ts): the local mailbox, a transactional provider, or Supabase Auth's invite mail. */
  readonly mail: Mail;
  /** The keys that verify Supabase access tokens signed with an asymmetric algorithm (fetched and cached by jose). */
  readonly accessTokenKeys: JWTVerifyGetKey;
}

interface Built {
  env: Env;
  services: Services;
}

let built: Built | undefined;

/** What a home decides for the services it builds, beyond the environment. */
export interface ServiceOptions {
  /** Where "now" comes from (the local home's `clock` option: a test's manual clock). Default: the system clock. */
  clock?: Clock;
  /** Where mail goes (the local home's mailbox). Default: the provider the environment configures, if any. */
  mail?: MailTransport;
}

let options: ServiceOptions = {};

/** Sets the home's options for every service built from now on (the current ones are rebuilt on next use). */
export function configureServices(next: ServiceOptions): void {
  options = next;
  built = undefined;
}

/** The pool outlives an environment reset when its configuration is unchanged (tests reset env() often). */
let pool: { config: string; sql: Sql } | undefined;

/** The service connection pool for the current environment (bypasses RLS). Core and the job runner use it. */
export function servicePool(e: Env = env()): Sql {
  const config = `${e.DATABASE_URL} ${e.DATABASE_POOL_MAX}`;
  if (pool?.config !== config) {
    const previous = pool;
    pool = { config, sql: createSql(e) };
    if (previous) void previous.sql.end({ timeout: 5 }).catch(() => {});
  }
  return pool.sql;
}

/**
 * The RLS-bypassing handle, for the request pipeline (routes that declare `service: true`, API-key verification) and
 * the job runner only. Feature modules never import this: they receive a `ServiceDb` as a parameter.
 */
export function serviceDb(): ServiceDb {
  return (fn) => runService(servicePool(), fn);
}

/** Ends the pool (the local home at shutdown, scripts). */
export async function closeServices(): Promise<void> {
  // API usage counted in this process but not yet written goes out while the pool is still open.
  await flushApiUsage();
  const p = pool;
  pool = undefined;
  built = undefined;
  if (p) await p.sql.end({ timeout: 5 });
}

function lazy<T>(create: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    if (!value) {
      const created = create();
      value = created;
      created.catch(() => {
        if (value === created) value = undefined;
      });
    }
    return value;
  };
}

function build(e: Env): Services {
  // Read on first use, so a malformed RATE_LIMIT_OVERRIDES fails the requests that count, not every route.
  let resolved: Record<RateLimitPolicyName, RateLimitPolicy> | undefined;
  const policy = (name: RateLimitPolicyName) => (resolved ??= resolvePolicies(e.RATE_LIMIT_OVERRIDES))[name];
  const limiterPort = lazy(() => createLimiter(e, () => servicePool(e)));
  const limit = async (name: RateLimitPolicyName, identifier: string, cost = 1) =>
    (await limiterPort()).limit(policy(name), identifier, cost);
  const storage = lazy(() => loadMediaStorage(e));
  let jwks: JWTVerifyGetKey | undefined;
  const jwksUrl = e.SUPABASE_JWKS_URL ?? `${e.SUPABASE_URL.replace(/\/$/, "")}/auth/v1/.well-known/jwks.json`;
  return {
    env: e,
    db: { as: (claims, fn) => runAs(servicePool(e), claims, fn) },
    queue: createQueue(e),
    limiter: {
      backend: () => limiterBackend(e),
      policy,
      limit,
      async enforce(name, identifier, cost = 1) {
        const result = await limit(name, identifier, cost);
        if (!result.success) throw rateLimitedError(policy(name), result);
        return result;
      },
      port: limiterPort,
    },
    // Built with what the home configured for its adapters (`configurePlatforms`); each network's adapter module is
    // imported on its first use (src/platforms/registry.ts), so this costs nothing at start.
    platforms: createPlatformRegistry(e),
    storage,
    stripe: {
      // Imported on first use so that functions without billing never load stripe-node; one client per environment.
      client: lazy(async () => (await import("../billing/stripe-client.js")).createStripeClient(e)),
    },
    clock: options.clock ?? { now: () => currentClock().now() },
    log,
    mail: createMail(e, options.mail),
    accessTokenKeys: (header, token) => {
      jwks ??= createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      return jwks(header, token);
    },
  };
}

/** The services of the current environment, built on first use and again after the environment is reset. */
export function services(): Services {
  const e = env();
  if (built?.env !== e) built = { env: e, services: build(e) };
  return built.services;
}
