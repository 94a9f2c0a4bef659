import { randomUUID } from "node:crypto";
import { decodeJwt, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { expectedIssuer, verifyAccessToken } from "../../src/core/auth.js";
import { AppError } from "../../src/core/errors.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { signUp } from "../helpers/users.js";

/**
 * Issue 9, finding 11: an access token is accepted only as Supabase Auth issues it for this project: signed, with an
 * `exp`, issued by `<SUPABASE_URL>/auth/v1`, for a user who signed in (not an anonymous sign-in). The tokens below are
 * signed with the home's own JWT secret, so the signature is never the reason for a refusal.
 */
const t = useTestHome();

/** A token with a real session's claims, signed with the home's secret; `shape` changes what the test is about. */
async function token(
  base: Record<string, unknown>,
  shape: { iss?: string | null; exp?: number | null; claims?: Record<string, unknown> } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...base, ...shape.claims }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setAudience("authenticated").setIssuedAt(now);
  const iss = shape.iss === undefined ? `${t.home.url}/auth/v1` : shape.iss;
  if (iss !== null) jwt.setIssuer(iss);
  const exp = shape.exp === undefined ? now + 600 : shape.exp;
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(t.home.secrets.jwtSecret));
}

async function sessionClaims() {
  const user = await signUp(t);
  const { sub, role, email, session_id } = decodeJwt(user.token);
  return { user, claims: { sub, role, email, session_id, is_anonymous: false } };
}

const listProfiles = (bearer: string) => t.call("GET", "/api/v1/profiles", { token: bearer });

// Finding 11.
describe("access tokens without exp, from a foreign issuer, or from anonymous sign-ins are refused (401)", () => {
  it("the emulator's own tokens carry iss = <SUPABASE_URL>/auth/v1 and exp, as Supabase Auth's do, and are accepted", async () => {
    const { user } = await sessionClaims();
    const claims = decodeJwt(user.token);
    expect(claims.iss).toBe(`${t.home.url}/auth/v1`);
    expect(claims.iss).toBe(expectedIssuer());
    expect(claims.exp).toEqual(expect.any(Number));
    expect((await listProfiles(user.token)).status).toBe(200);
    // The hand-made control token of this file is accepted as well: what follows differs in one claim only.
    expect((await listProfiles(await token((await sessionClaims()).claims))).status).toBe(200);
  });

  it("a token without exp is refused", async () => {
    const { claims } = await sessionClaims();
    assertEnvelope(await listProfiles(await token(claims, { exp: null })), 401, "invalid_token");
  });

  it("a token from another issuer, or with none, is refused", async () => {
    const { claims } = await sessionClaims();
    for (const iss of ["https://attacker.supabase.co/auth/v1", `${t.home.url}/auth/v2`, t.home.url, "supabase", null]) {
      assertEnvelope(await listProfiles(await token(claims, { iss })), 401, "invalid_token");
    }
  });

  it("an anonymous sign-in's token is refused unless a route opts in", async () => {
    const anonymous = { sub: randomUUID(), role: "authenticated", session_id: randomUUID(), is_anonymous: true };
    const bearer = await token(anonymous);
    const refused = await listProfiles(bearer);
    assertEnvelope(refused, 401, "invalid_token");
    expect(refused.body.error).toMatch(/anonymous/i);
    await expect(verifyAccessToken(bearer)).rejects.toBeInstanceOf(AppError);
    // The option a route would pass admits it (and nothing else changes).
    expect(await verifyAccessToken(bearer, { allowAnonymous: true })).toMatchObject({ kind: "session", userId: anonymous.sub });
  });
});
