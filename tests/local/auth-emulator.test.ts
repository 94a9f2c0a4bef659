import { randomBytes, randomUUID } from "node:crypto";
import { AuthApiError, AuthSessionMissingError, AuthWeakPasswordError, type SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { useTestHome, type CallResult } from "../helpers/home.js";
import { supabaseClient } from "../helpers/supabase.js";

/**
 * The local Supabase Auth emulator, driven through the front door: @supabase/supabase-js v2 itself against the
 * local home listening on a real port, and the access tokens it obtains presented to our API over HTTP.
 */
const t = useTestHome({ port: 0 });

const PASSWORD = "correct horse battery";
const newEmail = () => `auth-${randomBytes(5).toString("hex")}@example.com`;

function client(): SupabaseClient {
  return supabaseClient(t.home.url, t.home.anonKey);
}

const listProfiles = (token: string) => t.http("/api/v1/profiles", { headers: { authorization: `Bearer ${token}` } });

async function signUpWithClient(email = newEmail()) {
  const supabase = client();
  const { data, error } = await supabase.auth.signUp({ email, password: PASSWORD });
  expect(error).toBeNull();
  expect(data.session).not.toBeNull();
  return { supabase, email, session: data.session!, user: data.user! };
}

/** Asserts the API's 401 error envelope for a rejected access token. */
function expectInvalidToken(res: CallResult) {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ success: false, error: expect.any(String), code: "invalid_token", requestId: expect.any(String) });
  expect(res.headers.get("x-request-id")).toBe(res.body.requestId);
}

/** Changes one character in the middle of the signature (the last one may only carry padding bits). */
function tamperSignature(token: string): string {
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const i = Math.floor(signature.length / 2);
  const flipped = signature[i] === "A" ? "B" : "A";
  return `${header}.${payload}.${signature.slice(0, i)}${flipped}${signature.slice(i + 1)}`;
}

function hs256(claims: Record<string, unknown>, secret: string, exp: number) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(`${t.home.url}/auth/v1`)
    .setAudience("authenticated")
    .setIssuedAt(Math.min(now, exp - 60))
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
}

