import { randomBytes, randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK, type KeyObject } from "jose";
import type postgres from "postgres";
import { z } from "zod";
import { dispatcher, json, Reply } from "./emulator.js";
import { isLoopbackOrigin, type FetchHandler } from "./server.js";

/**
 * A local emulation of the Supabase Auth (GoTrue) endpoints that @supabase/supabase-js v2 uses for email + password:
 * sign up (auto-confirmed), password and refresh-token grants, get and update user, sign out, password recovery by
 * mail (recover → verify with token_hash → update user), and the JWKS document. Users are
 * real rows in auth.users, so the triggers on that table fire exactly as on Supabase. Access tokens carry the same
 * claims as Supabase's and are signed with the local JWT secret (HS256) or an ES256 key published in the JWKS.
 */
export interface AuthEmulatorOptions {
  sql: postgres.Sql;
  jwtSecret: string;
  /** `iss` of access tokens: `<supabase url>/auth/v1`. */
  issuer: string;
  /** Keys accepted in the `apikey` header (the anon and service-role keys). */
  apiKeys: string[];
  signing: "HS256" | "ES256";
  accessTokenSeconds?: number;
  /** Where password-reset mails go (the local mailbox); without it a reset request is accepted and nothing is sent. */
  sendMail?: (message: { to: string; subject: string; text: string; html: string }) => Promise<unknown>;
  /** Where a reset link lands when the request names no `redirect_to` on a loopback origin (the app's URL). */
  siteUrl?: string;
}

const INSTANCE_ID = "00000000-0000-0000-0000-000000000000";
const MIN_PASSWORD_LENGTH = 6;

interface UserRow {
  id: string;
  aud: string;
  role: string;
  email: string;
  email_confirmed_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Record<string, unknown> | null;
  raw_user_meta_data: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
  is_anonymous: boolean;
}

function safeOrigin(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/** An error as GoTrue words it: `{ code, error_code, msg }` with the status repeated in `code`. */
function authError(status: number, errorCode: string, message: string): Reply {
  return new Reply(json(status, { code: status, error_code: errorCode, msg: message }));
}

/**
 * CORS for a browser page on another loopback origin (a front end on localhost:3000, say): its origin is reflected;
 * any other origin gets no CORS headers at all, never a wildcard (the dashboard itself is same-origin and needs none).
 */
function withCors(req: Request, res: Response): Response {
  res.headers.append("vary", "Origin");
  const origin = req.headers.get("origin");
  if (!isLoopbackOrigin(origin)) return res;
  res.headers.set("access-control-allow-origin", origin!);
  res.headers.set("access-control-allow-headers", "authorization, apikey, content-type, x-client-info, x-supabase-api-version");
  res.headers.set("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS");
  return res;
}

function userJson(u: UserRow) {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    id: u.id,
    aud: u.aud,
    role: u.role,
    email: u.email,
    email_confirmed_at: iso(u.email_confirmed_at),
    phone: "",
    confirmed_at: iso(u.email_confirmed_at),
    last_sign_in_at: iso(u.last_sign_in_at),
    app_metadata: u.raw_app_meta_data ?? {},
    user_metadata: u.raw_user_meta_data ?? {},
    // Every user here signed up with email + password, so each has exactly GoTrue's email identity. (An empty list is
    // GoTrue's obfuscated "this email already exists" reply, which clients check after signUp.)
    identities: [
      {
        identity_id: u.id,
        id: u.id,
        user_id: u.id,
        identity_data: { email: u.email, email_verified: u.email_confirmed_at !== null, phone_verified: false, sub: u.id },
        provider: "email",
        last_sign_in_at: iso(u.last_sign_in_at),
        created_at: u.created_at.toISOString(),
        updated_at: u.updated_at.toISOString(),
        email: u.email,
      },
    ],
    created_at: u.created_at.toISOString(),
    updated_at: u.updated_at.toISOString(),
    is_anonymous: u.is_anonymous,
  };
}

const credentialsSchema = z.object({
  email: z.string().trim().toLowerCase().email(),
  password: z.string(),
  data: z.record(z.string(), z.unknown()).optional(),
});

const userColumns = "id, aud, role, email, email_confirmed_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_anonymous";

