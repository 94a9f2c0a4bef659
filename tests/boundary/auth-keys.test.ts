import type postgres from "postgres";
import { describe, expect, it } from "vitest";
import { flushApiUsage } from "../../src/core/ratelimit/api-usage.js";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome, type TestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, createProfile, paidUserWithKey, signUp, subscribe, type TestUser } from "../helpers/users.js";

/**
 * Issue 9, findings 8 and 9: who an API key speaks for, and what it may do. Keys belong to a member of a profile;
 * once the member is gone the key is dead and costs nobody anything, and per-profile rate limits are spent only by
 * callers who belong to the profile. A key can never mint keys.
 */
const POSTS_PER_HOUR = 2;
// Rate limits counted in Postgres (not the local home's in-process default), so the tests can read every bucket.
const t = useTestHome({ env: { RATE_LIMIT_OVERRIDES: `posts=${POSTS_PER_HOUR}/1h`, RATE_LIMIT_STORE: "postgres" } });

/** An owner's profile with a second, paid member (an admin) holding an API key of their own for it. */
async function teamWithMembersKey(t: TestHome) {
  const owner = await signUp(t);
  await subscribe(t, owner, "growth");
  const profileId = await createProfile(t, owner, "Team");
  const member = await signUp(t);
  await subscribe(t, member, "starter");
  // Members join through invitations; arranging one directly with admin SQL stands for an accepted invitation.
  await t.sql`insert into public.profile_members (profile_id, user_id, role, invitation_status) values (${profileId}, ${member.id}, 'admin', 'active')`;
  const key = await createApiKey(t, member, profileId, "admin's key");
  return { owner, member, profileId, key };
}

/** Everything a key's request could have counted: the key's rate-limit window, its creator's monthly API requests, last_used_at. */
async function meteringOf(t: TestHome, keyId: string, user: TestUser) {
  await flushApiUsage(); // the monthly count is written in batches (src/core/ratelimit/api-usage.ts)
  const [bucket] = await t.sql`select used from public.rate_limit_counters where bucket = ${`api_requests:${keyId}`}`;
  const [usage] = await t.sql`select used from public.usage_counters where user_id = ${user.id} and metric = 'api_requests'`;
  const [key] = await t.sql`select last_used_at from public.api_keys where id = ${keyId}`;
  return { rate: bucket?.used ?? 0, monthly: usage?.used ?? 0, lastUsedAt: key?.last_used_at ?? null };
}

/**
 * Runs `change` on profile_members with the table's own triggers (the schema's revoke-on-removal ones) off, in one
 * admin transaction, so the test sees what the key lookup alone decides.
 */
async function withoutMemberTriggers(change: (tx: postgres.TransactionSql) => Promise<unknown>) {
  await t.sql.begin(async (tx) => {
    await tx`alter table public.profile_members disable trigger user`;
    await change(tx);
    await tx`alter table public.profile_members enable trigger user`;
  });
}

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

// Finding 8.
describe("a removed member's API key is refused (401) and meters nothing", () => {
  it("when the membership is deleted: the key stops working on the next request", async () => {
    const { member, profileId, key } = await teamWithMembersKey(t);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey: key.key })).status).toBe(200);
    const before = await meteringOf(t, key.id, member);
    expect(before.monthly).toBe(1);

    await t.sql`delete from public.profile_members where profile_id = ${profileId} and user_id = ${member.id}`;
    for (let i = 0; i < 3; i++) assertEnvelope(await t.call("GET", "/api/v1/profiles", { apiKey: key.key }), 401, "invalid_api_key");
    assertEnvelope(await t.call("POST", "/api/v1/post", { apiKey: key.key, body: { platform: "twitter", content: "still here?" } }), 401, "invalid_api_key");
    expect(await meteringOf(t, key.id, member)).toEqual(before);
  });

  it("even where the membership went without its keys being revoked: the key lookup itself checks membership", async () => {
    const { member, profileId, key } = await teamWithMembersKey(t);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey: key.key })).status).toBe(200);
    const before = await meteringOf(t, key.id, member);
    // A membership gone by a path that did not revoke the keys (a restore, a manual fix, a future code path).
    await withoutMemberTriggers((tx) => tx`delete from public.profile_members where profile_id = ${profileId} and user_id = ${member.id}`);
    const [row] = await t.sql`select status from public.api_keys where id = ${key.id}`;
    expect(row).toEqual({ status: "active" });

    const refused = await t.call("GET", "/api/v1/profiles", { apiKey: key.key });
    assertEnvelope(refused, 401, "invalid_api_key");
    expect(refused.body.error).toMatch(/no longer a member/);
    expect(refused.headers.get("x-ratelimit-limit")).toBeNull();
    expect(await meteringOf(t, key.id, member)).toEqual(before);
  });

  it("a membership that is no longer active (pending) does not carry a key either", async () => {
    const { member, profileId, key } = await teamWithMembersKey(t);
    await withoutMemberTriggers(
      (tx) => tx`update public.profile_members set invitation_status = 'pending' where profile_id = ${profileId} and user_id = ${member.id}`,
    );
    const before = await meteringOf(t, key.id, member);
    const refused = await t.call("GET", "/api/v1/profiles", { apiKey: key.key });
    assertEnvelope(refused, 401, "invalid_api_key");
    expect(refused.body.error).toMatch(/no longer a member/);
    expect(await meteringOf(t, key.id, member)).toEqual(before);
  });
});

