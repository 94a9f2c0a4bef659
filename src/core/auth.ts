import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import { effectivePlan, isPaidActive, type PlanId } from "../billing/plans.js";
import { sha256Hex } from "./crypto.js";
import { sql, type Claims } from "./db.js";
import { env } from "./env.js";
import { AppError } from "./errors.js";

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
    }
  | { kind: "session"; userId: string; email?: string; claims: Claims };

/** Which callers a route admits: nobody needs to be known, browser sessions only, or either kind. */
export type AuthMode = "none" | "session" | "any";

export const API_KEY_HEADER = "X-API-Key";
export const API_KEY_PREFIX = "ak_";
const apiKeyPattern = /^ak_[A-Za-z0-9_-]{43,128}$/;

/** Step 1 of the pipeline: establish the caller, or refuse with 401 (403 when the kind of credential is wrong). */
export async function authenticate(req: Request, mode: AuthMode): Promise<Caller | null> {
  if (mode === "none") return null;
  const apiKey = req.headers.get(API_KEY_HEADER);
  const authorization = req.headers.get("authorization");
  if (apiKey !== null) {
    if (mode === "session") {
      throw new AppError("forbidden", "This endpoint is for the signed-in dashboard; API keys cannot use it");
    }
    return verifyApiKey(apiKey.trim());
  }
  if (authorization !== null) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match?.[1]) throw new AppError("invalid_token", "Authorization header must be 'Bearer <access token>'");
    return verifyAccessToken(match[1]);
  }
  throw new AppError(
    "unauthorized",
    mode === "session"
      ? "Sign in required: send a Supabase access token in 'Authorization: Bearer'"
      : `Missing credentials: send your API key in the ${API_KEY_HEADER} header`,
  );
}

interface KeyRow {
  id: string;
  user_id: string;
  profile_id: string;
  status: string;
  billing_status: string | null;
  plan: string | null;
}

/**
 * Looks the key up by its SHA-256 hash with the service connection (the caller is not known yet) in one round trip
 * that also refreshes `last_used_at`, at most once a minute, so a busy key does not write on every request.
 */
export async function verifyApiKey(key: string): Promise<Caller> {
  if (!apiKeyPattern.test(key)) throw new AppError("invalid_api_key", "Malformed API key");
  const [row] = await sql()<KeyRow[]>`
    with k as (
      select k.id, k.user_id, k.profile_id, k.status, b.status as billing_status, b.plan
      from public.api_keys k
      left join public.billing_subscriptions b on b.user_id = k.user_id
      where k.key_hash = ${sha256Hex(key)}
    ), touched as (
      update public.api_keys set last_used_at = now()
      where id = (select id from k where status = 'active')
        and (last_used_at is null or last_used_at < now() - interval '60 seconds')
      returning id
    )
    select * from k`;
  if (!row) throw new AppError("invalid_api_key", "Invalid API key");
  if (row.status !== "active") throw new AppError("invalid_api_key", "This API key has been revoked");
  const status = row.billing_status ?? "free";
  const plan = row.plan ?? "free";
  return {
    kind: "apiKey",
    userId: row.user_id,
    profileId: row.profile_id,
    keyId: row.id,
    plan: effectivePlan(status, plan),
    paidActive: isPaidActive(status, plan),
    claims: { sub: row.user_id, role: "authenticated", profile_id: row.profile_id, api_key_id: row.id },
  };
}

let jwks: { url: string; set: ReturnType<typeof createRemoteJWKSet> } | undefined;

function remoteJwks() {
  const url = env().SUPABASE_JWKS_URL ?? `${env().SUPABASE_URL.replace(/\/$/, "")}/auth/v1/.well-known/jwks.json`;
  if (jwks?.url !== url) jwks = { url, set: createRemoteJWKSet(new URL(url), { timeoutDuration: 5000, cooldownDuration: 30_000 }) };
  return jwks.set;
}

/**
 * Verifies a Supabase access token: HS256 with the project's JWT secret, or any asymmetric algorithm through the
 * project's JWKS (keys cached, refetched on an unknown `kid`). Only `authenticated` user tokens are accepted.
 */
export async function verifyAccessToken(token: string): Promise<Caller> {
  let payload: JWTPayload;
  try {
    const { alg } = decodeProtectedHeader(token);
    const options = { audience: "authenticated", clockTolerance: 30 };
    if (alg === "HS256") {
      const secret = env().SUPABASE_JWT_SECRET;
      if (!secret) throw new Error("HS256 tokens are not accepted: no SUPABASE_JWT_SECRET configured");
      ({ payload } = await jwtVerify(token, new TextEncoder().encode(secret), { ...options, algorithms: ["HS256"] }));
    } else {
      ({ payload } = await jwtVerify(token, remoteJwks(), { ...options, algorithms: ["ES256", "RS256", "EdDSA"] }));
    }
  } catch {
    throw new AppError("invalid_token", "Invalid or expired access token");
  }
  if (payload.role !== "authenticated" || typeof payload.sub !== "string" || !payload.sub) {
    throw new AppError("invalid_token", "Access token is not a signed-in user's token");
  }
  const email = typeof payload.email === "string" ? payload.email : undefined;
  return {
    kind: "session",
    userId: payload.sub,
    email,
    claims: { sub: payload.sub, role: "authenticated", email, session_id: payload.session_id },
  };
}

/** Step 2: an API key whose owner has no active paid subscription answers 402 (contract: "Billing Requirement"). */
export function billingGate(caller: Caller | null): void {
  if (caller?.kind === "apiKey" && !caller.paidActive) {
    throw new AppError(
      "subscription_required",
      "API access needs an active paid subscription; upgrade in the dashboard to use this key",
    );
  }
}
