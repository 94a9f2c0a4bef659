import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, createProfile, paidUserWithKey, signUp, subscribe } from "../helpers/users.js";
import { addMember } from "./team-helpers.js";

/** Members: the list with their user records, role changes and removal (owner only), leaving, and the events. */
const t = useTestHome();

describe("GET /api/v1/profiles/{profileId}/members", () => {
  it("lists every member with id, name, email and avatar from their user record, for sessions and the profile's key", async () => {
    const { user: owner, profileId, apiKey } = await paidUserWithKey(t);
    await t.sql`update auth.users set raw_user_meta_data = '{"full_name": "Olive Owner", "avatar_url": "https://img.example/o.png", "secret": "x"}'
                where id = ${owner.id}`;
    const { user: admin, memberId: adminMember } = await addMember(t, owner, profileId, "admin");
    const { user: member } = await addMember(t, owner, profileId, "member");

    for (const credentials of [{ token: owner.token }, { token: member.token }, { apiKey }]) {
      const res = await t.call("GET", `/api/v1/profiles/${profileId}/members`, credentials);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.nextCursor).toBeNull();
      expect(res.body.members).toHaveLength(3);
      const byUser = Object.fromEntries(res.body.members.map((m: any) => [m.user_id, m]));
      expect(byUser[owner.id]).toEqual({
        id: expect.any(String),
        user_id: owner.id,
        role: "owner",
        invited_by: null,
        invitation_status: "active",
        permissions: {},
        joined_at: expect.any(String),
        user: { id: owner.id, name: "Olive Owner", email: owner.email, avatar_url: "https://img.example/o.png" },
      });
      expect(byUser[admin.id]).toMatchObject({ id: adminMember, role: "admin", invited_by: owner.id, user: { email: admin.email, name: null } });
      expect(byUser[member.id]).toMatchObject({ role: "member", user: { id: member.id, email: member.email } });
    }

    const first = await t.call("GET", `/api/v1/profiles/${profileId}/members?limit=2`, { token: owner.token });
    expect(first.body.members).toHaveLength(2);
    const rest = await t.call("GET", `/api/v1/profiles/${profileId}/members?limit=2&cursor=${first.body.nextCursor}`, { token: owner.token });
    expect(rest.body.members).toHaveLength(1);
    expect(rest.body.nextCursor).toBeNull();
  });

  it("is 404 for strangers, another profile's key and bad ids; 400 for bad paging", async () => {
    const { user: owner, profileId } = await paidUserWithKey(t);
    const other = await paidUserWithKey(t);
    const stranger = await signUp(t);
    assertEnvelope(await t.call("GET", `/api/v1/profiles/${profileId}/members`, { token: stranger.token }), 404, "not_found");
    assertEnvelope(await t.call("GET", `/api/v1/profiles/${profileId}/members`, { apiKey: other.apiKey }), 404, "not_found");
    assertEnvelope(await t.call("GET", "/api/v1/profiles/nope/members", { token: owner.token }), 404, "not_found");
    assertEnvelope(await t.call("GET", `/api/v1/profiles/${profileId}/members?limit=0`, { token: owner.token }), 400, "validation_error");
    assertEnvelope(await t.call("GET", `/api/v1/profiles/${profileId}/members?cursor=zzz`, { token: owner.token }), 400, "validation_error");
    assertEnvelope(await t.call("GET", `/api/v1/profiles/${profileId}/members?role=owner`, { token: owner.token }), 400, "validation_error");
  });

  it("the user records of non-members are out of reach, even through the function itself", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    const rows = await t.sql.begin(async (tx) => {
      await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: a.user.id, role: "authenticated" })}, true)`;
      await tx`set local role amplify_api`;
      return tx`select * from public.profile_member_users(${b.profileId})`;
    });
    expect(rows).toEqual([]);
  });
});

describe("PATCH /api/v1/profiles/{profileId}/members/{memberId} (owner only)", () => {
  it("the owner makes a member admin and back; nobody else can; the owner row never changes this way", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const { user: admin, memberId: adminId } = await addMember(t, owner, profileId, "admin");
    const { user: member, memberId } = await addMember(t, owner, profileId, "member");
    const [ownerRow] = await t.sql<{ id: string }[]>`select id from public.profile_members where profile_id = ${profileId} and role = 'owner'`;
    const ownerMemberId = ownerRow!.id;
    const path = (id: string) => `/api/v1/profiles/${profileId}/members/${id}`;

    const promoted = await t.call("PATCH", path(memberId), { token: owner.token, body: { role: "admin" } });
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect(promoted.body).toMatchObject({ success: true, member: { id: memberId, user_id: member.id, role: "admin", user: { email: member.email } } });
    expect((await t.call("PATCH", path(memberId), { token: owner.token, body: { role: "member" } })).body.member.role).toBe("member");

    assertEnvelope(await t.call("PATCH", path(memberId), { token: admin.token, body: { role: "admin" } }), 403, "forbidden");
    assertEnvelope(await t.call("PATCH", path(adminId), { token: member.token, body: { role: "member" } }), 403, "forbidden");
    assertEnvelope(await t.call("PATCH", path(ownerMemberId!), { token: owner.token, body: { role: "admin" } }), 400, "bad_request");
    assertEnvelope(await t.call("PATCH", path(memberId), { token: owner.token, body: { role: "owner" } }), 400, "validation_error");
    assertEnvelope(await t.call("PATCH", path(memberId), { token: owner.token, body: { role: "admin", permissions: {} } }), 400, "validation_error");
    assertEnvelope(await t.call("PATCH", path(memberId), { token: owner.token, body: {} }), 400, "validation_error");
    assertEnvelope(await t.call("PATCH", path("00000000-0000-4000-8000-000000000000"), { token: owner.token, body: { role: "admin" } }), 404, "not_found");

    // Another profile's member id, and a stranger.
    const other = await signUp(t);
    const otherProfile = await createProfile(t, other);
    const { memberId: foreignMember } = await addMember(t, other, otherProfile);
    assertEnvelope(await t.call("PATCH", path(foreignMember), { token: owner.token, body: { role: "admin" } }), 404, "not_found");
    assertEnvelope(await t.call("PATCH", `/api/v1/profiles/${otherProfile}/members/${foreignMember}`, { token: owner.token, body: { role: "admin" } }), 404, "not_found");
    const [row] = await t.sql`select role from public.profile_members where id = ${foreignMember}`;
    expect(row!.role).toBe("member");
  });
});

describe("removing a member and leaving", () => {
  it("the owner removes a member: their keys for the profile are revoked, what they wrote stays, member.removed is recorded", async () => {
    const { user: owner, profileId } = await paidUserWithKey(t);
    const { user: member, memberId } = await addMember(t, owner, profileId, "admin");
    await subscribe(t, member); // keys need a paid plan of their own
    const key = await createApiKey(t, member, profileId, "member's key");
    expect((await t.call("GET", `/api/v1/profiles/${profileId}`, { apiKey: key.key })).status).toBe(200);
    const [post] = await t.sql<{ id: string }[]>`
      insert into public.posts (profile_id, content, status, created_by) values (${profileId}, 'written by the member', 'scheduled', ${member.id})
      returning id`;

    // Only the owner removes; the owner cannot be removed.
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${profileId}/members/${memberId}`, { token: member.token }), 403, "forbidden");
    const [ownerRow] = await t.sql<{ id: string }[]>`select id from public.profile_members where profile_id = ${profileId} and role = 'owner'`;
    const ownerMemberId = ownerRow!.id;
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${profileId}/members/${ownerMemberId}`, { token: owner.token }), 400, "bad_request");

    const removed = await t.call("DELETE", `/api/v1/profiles/${profileId}/members/${memberId}`, { token: owner.token });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body).toEqual({ success: true });
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${profileId}/members/${memberId}`, { token: owner.token }), 404, "not_found");

    const [k] = await t.sql`select status, revoked_at from public.api_keys where id = ${key.id}`;
    expect(k!.status).toBe("revoked");
    expect(k!.revoked_at).not.toBeNull();
    expect((await t.call("GET", `/api/v1/profiles/${profileId}`, { apiKey: key.key })).status).toBe(401);
    assertEnvelope(await t.call("GET", `/api/v1/profiles/${profileId}`, { token: member.token }), 404, "not_found");
    const [kept] = await t.sql`select content, created_by from public.posts where id = ${post!.id}`;
    expect(kept).toEqual({ content: "written by the member", created_by: member.id });

    const [event] = await t.sql<{ payload: any }[]>`select payload from public.events where profile_id = ${profileId} and event_type = 'member.removed'`;
    expect(event!.payload).toMatchObject({
      event_type: "member.removed",
      profile_id: profileId,
      data: { member_id: memberId, user_id: member.id, role: "admin", reason: "removed" },
    });
  });

  it("anyone but the owner leaves; leaving revokes their keys and records member.removed (left)", async () => {
    const { user: owner, profileId } = await paidUserWithKey(t);
    const { user: member } = await addMember(t, owner, profileId);
    await subscribe(t, member);
    const key = await createApiKey(t, member, profileId);
    const stranger = await signUp(t);

    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${profileId}/leave`, { token: owner.token }), 400, "bad_request");
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${profileId}/leave`, { token: stranger.token }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${profileId}/leave`, { apiKey: key.key }), 403, "forbidden");

    const left = await t.call("DELETE", `/api/v1/profiles/${profileId}/leave`, { token: member.token });
    expect(left.status, JSON.stringify(left.body)).toBe(200);
    expect(left.body).toEqual({ success: true });
    const [k] = await t.sql`select status from public.api_keys where id = ${key.id}`;
    expect(k!.status).toBe("revoked");
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${profileId}/leave`, { token: member.token }), 404, "not_found");
    const [event] = await t.sql<{ payload: any }[]>`select payload from public.events where profile_id = ${profileId} and event_type = 'member.removed'`;
    expect(event!.payload.data).toMatchObject({ user_id: member.id, role: "member", reason: "left" });
    // The owner stays the owner.
    const owners = await t.sql`select user_id from public.profile_members where profile_id = ${profileId} and role = 'owner'`;
    expect(owners).toEqual([{ user_id: owner.id }]);
  });

  it("member.joined and member.removed are subscribable webhook events and fan out to subscribed endpoints", async () => {
    const { user: owner, profileId, apiKey } = await paidUserWithKey(t);
    const endpoint = await t.call("POST", "/api/v1/webhook-endpoints", {
      apiKey,
      body: { url: "https://93.184.215.14/team", events: ["member.joined", "member.removed"] },
    });
    expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
    const { memberId } = await addMember(t, owner, profileId);
    expect((await t.call("DELETE", `/api/v1/profiles/${profileId}/members/${memberId}`, { token: owner.token })).status).toBe(200);
    const deliveries = await t.sql<{ event_type: string }[]>`
      select event_type from public.webhook_deliveries where endpoint_id = ${endpoint.body.endpoint.id} order by created_at`;
    expect(deliveries.map((d) => d.event_type)).toEqual(["member.joined", "member.removed"]);
  });

  it("deleting a profile records no member.removed for its members", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    await addMember(t, owner, profileId);
    expect((await t.call("DELETE", `/api/v1/profiles/${profileId}`, { token: owner.token })).status).toBe(200);
    expect(await t.sql`select 1 from public.events where profile_id = ${profileId}`).toHaveLength(0);
  });
});
