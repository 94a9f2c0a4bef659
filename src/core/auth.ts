import { decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import { effectivePlan, isPaidActive, type PlanId } from "./plans.js";
import { sha256Hex } from "./crypto.js";
import { env } from "./env.js";
import { AppError } from "./errors.js";
import { literal, readInOneMessage, type Claims } from "./pg.js";
import { meteringOf, type ApiRequestMetering, type MeteringColumns } from "./ratelimit/metering.js";
import { bucketOf } from "./ratelimit/postgres.js";
import { servicePool, services, type Services } from "./services.js";

/** Who is calling: a profile-scoped API key, or a browser session carrying a Supabase access token. */
export type Caller =
  | {
      kind: "apiKey";
      userId: string;
      profileId: string;
      keyId: string;
      plan: PlanId;
      paidActive: boolean;
      claims: Claims;
      /** What the key lookup read (and, on the Postgres limiter, counted) for the rate limit and the monthly quota. */
      metering?: ApiRequestMetering;
    }
  | { kind: "session"; userId: string; email?: string; claims: Claims };

/** Which callers a route admits: nobody needs to be known, browser sessions only, or either kind. */
export type AuthMode = "none" | "session" | "any";

export const API_KEY_HEADER = "X-API-Key";
export const API_KEY_PREFIX = "ak_";
const apiKeyPattern = /^ak_[A-Za-z0-9_-]{43,128}$/;

/** The pipeline's first step: establish the caller, or refuse with 401 (403 when the kind of credential is wrong). */
export async function authenticate(req: Request, mode: AuthMode, s: Services = services()): Promise<Caller | null> {
  if (mode === "none") return null;
  const apiKey = req.headers.get(API_KEY_HEADER);
  const authorization = req.headers.get("authorization");
  if (apiKey !== null) {
    if (mode === "session") {
      throw new AppError("forbidden", "This endpoint is for the signed-in dashboard; API keys cannot use it");
    }
    return verifyApiKey(apiKey.trim(), s);
  }
  if (authorization !== null) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match?.[1]) throw new AppError("invalid_token", "Authorization header must be 'Bearer <access token>'");
    return verifyAccessToken(match[1], {}, s);
  }
  throw new AppError(
    "unauthorized",
    mode === "session"
      ? "Sign in required: send a Supabase access token in 'Authorization: Bearer'"
      : `Missing credentials: send your API key in the ${API_KEY_HEADER} header`,
  );
}

interface KeyRow extends MeteringColumns {
  id: string;
  user_id: string;
  profile_id: string;
  status: string;
  /** Whether the key's creator is still an active member of the key's profile. */
  member: boolean;
  billing_status: string | null;
  plan: string | null;
}

/**
 * Looks the key up by its SHA-256 hash with the service connection (the caller is not known yet) in one call that
 * also checks the key's creator is still an active member of the key's profile (a removed member's key answers
 * 401 and is neither touched nor metered: it never spends the profile's or the owner's budget; a revoked key is seen
 * on the very next request, since nothing about keys is cached), reads the owner's subscription and this billing
 * month's API request counter, and refreshes `last_used_at` (at most once a minute, so a busy key does not write on
 * every request). Only where the rate limit is counted in Postgres (no Upstash, not the local home) does the same
 * call also count the request against the key's window (one upsert of the key's own row).
 *
 * Nothing here writes the owner's monthly counter: the pipeline's `limitApiRequest` step decides the rate limit
 * (Upstash, in-process, or the count above) and then counts the request in this process's batch
 * (src/core/ratelimit/api-usage.ts), from the counter read here.
 */
export async function verifyApiKey(key: string, s: Services = services()): Promise<Caller> {
  const [row] = await servicePool(s.env).unsafe<KeyRow[]>(keyLookupSql(key, s));
  return callerOfKeyRow(row, s);
}

/**
 * The key lookup's one statement: a call of public.verify_api_key (migration 20261206090000), a PL/pgSQL function, so
 * Postgres plans the lookup once per connection rather than on every request (the pooler allows no prepared
 * statements). Written without parameters, so it costs one round trip, not two (`literal` in src/core/pg.ts): a hex
 * digest, our own bucket name and an integer. A malformed key is refused before anything is sent.
 */
function keyLookupSql(key: string, s: Services): string {
  if (!apiKeyPattern.test(key)) throw new AppError("invalid_api_key", "Malformed API key");
  const rate = s.limiter.policy("api_requests");
  const foldRateLimit = s.limiter.backend() === "postgres";
  return `select * from public.verify_api_key(${literal(sha256Hex(key))}, ${foldRateLimit ? literal(bucketOf(rate, "")) : "null"}::text,
                                              ${Math.trunc(rate.windowMs)}::bigint)`;
}

