import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, createProfile, paidUserWithKey, signUp, subscribe } from "../helpers/users.js";

const t = useTestHome();

describe("API keys: happy paths", () => {
  it("creates a key once, in the contract's shape, storing only its hash and suffix", async () => {
    const user = await signUp(t);
    await subscribe(t, user, "starter");
    const profileId = await createProfile(t, user);
    const res = await t.call("POST", "/api/api-keys", { token: user.token, body: { name: "Production Key", profileId } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      success: true,
      apiKey: {
        id: expect.any(String),
        name: "Production Key",
        key: expect.stringMatching(/^ak_[A-Za-z0-9_-]{43,}$/),
        profileId,
        status: "active",
        createdAt: expect.any(String),
      },
      warning: "Save this key now. It will not be shown again.",
    });
    const key: string = res.body.apiKey.key;
    const rows = await t.sql`select * from public.api_keys where id = ${res.body.apiKey.id}`;
    expect(rows[0]!.key_hash).toBe(createHash("sha256").update(key).digest("hex"));
    expect(rows[0]!.key_suffix).toBe(key.slice(-8));
    expect(JSON.stringify(rows)).not.toContain(key);

    const list = await t.call("GET", "/api/v1/api-keys", { token: user.token });
    expect(list.status).toBe(200);
    expect(list.body.apiKeys).toEqual([
      {
        id: res.body.apiKey.id,
        name: "Production Key",
        key: `...${key.slice(-8)}`,
        profile_id: profileId,
        status: "active",
        created_at: res.body.apiKey.createdAt,
        last_used_at: null,
      },
    ]);
  });

  it("authenticates with the key and keeps last_used_at without writing on every request", async () => {
    const { apiKey, keyId, user } = await paidUserWithKey(t);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey })).status).toBe(200);
    const [first] = await t.sql`select last_used_at, xmin::text as version from public.api_keys where id = ${keyId}`;
    expect(first!.last_used_at).toBeInstanceOf(Date);
    for (let i = 0; i < 3; i++) expect((await t.call("GET", "/api/v1/profiles", { apiKey })).status).toBe(200);
    const [again] = await t.sql`select last_used_at, xmin::text as version from public.api_keys where id = ${keyId}`;
    expect(again).toEqual(first);
    const list = await t.call("GET", "/api/api-keys", { token: user.token });
    expect(list.body.apiKeys[0].last_used_at).toBe((first!.last_used_at as Date).toISOString());
  });

  it("revocation takes effect on the very next request", async () => {
    const { apiKey, keyId, user } = await paidUserWithKey(t);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey })).status).toBe(200);
    const revoked = await t.call("DELETE", `/api/v1/api-keys/${keyId}`, { token: user.token });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ success: true, message: "API key revoked" });
    assertEnvelope(await t.call("GET", "/api/v1/profiles", { apiKey }), 401, "invalid_api_key");
    const list = await t.call("GET", "/api/api-keys", { token: user.token });
    expect(list.body.apiKeys[0]).toMatchObject({ id: keyId, status: "revoked" });
  });

  it("an API key lists and revokes the keys of its own profile only, and cannot create keys (403)", async () => {
    const { user, apiKey, profileId } = await paidUserWithKey(t);
    const sibling = await createApiKey(t, user, profileId, "same profile's key");
    const other = await createProfile(t, user, "Other");
    const otherKey = await createApiKey(t, user, other, "other profile's key");
    const list = await t.call("GET", "/api/v1/api-keys", { apiKey });
    expect(list.status).toBe(200);
    expect(list.body.apiKeys.length).toBe(2);
    expect(list.body.apiKeys.every((k: { profile_id: string }) => k.profile_id === profileId)).toBe(true);
    assertEnvelope(await t.call("GET", `/api/v1/api-keys?profileId=${other}`, { apiKey }), 404, "not_found");
    // Creating keys needs a signed-in session (issue 9, finding 9), for its own profile as for any other.
    assertEnvelope(await t.call("POST", "/api/v1/api-keys", { apiKey, body: { name: "rotated", profileId } }), 403, "forbidden");
    assertEnvelope(await t.call("POST", "/api/v1/api-keys", { apiKey, body: { name: "escalate", profileId: other } }), 403, "forbidden");
    assertEnvelope(await t.call("DELETE", `/api/v1/api-keys/${otherKey.id}`, { apiKey }), 404, "not_found");
    expect((await t.call("DELETE", `/api/v1/api-keys/${sibling.id}`, { apiKey })).status).toBe(200);
    const [{ count }] = (await t.sql`select count(*)::int as count from public.api_keys where user_id = ${user.id}`) as any;
    expect(count).toBe(3);
    const statuses = await t.sql`select id, status from public.api_keys where user_id = ${user.id} order by created_at`;
    expect(statuses.map((r) => r.status)).toEqual(["active", "revoked", "active"]);
  });

  it("filters the list by profile", async () => {
    const { user, profileId } = await paidUserWithKey(t);
    const other = await createProfile(t, user, "Other");
    await createApiKey(t, user, other);
    const list = await t.call("GET", `/api/api-keys?profileId=${other}`, { token: user.token });
    expect(list.body.apiKeys).toHaveLength(1);
    expect(list.body.apiKeys[0].profile_id).toBe(other);
    expect(list.body.apiKeys[0].profile_id).not.toBe(profileId);
  });
});