// Finding 8.
describe("a stranger's or removed member's request does not consume the profile's posts rate limit", () => {
  it("their refused posts leave the owner's whole hourly budget intact", async () => {
    const { owner, member, profileId, key } = await teamWithMembersKey(t);
    const ownerKey = await createApiKey(t, owner, profileId, "owner's key");
    await connectAccount(t, { apiKey: ownerKey.key }, "twitter");
    const stranger = await signUp(t);
    await subscribe(t, stranger, "agency");
    await t.sql`delete from public.profile_members where profile_id = ${profileId} and user_id = ${member.id}`;

    const body = { platform: "twitter", content: "not yours", scheduleDate: inAnHour(), profileId };
    for (let i = 0; i < POSTS_PER_HOUR + 2; i++) {
      assertEnvelope(await t.call("POST", "/api/v1/post", { token: stranger.token, body }), 404, "not_found");
      assertEnvelope(await t.call("POST", "/api/v1/post", { token: member.token, body }), 404, "not_found");
      assertEnvelope(await t.call("POST", "/api/v1/post", { apiKey: key.key, body }), 401, "invalid_api_key");
    }
    expect(await t.sql`select used from public.rate_limit_counters where bucket = ${`posts:${profileId}`}`).toEqual([]);

    // The owner still has every post of the hour, and only those.
    const mine = { platform: "twitter", content: "ours", scheduleDate: inAnHour() };
    for (let i = 0; i < POSTS_PER_HOUR; i++) {
      const res = await t.call("POST", "/api/v1/post", { apiKey: ownerKey.key, body: { ...mine, content: `ours ${i}` } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    assertEnvelope(await t.call("POST", "/api/v1/post", { token: owner.token, body: { ...mine, profileId } }), 429, "rate_limited");
    const [bucket] = await t.sql`select used from public.rate_limit_counters where bucket = ${`posts:${profileId}`}`;
    expect(bucket).toEqual({ used: POSTS_PER_HOUR + 1 });
  });
});

// Finding 9.
describe("an API key cannot create API keys (403), but lists and revokes its own profile's keys", () => {
  it("a leaked key cannot mint a successor that would survive its revocation", async () => {
    const { user, apiKey, profileId, keyId } = await paidUserWithKey(t);
    const sibling = await createApiKey(t, user, profileId, "sibling");
    const otherProfile = await createProfile(t, user, "Other");
    const elsewhere = await createApiKey(t, user, otherProfile, "elsewhere");
    const keysBefore = await t.sql`select id from public.api_keys where user_id = ${user.id}`;

    for (const target of [profileId, otherProfile]) {
      const refused = await t.call("POST", "/api/v1/api-keys", { apiKey, body: { name: "successor", profileId: target } });
      assertEnvelope(refused, 403, "forbidden");
    }
    expect(await t.sql`select id from public.api_keys where user_id = ${user.id}`).toHaveLength(keysBefore.length);

    const list = await t.call("GET", "/api/v1/api-keys", { apiKey });
    expect(list.status).toBe(200);
    expect(list.body.apiKeys.map((k: { id: string }) => k.id).sort()).toEqual([keyId, sibling.id].sort());
    assertEnvelope(await t.call("DELETE", `/api/v1/api-keys/${elsewhere.id}`, { apiKey }), 404, "not_found");
    expect((await t.call("DELETE", `/api/v1/api-keys/${sibling.id}`, { apiKey })).status).toBe(200);
    // Revoking itself works too, and is final.
    expect((await t.call("DELETE", `/api/v1/api-keys/${keyId}`, { apiKey })).status).toBe(200);
    assertEnvelope(await t.call("GET", "/api/v1/api-keys", { apiKey }), 401, "invalid_api_key");

    // The signed-in owner still creates keys, on /api/v1 as on the dashboard's path.
    expect((await t.call("POST", "/api/v1/api-keys", { token: user.token, body: { name: "by session", profileId } })).status).toBe(201);
  });
});