/** The caller a key's row makes, or the 401 it gets: unknown, revoked, or its creator no longer a member. */
function callerOfKeyRow(row: KeyRow | undefined, s: Services): Caller {
  if (!row) throw new AppError("invalid_api_key", "Invalid API key");
  if (row.status !== "active") throw new AppError("invalid_api_key", "This API key has been revoked");
  if (!row.member) {
    throw new AppError("invalid_api_key", "This API key's creator is no longer a member of its profile; the key no longer works");
  }
  const status = row.billing_status ?? "free";
  const plan = effectivePlan(status, row.plan ?? "free");
  const paidActive = isPaidActive(status, row.plan ?? "free");
  return {
    kind: "apiKey",
    userId: row.user_id,
    profileId: row.profile_id,
    keyId: row.id,
    plan,
    paidActive,
    claims: { sub: row.user_id, role: "authenticated", profile_id: row.profile_id, api_key_id: row.id },
    metering: meteringOf(row, plan, paidActive, s.limiter.policy("api_requests")),
  };
}

/**
 * An API-key request whose whole database work is one read the RLS policies scope (a route's `apiKeyRead`), in one round
 * trip: the key lookup, the caller's claims, the role and the read go to Postgres as one message, in one transaction
 * (`readInOneMessage` in src/core/pg.ts). The claims are those `callerOfKeyRow` gives, built in SQL from the row the
 * lookup returns, and set only for an active key of a current member; for any other key (or none) the read runs as
 * amplify_api with no claims, and the RLS policies show it nothing. The row then decides as `verifyApiKey`'s does
 * (the same 401s), and the rows are returned only with the caller they were read for. Nothing a read does outlives
 * its transaction, so reading before the key is known to be good gives nothing away.
 */
export async function readWithApiKey<R>(key: string, read: string, s: Services = services()): Promise<{ caller: Caller; rows: R[] }> {
  const lookup = `select k.*, set_config('request.jwt.claims',
      case when k.status = 'active' and k.member
           then json_build_object('sub', k.user_id, 'role', 'authenticated', 'profile_id', k.profile_id, 'api_key_id', k.id)::text
           else '' end, true) as claims_set
    from (${keyLookupSql(key, s)}) k`;
  const { setup, rows } = await readInOneMessage<KeyRow, R>(servicePool(s.env), lookup, read);
  return { caller: callerOfKeyRow(setup[0], s), rows };
}

/** The `iss` Supabase Auth puts in its access tokens: `<project URL>/auth/v1` (the local emulator does the same). */
export function expectedIssuer(supabaseUrl = env().SUPABASE_URL): string {
  return `${supabaseUrl.replace(/\/+$/, "")}/auth/v1`;
}

export interface AccessTokenOptions {
  /**
   * Admit tokens from anonymous sign-ins (`is_anonymous: true`). Off by default: an anonymous user has proven nothing
   * (no email, no password), so no route accepts one unless it says so.
   */
  allowAnonymous?: boolean;
}

/**
 * Verifies a Supabase access token: HS256 with the project's JWT secret, or any asymmetric algorithm through the
 * project's JWKS (keys cached, refetched on an unknown `kid`). Only `authenticated` user tokens of this project are
 * accepted: `aud` must be `authenticated`, `iss` must be `<SUPABASE_URL>/auth/v1`, `exp` must be present (and not
 * past), and anonymous sign-ins are refused unless `allowAnonymous` is set.
 */
export async function verifyAccessToken(token: string, options: AccessTokenOptions = {}, s: Services = services()): Promise<Caller> {
  let payload: JWTPayload;
  try {
    const { alg } = decodeProtectedHeader(token);
    const verify = { audience: "authenticated", issuer: expectedIssuer(s.env.SUPABASE_URL), requiredClaims: ["exp", "sub"], clockTolerance: 30 };
    if (alg === "HS256") {
      const secret = s.env.SUPABASE_JWT_SECRET;
      if (!secret) throw new Error("HS256 tokens are not accepted: no SUPABASE_JWT_SECRET configured");
      ({ payload } = await jwtVerify(token, new TextEncoder().encode(secret), { ...verify, algorithms: ["HS256"] }));
    } else {
      ({ payload } = await jwtVerify(token, s.accessTokenKeys, { ...verify, algorithms: ["ES256", "RS256", "EdDSA"] }));
    }
  } catch {
    throw new AppError("invalid_token", "Invalid or expired access token");
  }
  if (payload.role !== "authenticated" || typeof payload.sub !== "string" || !payload.sub) {
    throw new AppError("invalid_token", "Access token is not a signed-in user's token");
  }
  if (payload.is_anonymous === true && !options.allowAnonymous) {
    throw new AppError("invalid_token", "Anonymous sign-ins cannot use this API: sign in with an account");
  }
  const email = typeof payload.email === "string" ? payload.email : undefined;
  return {
    kind: "session",
    userId: payload.sub,
    email,
    claims: { sub: payload.sub, role: "authenticated", email, session_id: payload.session_id },
  };
}

/** The billing gate: an API key whose owner has no active paid subscription answers 402: API access is a paid feature. */
export function billingGate(caller: Caller | null): void {
  if (caller?.kind === "apiKey" && !caller.paidActive) {
    throw new AppError(
      "subscription_required",
      "API access needs an active paid subscription; upgrade in the dashboard to use this key",
    );
  }
}