describe("API keys: errors", () => {
  it("needs an active paid subscription to create a key (402), and creates nothing", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user);
    assertEnvelope(await t.call("POST", "/api/api-keys", { token: user.token, body: { name: "k", profileId } }), 402, "subscription_required");
    await subscribe(t, user, "starter", "past_due");
    expect((await t.call("POST", "/api/api-keys", { token: user.token, body: { name: "grace", profileId } })).status).toBe(201);
    await subscribe(t, user, "starter", "canceled");
    assertEnvelope(await t.call("POST", "/api/api-keys", { token: user.token, body: { name: "k", profileId } }), 402, "subscription_required");
    const [{ count }] = (await t.sql`select count(*)::int as count from public.api_keys where user_id = ${user.id}`) as any;
    expect(count).toBe(1);
  });

  it("names the field that is missing, malformed or unknown (400)", async () => {
    const { user, profileId } = await paidUserWithKey(t);
    const missing = await t.call("POST", "/api/api-keys", { token: user.token, body: { profileId } });
    assertEnvelope(missing, 400, "validation_error");
    expect(missing.body.details).toEqual([{ field: "name", message: expect.any(String) }]);
    expect(missing.body.error).toContain("name");

    const badId = await t.call("POST", "/api/api-keys", { token: user.token, body: { name: "k", profileId: "nope" } });
    assertEnvelope(badId, 400, "validation_error");
    expect(badId.body.error).toContain("profileId");

    const unknown = await t.call("POST", "/api/api-keys", { token: user.token, body: { name: "k", profileId, scope: "admin" } });
    assertEnvelope(unknown, 400, "validation_error");
    expect(unknown.body.error).toContain("scope");

    const wrongType = await t.call("POST", "/api/api-keys", { token: user.token, body: { name: 42, profileId } });
    assertEnvelope(wrongType, 400, "validation_error");
    expect(wrongType.body.details[0].field).toBe("name");
  });

  it("answers 404 for a profile that does not exist and for an unknown key id", async () => {
    const { user } = await paidUserWithKey(t);
    assertEnvelope(
      await t.call("POST", "/api/api-keys", { token: user.token, body: { name: "k", profileId: "5b0c3d2e-1f4a-4b6c-8d7e-9f0a1b2c3d4e" } }),
      404,
      "not_found",
    );
    assertEnvelope(await t.call("DELETE", "/api/api-keys/5b0c3d2e-1f4a-4b6c-8d7e-9f0a1b2c3d4e", { token: user.token }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", "/api/api-keys/not-a-uuid", { token: user.token }), 404, "not_found");
  });

  it("refuses a bad cursor and an out-of-range limit (400)", async () => {
    const { user } = await paidUserWithKey(t);
    assertEnvelope(await t.call("GET", "/api/api-keys?cursor=garbage", { token: user.token }), 400, "validation_error");
    const limit = await t.call("GET", "/api/api-keys?limit=1000", { token: user.token });
    assertEnvelope(limit, 400, "validation_error");
    expect(limit.body.error).toContain("limit");
  });
});