describe("auth emulator: supabase-js sessions", () => {
  it("signs up (auto-confirmed), writing auth.users and a free billing row through the trigger", async () => {
    const email = newEmail();
    const { session, user } = await signUpWithClient(email);
    expect(session.access_token).toEqual(expect.any(String));
    expect(session.refresh_token).toEqual(expect.any(String));
    expect(session.token_type).toBe("bearer");
    expect(session.user.id).toBe(user.id);
    expect(user.email).toBe(email);
    expect(user.email_confirmed_at).toEqual(expect.any(String));
    expect(decodeProtectedHeader(session.access_token).alg).toBe("HS256");
    // A new user has its email identity: an empty `identities` is GoTrue's signal for "this email already exists"
    // (the obfuscated reply), which clients check after signUp().
    expect(user.identities).toEqual([
      expect.objectContaining({ provider: "email", user_id: user.id, identity_data: expect.objectContaining({ email, sub: user.id }) }),
    ]);

    const [row] = await t.sql`
      select email, aud, role, encrypted_password, email_confirmed_at, raw_app_meta_data
      from auth.users where id = ${user.id}`;
    expect(row).toMatchObject({ email, aud: "authenticated", role: "authenticated", raw_app_meta_data: { provider: "email" } });
    expect(row!.email_confirmed_at).toBeInstanceOf(Date);
    expect(row!.encrypted_password).toMatch(/^\$2[aby]\$/);
    expect(row!.encrypted_password).not.toContain(PASSWORD);

    const billing = await t.sql`select status, plan from public.billing_subscriptions where user_id = ${user.id}`;
    expect(billing).toEqual([{ status: "free", plan: "free" }]);
  });

  it("keeps sign-up metadata as user_metadata, in the user and in the access token's claims", async () => {
    const { data, error } = await client().auth.signUp({ email: newEmail(), password: PASSWORD, options: { data: { full_name: "Ada" } } });
    expect(error).toBeNull();
    expect(data.user?.user_metadata).toEqual({ full_name: "Ada" });
    expect(decodeJwt(data.session!.access_token)).toMatchObject({
      sub: data.user!.id,
      role: "authenticated",
      aud: "authenticated",
      iss: `${t.home.url}/auth/v1`,
      user_metadata: { full_name: "Ada" },
      session_id: expect.any(String),
    });
  });

  it("signs in with a password and getUser() returns the user", async () => {
    const { email, user } = await signUpWithClient();
    const supabase = client();
    const signedIn = await supabase.auth.signInWithPassword({ email, password: PASSWORD });
    expect(signedIn.error).toBeNull();
    expect(signedIn.data.user?.id).toBe(user.id);
    expect(signedIn.data.session?.access_token).toEqual(expect.any(String));

    const got = await supabase.auth.getUser();
    expect(got.error).toBeNull();
    expect(got.data.user).toMatchObject({ id: user.id, email, aud: "authenticated", role: "authenticated" });

    // Emails are matched case-insensitively, as GoTrue stores them lowercased.
    const shouting = await client().auth.signInWithPassword({ email: email.toUpperCase(), password: PASSWORD });
    expect(shouting.error).toBeNull();
    expect(shouting.data.user?.id).toBe(user.id);

    // Each sign-in is its own session.
    const sessions = await t.sql`select id from auth.sessions where user_id = ${user.id}`;
    expect(sessions).toHaveLength(3);
  });

  it("refreshSession() rotates the tokens; the old refresh token no longer works", async () => {
    const { supabase, session, user } = await signUpWithClient();
    // Tokens issued within the same second would carry the same iat/exp; wait so the new access token differs.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const refreshed = await supabase.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    const next = refreshed.data.session!;
    expect(next.refresh_token).not.toBe(session.refresh_token);
    expect(next.access_token).not.toBe(session.access_token);
    expect(next.user.id).toBe(user.id);
    expect((await listProfiles(next.access_token)).status).toBe(200);

    const reused = await client().auth.refreshSession({ refresh_token: session.refresh_token });
    expect(reused.data.session).toBeNull();
    expect(reused.error).toBeInstanceOf(AuthApiError);
    expect(reused.error).toMatchObject({ status: 400, code: "refresh_token_not_found" });

    // The rotated token still works.
    const again = await client().auth.refreshSession({ refresh_token: next.refresh_token });
    expect(again.error).toBeNull();
  });

  it("signOut() ends the session: the refresh token is rejected and getUser with the old token fails", async () => {
    const { supabase, session, user } = await signUpWithClient();
    expect(await t.sql`select 1 from auth.sessions where user_id = ${user.id}`).toHaveLength(1);

    const out = await supabase.auth.signOut();
    expect(out.error).toBeNull();
    // supabase-js swallows 401/403 from /logout, so check the server really ended the session.
    expect(await t.sql`select 1 from auth.sessions where user_id = ${user.id}`).toHaveLength(0);
    expect((await supabase.auth.getSession()).data.session).toBeNull();

    const refreshed = await client().auth.refreshSession({ refresh_token: session.refresh_token });
    expect(refreshed.data.session).toBeNull();
    expect(refreshed.error).toBeInstanceOf(AuthApiError);
    expect(refreshed.error).toMatchObject({ status: 400, code: "refresh_token_not_found" });

    const got = await client().auth.getUser(session.access_token);
    expect(got.data.user).toBeNull();
    expect(got.error).toBeInstanceOf(AuthSessionMissingError);

    // The raw answer behind it: GoTrue's 403 session_not_found.
    const raw = await t.http("/auth/v1/user", { headers: { apikey: t.home.anonKey, authorization: `Bearer ${session.access_token}` } });
    expect(raw.status).toBe(403);
    expect(raw.body).toMatchObject({ error_code: "session_not_found" });
  });
});

