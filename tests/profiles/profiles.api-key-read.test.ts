import { describe, expect, it } from "vitest";
import { flushApiUsage } from "../../src/core/ratelimit/api-usage.js";
import { useTestHome } from "../helpers/home.js";
import { statementsSent } from "../helpers/wire.js";
import { createApiKey, createProfile, paidUserWithKey, subscribe } from "../helpers/users.js";
import { addMember } from "../team/team-helpers.js";

/**
 * GET /api/v1/profiles with an API key is answered from one message to Postgres (the key lookup, the claims built
 * from the key, the role and the list in one transaction): what it answers and refuses is what the usual steps would,
 * and the pooled connections it uses are left clean.
 */
const t = useTestHome();

/** Query or Execute messages this process sends to the home's Postgres while `run` runs. */
const messagesToPostgres = <T>(run: () => Promise<T>) => statementsSent(Number(new URL(t.home.databaseUrl).port), run);

describe("GET /api/v1/profiles with an API key, in one message", () => {
  it("lists the key's one profile, as the owner's session lists it, in one message to Postgres", async () => {
    const owner = await paidUserWithKey(t, "agency");
    await createProfile(t, owner.user, "Another of the owner's");
    await flushApiUsage();
    const { value: res, statements: messages } = await messagesToPostgres(() => t.call("GET", "/api/v1/profiles", { apiKey: owner.apiKey }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(messages).toBe(1);
    const session = await t.call("GET", "/api/v1/profiles", { token: owner.user.token });
    expect(session.body.profiles).toHaveLength(2);
    expect(res.body).toEqual({ profiles: [session.body.profiles.find((p: { id: string }) => p.id === owner.profileId)], nextCursor: null });
    expect(res.headers.get("x-ratelimit-limit")).not.toBeNull();

    // A member's key lists the same profile with the member's own role.
    const member = await addMember(t, owner.user, owner.profileId, "admin");
    await subscribe(t, member.user, "starter"); // a key's requests are billed to its creator
    const memberKey = await createApiKey(t, member.user, owner.profileId);
    const asMember = await t.call("GET", "/api/v1/profiles", { apiKey: memberKey.key });
    expect(asMember.body.profiles).toEqual([expect.objectContaining({ id: owner.profileId, role: "admin" })]);
  });

  it("reads one profile the same way: the key's own in one message, any other (or none) 404, a bad key 401", async () => {
    const owner = await paidUserWithKey(t, "agency");
    const other = await createProfile(t, owner.user, "Not the key's");
    await flushApiUsage();
    const { value: own, statements: messages } = await messagesToPostgres(() => t.call("GET", `/api/v1/profiles/${owner.profileId}`, { apiKey: owner.apiKey }));
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    expect(messages).toBe(1);
    const session = await t.call("GET", `/api/v1/profiles/${owner.profileId}`, { token: owner.user.token });
    expect(own.body).toEqual(session.body);
    for (const id of [other, "00000000-0000-4000-8000-000000000000"]) {
      const res = await t.call("GET", `/api/v1/profiles/${id}`, { apiKey: owner.apiKey });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ success: false, code: "not_found" });
    }
    expect((await t.call("GET", `/api/v1/profiles/${other}`, { apiKey: `ak_${"w".repeat(43)}` })).status).toBe(401);
  });

  it("refuses a removed member's key, an unknown and a malformed key with their 401s, and shows no profile", async () => {
    const owner = await paidUserWithKey(t, "agency");
    const member = await addMember(t, owner.user, owner.profileId, "member");
    await subscribe(t, member.user, "starter");
    const memberKey = await createApiKey(t, member.user, owner.profileId);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey: memberKey.key })).status).toBe(200);
    const removed = await t.call("DELETE", `/api/v1/profiles/${owner.profileId}/members/${member.memberId}`, { token: owner.user.token });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);

    const cases: [string, string][] = [
      // Removing a member revokes the keys they made.
      [memberKey.key, "This API key has been revoked"],
      [`ak_${"x".repeat(43)}`, "Invalid API key"],
      ["ak_short", "Malformed API key"],
    ];
    for (const [key, message] of cases) {
      const res = await t.call("GET", "/api/v1/profiles", { apiKey: key });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ success: false, code: "invalid_api_key", error: expect.stringContaining(message) });
      expect(res.body.profiles).toBeUndefined();
    }
  });

  it("authenticates before reading the input: a bad key is 401 whatever the query; a good key's bad query is 400", async () => {
    const owner = await paidUserWithKey(t, "agency");
    const badKey = await t.call("GET", "/api/v1/profiles?limit=0", { apiKey: `ak_${"y".repeat(43)}` });
    expect(badKey.status).toBe(401);
    const badLimit = await t.call("GET", "/api/v1/profiles?limit=0", { apiKey: owner.apiKey });
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.details).toEqual([expect.objectContaining({ field: "limit" })]);
    const badCursor = await t.call("GET", "/api/v1/profiles?cursor=not-ours", { apiKey: owner.apiKey });
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.details).toEqual([expect.objectContaining({ field: "cursor" })]);
    // A cursor the API gave reads the page after it (there is none after the key's one profile).
    const session = await t.call("GET", "/api/v1/profiles?limit=1", { token: owner.user.token });
    const other = await createProfile(t, owner.user, "Newer");
    const sessionPage = await t.call("GET", "/api/v1/profiles?limit=1", { token: owner.user.token });
    expect(sessionPage.body.profiles[0].id).toBe(other);
    const after = await t.call("GET", `/api/v1/profiles?limit=1&cursor=${sessionPage.body.nextCursor}`, { apiKey: owner.apiKey });
    expect(after.status).toBe(200);
    expect(after.body).toEqual({ profiles: [session.body.profiles[0]], nextCursor: null });
  });

  it("refuses a key whose owner\'s subscription lapsed with 402, and leaves no connection inside a transaction", async () => {
    const lapsed = await paidUserWithKey(t);
    await subscribe(t, lapsed.user, "starter", "canceled");
    const key = { key: lapsed.apiKey };
    for (let i = 0; i < 5; i++) {
      const res = await t.call("GET", "/api/v1/profiles", { apiKey: key.key });
      expect(res.status).toBe(402);
      expect(res.body.code).toBe("subscription_required");
      expect(res.headers.get("x-ratelimit-remaining")).not.toBeNull();
      expect((await t.call("GET", "/api/v1/profiles", { apiKey: `ak_${"z".repeat(43)}` })).status).toBe(401);
    }
    const open = await t.sql<{ state: string }[]>`
      select state from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'`;
    expect(open).toEqual([]);
    // The same connections serve the next requests as usual.
    const owner = await paidUserWithKey(t);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey: owner.apiKey })).body.profiles).toHaveLength(1);
  });
});