export async function createAuthEmulator(options: AuthEmulatorOptions): Promise<FetchHandler> {
  const { sql } = options;
  const ttl = options.accessTokenSeconds ?? 3600;
  const hmacKey = new TextEncoder().encode(options.jwtSecret);
  let es256: { privateKey: KeyObject | CryptoKey; publicKey: KeyObject | CryptoKey; jwk: JWK } | undefined;
  if (options.signing === "ES256") {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: randomUUID(), alg: "ES256", use: "sig" };
    es256 = { privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
  }

  async function signAccessToken(user: UserRow, sessionId: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({
      email: user.email,
      phone: "",
      app_metadata: user.raw_app_meta_data ?? {},
      user_metadata: user.raw_user_meta_data ?? {},
      role: "authenticated",
      aal: "aal1",
      amr: [{ method: "password", timestamp: now }],
      session_id: sessionId,
      is_anonymous: false,
    })
      .setIssuer(options.issuer)
      .setSubject(user.id)
      .setAudience("authenticated")
      .setIssuedAt(now)
      .setExpirationTime(now + ttl);
    return es256
      ? jwt.setProtectedHeader({ alg: "ES256", kid: es256.jwk.kid, typ: "JWT" }).sign(es256.privateKey)
      : jwt.setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(hmacKey);
  }

  async function verifyAccessToken(token: string) {
    try {
      const { payload } = await jwtVerify(token, es256 ? es256.publicKey : hmacKey, { issuer: options.issuer });
      return payload;
    } catch (error) {
      throw authError(403, "bad_jwt", `invalid JWT: unable to parse or verify signature, ${(error as Error).message}`);
    }
  }

  async function issueSession(user: UserRow, sessionId?: string, parent?: string) {
    const id = sessionId ?? randomUUID();
    const refreshToken = randomBytes(16).toString("base64url");
    await sql.begin(async (tx) => {
      if (!sessionId) {
        await tx`insert into auth.sessions (id, user_id, created_at, updated_at, aal) values (${id}, ${user.id}, now(), now(), 'aal1')`;
      } else {
        await tx`update auth.sessions set updated_at = now() where id = ${id}`;
      }
      await tx`insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
               values (${INSTANCE_ID}, ${refreshToken}, ${user.id}, false, now(), now(), ${parent ?? null}, ${id})`;
    });
    const accessToken = await signAccessToken(user, id);
    return {
      access_token: accessToken,
      token_type: "bearer",
      expires_in: ttl,
      expires_at: Math.floor(Date.now() / 1000) + ttl,
      refresh_token: refreshToken,
      user: userJson(user),
    };
  }

  async function readJson(req: Request): Promise<unknown> {
    try {
      return await req.json();
    } catch {
      throw authError(400, "bad_json", "Could not parse request body as JSON");
    }
  }

  async function parseCredentials(req: Request) {
    const parsed = credentialsSchema.safeParse(await readJson(req));
    if (!parsed.success) {
      const emailIssue = parsed.error.issues.some((i) => i.path[0] === "email");
      throw authError(400, "validation_failed", emailIssue ? "Unable to validate email address: invalid format" : "Password is required");
    }
    return parsed.data;
  }

  async function signUp(req: Request): Promise<Response> {
    const { email, password, data } = await parseCredentials(req);
    if (password.length < MIN_PASSWORD_LENGTH) {
      return json(422, {
        code: 422,
        error_code: "weak_password",
        msg: `Password should be at least ${MIN_PASSWORD_LENGTH} characters.`,
        weak_password: { reasons: ["length"] },
      });
    }
    const appMeta = { provider: "email", providers: ["email"] };
    let user: UserRow | undefined;
    try {
      [user] = await sql<UserRow[]>`
        insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, confirmed_at,
                                last_sign_in_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_anonymous)
        values (${INSTANCE_ID}, ${randomUUID()}, 'authenticated', 'authenticated', ${email},
                extensions.crypt(${password}, extensions.gen_salt('bf', 8)), now(), now(), now(),
                ${sql.json(appMeta)}, ${sql.json((data ?? {}) as postgres.JSONValue)}, now(), now(), false)
        returning ${sql.unsafe(userColumns)}`;
    } catch (error) {
      if ((error as { code?: string }).code === "23505") throw authError(422, "user_already_exists", "User already registered");
      throw error;
    }
    return json(200, await issueSession(user!));
  }

  async function passwordGrant(req: Request): Promise<Response> {
    const { email, password } = await parseCredentials(req);
    const [user] = await sql<UserRow[]>`
      update auth.users set last_sign_in_at = now(), updated_at = now()
      where email = ${email} and deleted_at is null
        and encrypted_password = extensions.crypt(${password}, encrypted_password)
      returning ${sql.unsafe(userColumns)}`;
    if (!user) throw authError(400, "invalid_credentials", "Invalid login credentials");
    return json(200, await issueSession(user));
  }

  async function refreshGrant(req: Request): Promise<Response> {
    const body = (await readJson(req)) as { refresh_token?: unknown };
    if (typeof body?.refresh_token !== "string" || !body.refresh_token) {
      throw authError(400, "validation_failed", "refresh_token required");
    }
    const [row] = await sql<{ user_id: string; session_id: string }[]>`
      update auth.refresh_tokens set revoked = true, updated_at = now()
      where token = ${body.refresh_token} and revoked = false
      returning user_id, session_id`;
    if (!row) throw authError(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
    const [user] = await sql<UserRow[]>`select ${sql.unsafe(userColumns)} from auth.users where id = ${row.user_id}`;
    if (!user) throw authError(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
    return json(200, await issueSession(user, row.session_id, body.refresh_token));
  }

  async function bearerUser(req: Request) {
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
    if (!token) throw authError(401, "no_authorization", "This endpoint requires a Bearer token");
    const claims = await verifyAccessToken(token);
    const [session] = await sql`select id from auth.sessions where id = ${String(claims.session_id ?? "")}::uuid`.catch(() => []);
    if (!session) throw authError(403, "session_not_found", "Session from session_id claim in JWT does not exist");
    const [user] = await sql<UserRow[]>`select ${sql.unsafe(userColumns)} from auth.users where id = ${String(claims.sub)}`;
    if (!user) throw authError(403, "user_not_found", "User from sub claim in JWT does not exist");
    return { user, sessionId: String(claims.session_id) };
  }

  // Password recovery as GoTrue's email-template flow with `token_hash`: POST /recover mails a link to
  // `<redirect_to>?token_hash=…&type=recovery`; the page exchanges it once (POST /verify) for a session, then sets the
  // new password (PUT /user). The link carries a one-time recovery token, never a session. Kept in memory for an hour.
  const recoveries = new Map<string, { userId: string; expiresAt: number }>();
  const RECOVERY_MS = 3600_000;

  async function recover(req: Request): Promise<Response> {
    const body = (await readJson(req)) as { email?: unknown };
    const email = typeof body?.email === "string" ? body.email.trim().toLowerCase() : "";
    if (!email) throw authError(400, "validation_failed", "Unable to validate email address: invalid format");
    const [user] = await sql<UserRow[]>`select ${sql.unsafe(userColumns)} from auth.users where email = ${email} and deleted_at is null`;
    // As GoTrue: the same answer whether or not the address has an account.
    if (!user || !options.sendMail) return json(200, {});
    const requested = new URL(req.url).searchParams.get("redirect_to");
    const target = new URL(requested && isLoopbackOrigin(safeOrigin(requested)) ? requested : (options.siteUrl ?? new URL(options.issuer).origin));
    const tokenHash = randomBytes(28).toString("hex");
    recoveries.set(tokenHash, { userId: user.id, expiresAt: Date.now() + RECOVERY_MS });
    target.searchParams.set("token_hash", tokenHash);
    target.searchParams.set("type", "recovery");
    const link = target.toString();
    await options.sendMail({
      to: user.email,
      subject: "Reset your Amplify Scheduler password",
      text: `Someone asked to reset the password of this account. To choose a new password, open:\n\n${link}\n\nThe link works once, for an hour. If it was not you, ignore this mail.`,
      html: `<p>Someone asked to reset the password of this account.</p><p><a href="${link.replace(/&/g, "&amp;")}">Choose a new password</a> (works once, for an hour).</p><p>If it was not you, ignore this mail.</p>`,
    });
    return json(200, {});
  }

  async function verify(req: Request): Promise<Response> {
    const body = (await readJson(req)) as { type?: unknown; token_hash?: unknown };
    if (body?.type !== "recovery" || typeof body.token_hash !== "string") {
      throw authError(400, "validation_failed", "Only type=recovery with a token_hash is emulated locally");
    }
    const found = recoveries.get(body.token_hash);
    recoveries.delete(body.token_hash);
    if (!found || found.expiresAt < Date.now()) throw authError(403, "otp_expired", "Email link is invalid or has expired");
    const [user] = await sql<UserRow[]>`
      update auth.users set last_sign_in_at = now(), updated_at = now() where id = ${found.userId}
      returning ${sql.unsafe(userColumns)}`;
    if (!user) throw authError(403, "otp_expired", "Email link is invalid or has expired");
    return json(200, await issueSession(user));
  }

  async function updateUser(req: Request): Promise<Response> {
    const { user } = await bearerUser(req);
    const body = (await readJson(req)) as { password?: unknown; data?: unknown };
    if (body?.password !== undefined) {
      if (typeof body.password !== "string" || body.password.length < MIN_PASSWORD_LENGTH) {
        return json(422, { code: 422, error_code: "weak_password", msg: `Password should be at least ${MIN_PASSWORD_LENGTH} characters.`, weak_password: { reasons: ["length"] } });
      }
      await sql`update auth.users set encrypted_password = extensions.crypt(${body.password}, extensions.gen_salt('bf', 8)), updated_at = now() where id = ${user.id}`;
    }
    if (body?.data && typeof body.data === "object") {
      await sql`update auth.users set raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || ${sql.json(body.data as postgres.JSONValue)}, updated_at = now() where id = ${user.id}`;
    }
    const [fresh] = await sql<UserRow[]>`select ${sql.unsafe(userColumns)} from auth.users where id = ${user.id}`;
    return json(200, userJson(fresh!));
  }

  async function logout(req: Request): Promise<Response> {
    const { user, sessionId } = await bearerUser(req);
    const scope = new URL(req.url).searchParams.get("scope") ?? "global";
    if (scope === "local") await sql`delete from auth.sessions where id = ${sessionId}`;
    else if (scope === "others") await sql`delete from auth.sessions where user_id = ${user.id} and id <> ${sessionId}`;
    else await sql`delete from auth.sessions where user_id = ${user.id}`;
    return json(204, null);
  }

  const routes = dispatcher("auth emulator", {
    "GET /.well-known/jwks.json": () => json(200, { keys: es256 ? [es256.jwk] : [] }),
    "GET /health": () => json(200, { name: "GoTrue (local emulator)", description: "Amplify Scheduler local home" }),
    "POST /signup": (req) => signUp(req),
    "POST /token": (req) => {
      const grant = new URL(req.url).searchParams.get("grant_type");
      if (grant === "password") return passwordGrant(req);
      if (grant === "refresh_token") return refreshGrant(req);
      throw authError(400, "unsupported_grant_type", "unsupported_grant_type");
    },
    "GET /user": async (req) => json(200, userJson((await bearerUser(req)).user)),
    "PUT /user": (req) => updateUser(req),
    "POST /recover": (req) => recover(req),
    "POST /verify": (req) => verify(req),
    "POST /logout": (req) => logout(req),
  }, {
    notFound: (method, path) => json(404, { code: 404, error_code: "not_found", msg: `${method} ${path} is not emulated locally` }),
    methodNotAllowed: (method, path) => json(405, { code: 405, error_code: "method_not_allowed", msg: `${method} ${path} is not allowed` }),
    internal: () => json(500, { code: 500, error_code: "unexpected_failure", msg: "Unexpected failure" }),
  });
  /** Paths served without an `apikey` (as behind Supabase's gateway); everything else needs one of the keys. */
  const keyless = new Set(["/.well-known/jwks.json", "/health"]);

  async function answer(req: Request): Promise<Response> {
    if (req.method === "OPTIONS") return new Response(null, { status: 204 });
    const path = new URL(req.url).pathname.replace(/^\/auth\/v1/, "").replace(/\/$/, "") || "/";
    if (!keyless.has(path)) {
      const apikey = req.headers.get("apikey");
      if (!apikey) return json(401, { message: "No API key found in request" });
      if (!options.apiKeys.includes(apikey)) return json(401, { message: "Invalid API key" });
    }
    return routes(req, path, undefined);
  }

  return async function authEmulator(req: Request): Promise<Response> {
    return withCors(req, await answer(req));
  };
}
