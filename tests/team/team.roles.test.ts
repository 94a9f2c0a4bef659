import { beforeAll, describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey, type TestUser } from "../helpers/users.js";
import { addMember } from "./team-helpers.js";

/**
 * The role table (README "Team and roles"), per role, through the API and in the database as our request role:
 * owner everything; admin posts, schedules, manages connections and webhooks, invites members; member posts and
 * schedules only.
 */
const t = useTestHome();

let owner: TestUser;
let admin: TestUser;
let member: TestUser;
let profileId: string;
let connectionId: string;

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

beforeAll(async () => {
  const base = await paidUserWithKey(t);
  owner = base.user;
  profileId = base.profileId;
  connectionId = await connectAccount(t, { apiKey: base.apiKey }, "twitter");
  admin = (await addMember(t, owner, profileId, "admin")).user;
  member = (await addMember(t, owner, profileId, "member")).user;
}, 60_000);

/** Runs `fn` as amplify_api with `user`'s session claims, as src/core/db.ts does for a request. */
async function asMember<T>(user: TestUser, fn: (tx: any) => Promise<T>): Promise<T> {
  return t.sql.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: user.id, role: "authenticated" })}, true)`;
    await tx`set local role amplify_api`;
    return fn(tx);
  }) as Promise<T>;
}

describe("members post and schedule, and nothing more", () => {
  it("a member schedules a post and sees the profile's connections, posts and members", async () => {
    const post = await t.call("POST", "/api/v1/post", {
      token: member.token,
      headers: { "idempotency-key": `member-${Date.now()}` },
      body: { profileId, platform: "twitter", content: "Scheduled by a member", scheduleDate: inAnHour() },
    });
    expect(post.status, JSON.stringify(post.body)).toBe(201);
    expect((await t.call("GET", `/api/v1/connections?profileId=${profileId}`, { token: member.token })).status).toBe(200);
    expect((await t.call("GET", `/api/v1/profiles/${profileId}/members`, { token: member.token })).body.members).toHaveLength(3);
  });

  it("a member cannot manage connections, webhooks, the profile, members or invitations (403)", async () => {
    const endpoint = await t.call("POST", "/api/v1/webhook-endpoints", {
      token: admin.token,
      body: { profileId, url: "https://93.184.215.14/roles", events: ["*"] },
    });
    expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
    const webhookId = endpoint.body.endpoint.id;
    // Starting a connection is refused before any oauth_states row is written (403 naming the role).
    const init = await t.call("POST", "/api/v1/connect/init", {
      token: member.token,
      body: { profileId, platform: "linkedin", returnUrl: `${t.home.url}/connected` },
    });
    assertEnvelope(init, 403, "forbidden");
    expect(await t.sql`select 1 from public.oauth_states where profile_id = ${profileId} and user_id = ${member.id}`).toHaveLength(0);
    const refusals = [
      t.call("DELETE", `/api/v1/connections/${connectionId}`, { token: member.token }),
      t.call("POST", "/api/v1/webhook-endpoints", { token: member.token, body: { profileId, url: "https://93.184.215.14/m", events: ["*"] } }),
      t.call("PATCH", `/api/v1/webhook-endpoints/${webhookId}`, { token: member.token, body: { is_active: false } }),
      t.call("DELETE", `/api/v1/webhook-endpoints/${webhookId}`, { token: member.token }),
      t.call("PATCH", `/api/v1/profiles/${profileId}`, { token: member.token, body: { name: "Renamed by member" } }),
      t.call("DELETE", `/api/v1/profiles/${profileId}`, { token: member.token }),
      t.call("POST", `/api/v1/profiles/${profileId}/invitations`, { token: member.token, body: { email: "m@example.com", role: "member" } }),
    ];
    for (const res of await Promise.all(refusals)) assertEnvelope(res, 403, "forbidden");
    const [still] = await t.sql`select is_active from public.webhook_endpoints where id = ${webhookId}`;
    expect(still!.is_active).toBe(true);
    expect(await t.sql`select 1 from public.connections where id = ${connectionId}`).toHaveLength(1);
  });

  it("in the database, as our request role with a member's claims, the same holds (RLS)", async () => {
    const [endpoint] = await t.sql<{ id: string }[]>`select id from public.webhook_endpoints where profile_id = ${profileId} limit 1`;
    const counts = await asMember(member, async (tx) => ({
      connectionsUpdated: (await tx`update public.connections set settings = settings where id = ${connectionId} returning 1`).length,
      connectionsDeleted: (await tx`delete from public.connections where id = ${connectionId} returning 1`).length,
      webhooksUpdated: (await tx`update public.webhook_endpoints set is_active = false where id = ${endpoint!.id} returning 1`).length,
      webhooksDeleted: (await tx`delete from public.webhook_endpoints where id = ${endpoint!.id} returning 1`).length,
      membersUpdated: (await tx`update public.profile_members set role = 'admin' where profile_id = ${profileId} returning 1`).length,
      othersRemoved: (await tx`delete from public.profile_members where profile_id = ${profileId} and user_id <> ${member.id} returning 1`).length,
      invitationsSeen: (await tx`select id from public.profile_invitations where profile_id = ${profileId}`).length,
      profileRenamed: (await tx`update public.profiles set name = 'x' where id = ${profileId} returning 1`).length,
    }));
    expect(counts).toEqual({
      connectionsUpdated: 0,
      connectionsDeleted: 0,
      webhooksUpdated: 0,
      webhooksDeleted: 0,
      membersUpdated: 0,
      othersRemoved: 0,
      invitationsSeen: 0,
      profileRenamed: 0,
    });
    const insert = await asMember(member, (tx) =>
      tx`insert into public.webhook_endpoints (profile_id, url, secret_enc, events, max_retries, created_by)
         values (${profileId}, 'https://93.184.215.14/x', 'x', '{*}', 5, ${member.id})`,
    ).then(() => undefined, (e: { code?: string }) => e);
    expect(insert?.code).toBe("42501");
  });
});

describe("admins manage content, connections and webhooks, and invite members", () => {
  it("an admin connects accounts, changes webhooks, renames the profile and invites members, but not admins or members' roles", async () => {
    const init = await t.call("POST", "/api/v1/connect/init", {
      token: admin.token,
      body: { profileId, platform: "linkedin", returnUrl: `${t.home.url}/connected` },
    });
    expect(init.status, JSON.stringify(init.body)).toBe(200);
    const endpoint = await t.call("POST", "/api/v1/webhook-endpoints", {
      token: admin.token,
      body: { profileId, url: "https://93.184.215.14/admin", events: ["post.published"] },
    });
    expect(endpoint.status).toBe(201);
    expect((await t.call("PATCH", `/api/v1/webhook-endpoints/${endpoint.body.endpoint.id}`, { token: admin.token, body: { is_active: false } })).status).toBe(200);
    expect((await t.call("DELETE", `/api/v1/webhook-endpoints/${endpoint.body.endpoint.id}`, { token: admin.token })).status).toBe(200);
    expect((await t.call("PATCH", `/api/v1/profiles/${profileId}`, { token: admin.token, body: { description: "By the admin" } })).status).toBe(200);
    const post = await t.call("POST", "/api/v1/post", {
      token: admin.token,
      headers: { "idempotency-key": `admin-${Date.now()}` },
      body: { profileId, platform: "twitter", content: "Scheduled by an admin", scheduleDate: inAnHour() },
    });
    expect(post.status).toBe(201);
    expect((await t.call("POST", `/api/v1/profiles/${profileId}/invitations`, { token: admin.token, body: { email: `a-${Date.now()}@example.com`, role: "member" } })).status).toBe(201);

    assertEnvelope(await t.call("POST", `/api/v1/profiles/${profileId}/invitations`, { token: admin.token, body: { email: `b-${Date.now()}@example.com`, role: "admin" } }), 403, "forbidden");
    const [m] = await t.sql<{ id: string }[]>`select id from public.profile_members where profile_id = ${profileId} and user_id = ${member.id}`;
    assertEnvelope(await t.call("PATCH", `/api/v1/profiles/${profileId}/members/${m!.id}`, { token: admin.token, body: { role: "admin" } }), 403, "forbidden");
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${profileId}/members/${m!.id}`, { token: admin.token }), 403, "forbidden");
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${profileId}`, { token: admin.token }), 403, "forbidden");
  });

  it("the owner does everything, down to removing a connection", async () => {
    expect((await t.call("DELETE", `/api/v1/connections/${connectionId}`, { token: owner.token })).status).toBe(200);
  });
});
