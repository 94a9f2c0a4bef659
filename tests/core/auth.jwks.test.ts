import { randomBytes, randomUUID } from "node:crypto";
import type { SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { useTestHome, type CallResult } from "../helpers/home.js";
import { supabaseClient } from "../helpers/supabase.js";

/**
 * Asymmetric signing: the local Auth emulator signs ES256 and publishes its public key at
 * /auth/v1/.well-known/jwks.json, and our API verifies those tokens by fetching that JWKS over HTTP (so the home
 * must listen on a real port). Its own file because a file runs one home and the environment is process-wide.
 */
const t = useTestHome({ port: 0, authSigning: "ES256" });

const PASSWORD = "correct horse battery";
const newEmail = () => `jwks-${randomBytes(5).toString("hex")}@example.com`;

function client(): SupabaseClient {
  return supabaseClient(t.home.url, t.home.anonKey);
}

const listProfiles = (token: string) => t.http("/api/v1/profiles", { headers: { authorization: `Bearer ${token}` } });

/** Signs up with supabase-js, then signs in with the password: the session under test comes from the sign-in. */
async function signedIn() {
  const email = newEmail();
  const up = await client().auth.signUp({ email, password: PASSWORD });
  expect(up.error).toBeNull();
  const supabase = client();
  const { data, error } = await supabase.auth.signInWithPassword({ email, password: PASSWORD });
  expect(error).toBeNull();
  return { supabase, email, session: data.session!, user: data.user! };
}

function expectInvalidToken(res: CallResult) {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ success: false, error: expect.any(String), code: "invalid_token", requestId: expect.any(String) });
  expect(res.headers.get("x-request-id")).toBe(res.body.requestId);
}

/** An ES256 token with the claims of a real session, signed by a key pair the home has never seen. */
async function foreignEs256(claims: Record<string, unknown>, kid: string) {
  const { privateKey } = await generateKeyPair("ES256");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
    .setIssuer(`${t.home.url}/auth/v1`)
    .setAudience("authenticated")
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(privateKey);
}

describe("auth emulator with ES256 signing and a JWKS", () => {
  it("supabase-js sign-in yields an ES256 token whose kid the JWKS publishes", async () => {
    const { session } = await signedIn();
    const header = decodeProtectedHeader(session.access_token);
    expect(header).toMatchObject({ alg: "ES256", typ: "JWT", kid: expect.any(String) });

    // Public, as on Supabase: no apikey needed.
    const jwks = await t.http("/auth/v1/.well-known/jwks.json");
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys).toHaveLength(1);
    const [key] = jwks.body.keys;
    expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig", kid: header.kid, x: expect.any(String), y: expect.any(String) });
    expect(key).not.toHaveProperty("d");
  });

  it("getUser() and refreshSession() work with ES256 tokens", async () => {
    const { supabase, user } = await signedIn();
    const got = await supabase.auth.getUser();
    expect(got.error).toBeNull();
    expect(got.data.user?.id).toBe(user.id);
    const refreshed = await supabase.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(decodeProtectedHeader(refreshed.data.session!.access_token).alg).toBe("ES256");
  });

  it("our API verifies the ES256 token through the JWKS: GET /api/v1/profiles → 200", async () => {
    const { session } = await signedIn();
    const res = await listProfiles(session.access_token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ profiles: [], nextCursor: null });
  });

  it("an ES256 token signed by a different key pair → 401 invalid_token (unknown kid, or the published kid)", async () => {
    const { session } = await signedIn();
    const claims = decodeJwt(session.access_token);
    const { kid } = decodeProtectedHeader(session.access_token);
    const { sub, role, email, session_id } = claims;
    expectInvalidToken(await listProfiles(await foreignEs256({ sub, role, email, session_id }, randomUUID())));
    expectInvalidToken(await listProfiles(await foreignEs256({ sub, role, email, session_id }, kid!)));
    // The genuine token still passes afterwards.
    expect((await listProfiles(session.access_token)).status).toBe(200);
  });

  it("the emulator rejects a forged ES256 token too", async () => {
    const { session } = await signedIn();
    const { kid } = decodeProtectedHeader(session.access_token);
    const { sub, role, email, session_id } = decodeJwt(session.access_token);
    const forged = await foreignEs256({ sub, role, email, session_id }, kid!);
    const res = await t.http("/auth/v1/user", { headers: { apikey: t.home.anonKey, authorization: `Bearer ${forged}` } });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error_code: "bad_jwt" });
  });
});
