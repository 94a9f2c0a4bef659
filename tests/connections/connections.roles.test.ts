import { beforeAll, describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey, signUp, type TestUser } from "../helpers/users.js";
import { addMember } from "../team/team-helpers.js";

/**
 * Connection management per role (README "Team and roles"): owners and admins connect, change, sync and remove
 * accounts; a member of the profile is refused with 403 `forbidden` naming their role, before anything is written
 * or reaches a network; someone outside the profile gets 404, as for anything they cannot see. Return origins are
 * the owner's alone, and webhook management is refused to members the same way.
 */
const t = useTestHome();

let owner: TestUser;
let admin: TestUser;
let member: TestUser;
let stranger: TestUser;
let profileId: string;
let connectionId: string;

beforeAll(async () => {
  const base = await paidUserWithKey(t);
  owner = base.user;
  profileId = base.profileId;
  connectionId = await connectAccount(t, { apiKey: base.apiKey }, "twitter");
  admin = (await addMember(t, owner, profileId, "admin")).user;
  member = (await addMember(t, owner, profileId, "member")).user;
  stranger = await signUp(t);
}, 60_000);

const returnUrl = () => new URL("/connected", t.home.url).toString();
const init = (who: TestUser, platform: string, extra: Record<string, unknown> = {}) =>
  t.call("POST", "/api/v1/connect/init", { token: who.token, body: { profileId, platform, returnUrl: returnUrl(), ...extra } });

function assertRoleRefusal(res: { status: number; headers: Headers; body: any }, role: string) {
  assertEnvelope(res, 403, "forbidden");
  expect(res.body.error).toContain(`your role on this profile is ${role}`);
}

describe("connect/init per role", () => {
  it("owner and admin start a consent flow; a member gets 403 naming the role; a stranger 404; no state for either", async () => {
    for (const who of [owner, admin]) {
      const res = await init(who, "linkedin");
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(new URL(res.body.url).searchParams.get("state")).toBeTruthy();
    }
    const refused = await init(member, "linkedin");
    assertRoleRefusal(refused, "member");
    expect(refused.body.details).toEqual({ role: "member", allowedRoles: ["owner", "admin"] });
    assertEnvelope(await init(stranger, "linkedin"), 404, "not_found");
    const states = await t.sql<{ user_id: string }[]>`select distinct user_id from public.oauth_states where profile_id = ${profileId}`;
    expect(states.map((s) => s.user_id).sort()).toEqual([owner.id, admin.id].sort());
    expect(await t.sql`select 1 from public.oauth_states where user_id in ${t.sql([member.id, stranger.id])}`).toHaveLength(0);
  });

  it("a member connecting with an app password gets 403 and nothing reaches the network; a stranger 404", async () => {
    const credentials = { identifier: `member-${Date.now()}.bsky.social`, appPassword: "abcd-efgh-ijkl-mnop" };
    assertRoleRefusal(await init(member, "bluesky", { credentials }), "member");
    assertEnvelope(await init(stranger, "bluesky", { credentials }), 404, "not_found");
    expect(await t.sql`select 1 from local_sandbox.accounts where network = 'bluesky' and username = ${credentials.identifier}`).toHaveLength(0);
    expect(await t.sql`select 1 from public.connections where profile_id = ${profileId} and platform = 'bluesky'`).toHaveLength(0);
  });
});

