import { beforeAll, describe, expect, it } from "vitest";
import type { CallOptions, TestHome } from "./home.js";
import { createApiKey, createProfile, paidUserWithKey, signUp, subscribe, type TestUser } from "./users.js";

export interface SecurityFixture {
  owner: TestUser;
  profileId: string;
  apiKey: string;
  keyId: string;
}

export interface EndpointUnderTest {
  method: string;
  /** The path, built from the owner's fixture. */
  path: (f: SecurityFixture) => string;
  body?: (f: SecurityFixture) => unknown;
  /** "session": the browser-only paths, which refuse API keys; "any": API key or session. */
  auth: "any" | "session";
  /** The request names one of the owner's resources: a stranger's valid key must get 404 for it. */
  ownedResource?: boolean;
}

export function assertEnvelope(res: { status: number; headers: Headers; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toMatchObject({ success: false, code, error: expect.any(String), requestId: expect.any(String) });
  expect(res.headers.get("x-request-id")).toBe(res.body.requestId);
}

/**
 * The one security suite every authenticated endpoint runs: no credentials, malformed, unknown and revoked keys,
 * a key whose owner's subscription lapsed, a bad bearer token, and a valid key on a profile it does not own.
 */
export function securitySuite(t: TestHome, endpoints: EndpointUnderTest[]) {
  const f = {} as SecurityFixture & { revokedKey: string; lapsedKey: string; foreignKey: string };
  beforeAll(async () => {
    const base = await paidUserWithKey(t);
    Object.assign(f, { owner: base.user, profileId: base.profileId, apiKey: base.apiKey, keyId: base.keyId });
    const revoked = await createApiKey(t, f.owner, f.profileId, "to revoke");
    const res = await t.call("DELETE", `/api/api-keys/${revoked.id}`, { token: f.owner.token });
    expect(res.status).toBe(200);
    f.revokedKey = revoked.key;

    const lapsed = await paidUserWithKey(t);
    await subscribe(t, lapsed.user, "starter", "canceled");
    f.lapsedKey = lapsed.apiKey;

    const stranger = await signUp(t);
    await subscribe(t, stranger, "growth");
    const strangerProfile = await createProfile(t, stranger, "Stranger's");
    f.foreignKey = (await createApiKey(t, stranger, strangerProfile)).key;
  });

  const send = (e: EndpointUnderTest, options: CallOptions) =>
    t.call(e.method, e.path(f), { ...options, body: e.body?.(f) });

  for (const e of endpoints) {
    describe(`${e.method} ${e.path({ owner: {} as TestUser, profileId: ":profileId", apiKey: "", keyId: ":keyId" })}: security`, () => {
      it("refuses a request without credentials (401)", async () => {
        assertEnvelope(await send(e, {}), 401, "unauthorized");
      });
      it("refuses a malformed bearer token (401)", async () => {
        assertEnvelope(await send(e, { token: "not-a-jwt" }), 401, "invalid_token");
      });
      if (e.auth === "session") {
        it("refuses API keys: browser sessions only (403)", async () => {
          assertEnvelope(await send(e, { apiKey: f.apiKey }), 403, "forbidden");
        });
        return;
      }
      it("refuses a malformed API key (401)", async () => {
        assertEnvelope(await send(e, { apiKey: "definitely-not-a-key" }), 401, "invalid_api_key");
      });
      it("refuses an unknown API key (401)", async () => {
        assertEnvelope(await send(e, { apiKey: `ak_${"x".repeat(43)}` }), 401, "invalid_api_key");
      });
      it("refuses a revoked API key (401)", async () => {
        assertEnvelope(await send(e, { apiKey: f.revokedKey }), 401, "invalid_api_key");
      });
      it("refuses a key whose owner has no active paid subscription (402)", async () => {
        assertEnvelope(await send(e, { apiKey: f.lapsedKey }), 402, "subscription_required");
      });
      if (e.ownedResource) {
        it("never reaches another tenant's resource with a valid key (404)", async () => {
          assertEnvelope(await send(e, { apiKey: f.foreignKey }), 404, "not_found");
        });
      }
    });
  }
}