describe("auth emulator: error paths as supabase-js surfaces them", () => {
  it("an unknown path is 404 and a known path under another method 405 with Allow, in GoTrue's error shape", async () => {
    const apikey = { apikey: t.home.anonKey };
    const missing = await t.http("/auth/v1/factors", { headers: apikey });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 404, error_code: "not_found" });
    const wrong = await t.http("/auth/v1/signup", { headers: apikey });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
    expect(wrong.body).toMatchObject({ code: 405, error_code: "method_not_allowed" });
    // The API key is checked first, as Supabase's gateway does.
    expect((await t.http("/auth/v1/factors")).status).toBe(401);
  });

  it("wrong password → AuthApiError invalid_credentials (400)", async () => {
    const { email } = await signUpWithClient();
    const { data, error } = await client().auth.signInWithPassword({ email, password: "not the password" });
    expect(data.session).toBeNull();
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error).toMatchObject({ status: 400, code: "invalid_credentials" });
  });

  it("unknown email → invalid_credentials (400), not a different answer", async () => {
    const { error } = await client().auth.signInWithPassword({ email: newEmail(), password: PASSWORD });
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error).toMatchObject({ status: 400, code: "invalid_credentials" });
  });

  it("duplicate sign-up → user_already_exists (422), and no second row", async () => {
    const { email } = await signUpWithClient();
    const { data, error } = await client().auth.signUp({ email, password: PASSWORD });
    expect(data.session).toBeNull();
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error).toMatchObject({ status: 422, code: "user_already_exists" });
    // Emails are case-insensitive.
    const upper = await client().auth.signUp({ email: email.toUpperCase(), password: PASSWORD });
    expect(upper.error).toMatchObject({ status: 422, code: "user_already_exists" });
    expect(await t.sql`select 1 from auth.users where email = ${email}`).toHaveLength(1);
  });

  it("short password → weak_password (422), nothing written", async () => {
    const email = newEmail();
    const { data, error } = await client().auth.signUp({ email, password: "12345" });
    expect(data.session).toBeNull();
    expect(error).toBeInstanceOf(AuthWeakPasswordError);
    expect(error).toMatchObject({ status: 422, code: "weak_password", reasons: ["length"] });
    expect(await t.sql`select 1 from auth.users where email = ${email}`).toHaveLength(0);
  });

  it("malformed email → 400", async () => {
    const { data, error } = await client().auth.signUp({ email: "not-an-email", password: PASSWORD });
    expect(data.session).toBeNull();
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error).toMatchObject({ status: 400, code: "validation_failed" });
  });

  it("a request without an apikey header, or with a wrong one, is refused with 401", async () => {
    const body = JSON.stringify({ email: newEmail(), password: PASSWORD });
    const json = { "content-type": "application/json" };
    const missing = await t.http("/auth/v1/signup", { method: "POST", headers: json, body });
    expect(missing.status).toBe(401);
    const wrong = await t.http("/auth/v1/signup", { method: "POST", headers: { ...json, apikey: "not-the-anon-key" }, body });
    expect(wrong.status).toBe(401);
    // A key signed with another project's secret is just as wrong.
    const foreign = await hs256({ role: "anon" }, randomBytes(32).toString("hex"), Math.floor(Date.now() / 1000) + 3600);
    expect((await t.http("/auth/v1/signup", { method: "POST", headers: { ...json, apikey: foreign }, body })).status).toBe(401);
    const user = await t.http("/auth/v1/user", { headers: { authorization: `Bearer ${t.home.anonKey}` } });
    expect(user.status).toBe(401);
    expect(await t.sql`select 1 from auth.users where email = ${JSON.parse(body).email}`).toHaveLength(0);

    // supabase-js built with a wrong key surfaces the gateway's 401 as an AuthApiError.
    const badClient = supabaseClient(t.home.url, "not-the-anon-key");
    const { error } = await badClient.auth.signInWithPassword({ email: newEmail(), password: PASSWORD });
    expect(error).toBeInstanceOf(AuthApiError);
    expect(error?.status).toBe(401);
  });

  it("publishes an empty JWKS when tokens are HS256 (no apikey needed)", async () => {
    const res = await t.http("/auth/v1/.well-known/jwks.json");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ keys: [] });
  });
});

describe("our API accepts the access token supabase-js obtained, and nothing else", () => {
  it("GET /api/v1/profiles with the session's access token → 200", async () => {
    const { session } = await signUpWithClient();
    const res = await listProfiles(session.access_token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ profiles: [], nextCursor: null });
  });

  it("a tampered token → 401 invalid_token", async () => {
    const { session } = await signUpWithClient();
    expectInvalidToken(await listProfiles(tamperSignature(session.access_token)));
  });

  it("an expired token signed with the home's own secret → 401 invalid_token", async () => {
    const { user } = await signUpWithClient();
    const past = Math.floor(Date.now() / 1000) - 600;
    const claims = { sub: user.id, role: "authenticated", email: user.email, session_id: randomUUID() };
    const expired = await hs256(claims, t.home.secrets.jwtSecret, past);
    expectInvalidToken(await listProfiles(expired));
    // The same claims, not expired, are accepted: only the expiry differs.
    const fresh = await hs256(claims, t.home.secrets.jwtSecret, Math.floor(Date.now() / 1000) + 600);
    expect((await listProfiles(fresh)).status).toBe(200);
  });

  it("a token with role anon (the anon key itself) → 401 invalid_token", async () => {
    expectInvalidToken(await listProfiles(t.home.anonKey));
    // Even with the right audience and a subject, role anon is not a signed-in user.
    const { user } = await signUpWithClient();
    const anon = await hs256({ sub: user.id, role: "anon" }, t.home.secrets.jwtSecret, Math.floor(Date.now() / 1000) + 600);
    expectInvalidToken(await listProfiles(anon));
  });

  it("a token signed with another secret → 401 invalid_token", async () => {
    const { user } = await signUpWithClient();
    const claims = { sub: user.id, role: "authenticated", email: user.email };
    const forged = await hs256(claims, randomBytes(32).toString("hex"), Math.floor(Date.now() / 1000) + 600);
    expectInvalidToken(await listProfiles(forged));
  });
});

describe("GET /api/config", () => {
  it("returns the Supabase URL and anon key with no credentials", async () => {
    const res = await t.http("/api/config");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ supabaseUrl: t.home.url, supabaseAnonKey: t.home.anonKey });
    expect(res.headers.get("x-request-id")).toEqual(expect.any(String));
  });
});