describe("changing, syncing and removing a connection per role", () => {
  it("owner and admin change settings and sync; a member gets 403 naming the role; a stranger 404", async () => {
    for (const who of [owner, admin]) {
      const patched = await t.call("PATCH", `/api/v1/connections/${connectionId}`, { token: who.token, body: { settings: {} } });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      const synced = await t.call("POST", `/api/v1/connections/${connectionId}/sync`, { token: who.token });
      expect(synced.status, JSON.stringify(synced.body)).toBe(200);
    }
    const [before] = await t.sql<{ last_synced_at: Date }[]>`select last_synced_at from public.connections where id = ${connectionId}`;
    assertRoleRefusal(await t.call("PATCH", `/api/v1/connections/${connectionId}`, { token: member.token, body: { settings: {} } }), "member");
    assertRoleRefusal(await t.call("POST", `/api/v1/connections/${connectionId}/sync`, { token: member.token }), "member");
    assertRoleRefusal(await t.call("DELETE", `/api/v1/connections/${connectionId}`, { token: member.token }), "member");
    assertEnvelope(await t.call("PATCH", `/api/v1/connections/${connectionId}`, { token: stranger.token, body: { settings: {} } }), 404, "not_found");
    assertEnvelope(await t.call("POST", `/api/v1/connections/${connectionId}/sync`, { token: stranger.token }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", `/api/v1/connections/${connectionId}`, { token: stranger.token }), 404, "not_found");
    const [after] = await t.sql<{ last_synced_at: Date }[]>`select last_synced_at from public.connections where id = ${connectionId}`;
    expect(after!.last_synced_at).toEqual(before!.last_synced_at);
  });

  it("an admin removes a connection", async () => {
    const other = await connectAccount(t, { token: owner.token }, "twitter", { profileId });
    const removed = await t.call("DELETE", `/api/v1/connections/${other}`, { token: admin.token });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(await t.sql`select 1 from public.connections where id = ${other}`).toHaveLength(0);
  });
});

describe("return origins and webhook endpoints per role", () => {
  const ORIGINS = "/api/v1/connect/return-origins";

  it("only the owner registers and removes return origins: admin and member 403 naming their role, stranger 404", async () => {
    const body = { profileId, origin: "https://roles.example" };
    assertRoleRefusal(await t.call("POST", ORIGINS, { token: admin.token, body }), "admin");
    assertRoleRefusal(await t.call("POST", ORIGINS, { token: member.token, body }), "member");
    assertEnvelope(await t.call("POST", ORIGINS, { token: stranger.token, body }), 404, "not_found");
    expect((await t.call("POST", ORIGINS, { token: owner.token, body })).status).toBe(201);
    const remove = `${ORIGINS}?origin=${encodeURIComponent(body.origin)}&profileId=${profileId}`;
    assertRoleRefusal(await t.call("DELETE", remove, { token: admin.token }), "admin");
    assertRoleRefusal(await t.call("DELETE", remove, { token: member.token }), "member");
    assertEnvelope(await t.call("DELETE", remove, { token: stranger.token }), 404, "not_found");
    expect((await t.call("DELETE", remove, { token: owner.token })).status).toBe(200);
  });

  it("owner and admin manage webhook endpoints; a member gets 403 naming the role; a stranger 404", async () => {
    const created = await t.call("POST", "/api/v1/webhook-endpoints", {
      token: admin.token,
      body: { profileId, url: "https://93.184.215.14/roles", events: ["*"] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.endpoint.id;
    const body = { profileId, url: "https://93.184.215.14/member", events: ["*"] };
    assertRoleRefusal(await t.call("POST", "/api/v1/webhook-endpoints", { token: member.token, body }), "member");
    assertRoleRefusal(await t.call("POST", "/api/v1/webhooks/configure", { token: member.token, body }), "member");
    assertRoleRefusal(await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { token: member.token, body: { is_active: false } }), "member");
    assertRoleRefusal(await t.call("DELETE", `/api/v1/webhook-endpoints/${id}`, { token: member.token }), "member");
    assertEnvelope(await t.call("POST", "/api/v1/webhook-endpoints", { token: stranger.token, body }), 404, "not_found");
    assertEnvelope(await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { token: stranger.token, body: { is_active: false } }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", `/api/v1/webhook-endpoints/${id}`, { token: stranger.token }), 404, "not_found");
    expect((await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { token: owner.token, body: { is_active: false } })).status).toBe(200);
    expect((await t.call("DELETE", `/api/v1/webhook-endpoints/${id}`, { token: admin.token })).status).toBe(200);
  });
});
