import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createProfile, signUp } from "../helpers/users.js";
import { addMember, invite, mailsTo, tokenOf } from "./team-helpers.js";

/**
 * Invitations through the front door: invite → the local mailbox → the invite page → accept, and every way an
 * invitation is refused (wrong address, used, expired, revoked, already a member, roles, other tenants).
 */
const t = useTestHome();

describe("the invite → mail → accept flow in the local home", () => {
  it("mails the link to the mailbox, the link opens the invite page, and the invitee joins with the invited role", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner, "Team flow");
    const invitee = await signUp(t);

    const res = await invite(t, owner, profileId, invitee.email.toUpperCase(), "admin");
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({
      success: true,
      invitation: {
        id: expect.any(String),
        email: invitee.email,
        role: "admin",
        expiresAt: expect.any(String),
        inviteUrl: expect.stringMatching(new RegExp(`^${t.home.url}/invite/[A-Za-z0-9_-]{43}$`)),
      },
      existing: false,
      mail: { sent: true, reason: null },
    });
    const days = (Date.parse(res.body.invitation.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.99);
    expect(days).toBeLessThanOrEqual(7.01);
    const token = tokenOf(res.body.invitation.inviteUrl);

    // Only the digest is stored.
    const [stored] = await t.sql<{ token_hash: string }[]>`select token_hash from public.profile_invitations where id = ${res.body.invitation.id}`;
    expect(stored!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.token_hash).not.toContain(token);

    // The mailbox (JSON over real HTTP, and its page) has the mail with the link.
    const mailbox = await t.http(`/_local/mailbox/messages?to=${encodeURIComponent(invitee.email)}`);
    expect(mailbox.status).toBe(200);
    const [mail] = mailbox.body.messages;
    expect(mail.subject).toBe("Join Team flow on Amplify Scheduler");
    expect(mail.text).toContain(res.body.invitation.inviteUrl);
    expect(mail.html).toContain(res.body.invitation.inviteUrl);
    const page = await t.http("/_local/mailbox");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.body).toContain(`href="${res.body.invitation.inviteUrl}"`);

    // The link lands on a page saying how to accept.
    const landing = await t.http(new URL(mail.text.match(/https?:\/\/\S+/)[0]).pathname);
    expect(landing.status).toBe(200);
    expect(landing.body).toContain(`/api/v1/invitations/${token}/accept`);
    expect((await t.http("/invite/not-a-token")).status).toBe(404);

    const accepted = await t.http(`/api/v1/invitations/${token}/accept`, {
      method: "POST",
      headers: { authorization: `Bearer ${invitee.token}` },
    });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body).toEqual({ success: true, profileId, role: "admin" });

    const profile = await t.call("GET", `/api/v1/profiles/${profileId}`, { token: invitee.token });
    expect(profile.body.profile.role).toBe("admin");
    const [member] = await t.sql`select role, invited_by, invitation_status from public.profile_members where profile_id = ${profileId} and user_id = ${invitee.id}`;
    expect(member).toEqual({ role: "admin", invited_by: owner.id, invitation_status: "active" });

    // member.joined, in the profile's events (delivered to subscribed webhooks like the others).
    const [event] = await t.sql<{ payload: any }[]>`select payload from public.events where profile_id = ${profileId} and event_type = 'member.joined'`;
    expect(event!.payload).toMatchObject({
      event_type: "member.joined",
      profile_id: profileId,
      data: { user_id: invitee.id, email: invitee.email, role: "admin", invited_by: owner.id },
    });

    // Single use.
    const again = await t.call("POST", `/api/v1/invitations/${token}/accept`, { token: invitee.token });
    assertEnvelope(again, 410, "gone");
    expect(again.body.details).toEqual({ reason: "used" });
  });

  it("inviting a pending address again returns the same invitation with a fresh link; the old link stops working", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const email = `again-${Date.now()}@example.com`;
    const first = await invite(t, owner, profileId, email);
    expect(first.status).toBe(201);
    const second = await invite(t, owner, profileId, email, "admin");
    expect(second.status).toBe(200);
    expect(second.body.existing).toBe(true);
    expect(second.body.invitation.id).toBe(first.body.invitation.id);
    expect(second.body.invitation.role).toBe("admin");
    expect(second.body.invitation.inviteUrl).not.toBe(first.body.invitation.inviteUrl);
    const [count] = await t.sql<{ n: number }[]>`select count(*)::int as n from public.profile_invitations where profile_id = ${profileId}`;
    const n = count!.n;
    expect(n).toBe(1);
    expect(await mailsTo(t, email)).toHaveLength(2);

    const invitee = await signUp(t, email);
    const stale = await t.call("POST", `/api/v1/invitations/${tokenOf(first.body.invitation.inviteUrl)}/accept`, { token: invitee.token });
    assertEnvelope(stale, 404, "not_found");
    const fresh = await t.call("POST", `/api/v1/invitations/${tokenOf(second.body.invitation.inviteUrl)}/accept`, { token: invitee.token });
    expect(fresh.body).toEqual({ success: true, profileId, role: "admin" });
  });

  it("lists, re-sends and revokes pending invitations", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const email = `pending-${Date.now()}@example.com`;
    const made = await invite(t, owner, profileId, email);
    const id = made.body.invitation.id;

    const list = await t.call("GET", `/api/v1/profiles/${profileId}/invitations`, { token: owner.token });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      invitations: [
        {
          id,
          email,
          role: "member",
          status: "pending",
          expired: false,
          invited_by: owner.id,
          expires_at: expect.any(String),
          send_count: 1,
          last_sent_at: expect.any(String),
          created_at: expect.any(String),
        },
      ],
      nextCursor: null,
    });
    expect(JSON.stringify(list.body)).not.toMatch(/token/);

    const resent = await t.call("POST", `/api/v1/profiles/${profileId}/invitations/${id}/resend`, { token: owner.token });
    expect(resent.status, JSON.stringify(resent.body)).toBe(200);
    expect(resent.body).toMatchObject({ success: true, existing: true, invitation: { id, email, role: "member" }, mail: { sent: true } });
    expect(resent.body.invitation.inviteUrl).not.toBe(made.body.invitation.inviteUrl);
    expect((await mailsTo(t, email))[0]!.text).toContain(resent.body.invitation.inviteUrl);

    const revoked = await t.call("DELETE", `/api/v1/profiles/${profileId}/invitations/${id}`, { token: owner.token });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ success: true });
    expect((await t.call("GET", `/api/v1/profiles/${profileId}/invitations`, { token: owner.token })).body.invitations).toEqual([]);
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${profileId}/invitations/${id}`, { token: owner.token }), 404, "not_found");
    assertEnvelope(await t.call("POST", `/api/v1/profiles/${profileId}/invitations/${id}/resend`, { token: owner.token }), 404, "not_found");

    const invitee = await signUp(t, email);
    const refused = await t.call("POST", `/api/v1/invitations/${tokenOf(resent.body.invitation.inviteUrl)}/accept`, { token: invitee.token });
    assertEnvelope(refused, 410, "gone");
    expect(refused.body.details).toEqual({ reason: "revoked" });
  });
});

describe("at the same time", () => {
  it("two accepts of one link make one membership; the other is refused as used", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const invitee = await signUp(t);
    const res = await invite(t, owner, profileId, invitee.email);
    const path = `/api/v1/invitations/${tokenOf(res.body.invitation.inviteUrl)}/accept`;
    const answers = await Promise.all([1, 2, 3].map(() => t.call("POST", path, { token: invitee.token })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 410, 410]);
    expect(await t.sql`select 1 from public.profile_members where profile_id = ${profileId} and user_id = ${invitee.id}`).toHaveLength(1);
    expect(await t.sql`select 1 from public.events where profile_id = ${profileId} and event_type = 'member.joined'`).toHaveLength(1);
  });

  it("inviting one address several times at once leaves one pending invitation", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const email = `burst-${Date.now()}@example.com`;
    const answers = await Promise.all([1, 2, 3, 4].map(() => invite(t, owner, profileId, email)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.body.invitation.id)).size).toBe(1);
    const rows = await t.sql`select 1 from public.profile_invitations where profile_id = ${profileId}`;
    expect(rows).toHaveLength(1);
  });
});

describe("accepting is bound to the invited address, once, within 7 days", () => {
  it("another signed-in user is refused (403) and the invitation stays usable by the right one", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const invitee = await signUp(t);
    const other = await signUp(t);
    const res = await invite(t, owner, profileId, invitee.email);
    const token = tokenOf(res.body.invitation.inviteUrl);
    assertEnvelope(await t.call("POST", `/api/v1/invitations/${token}/accept`, { token: other.token }), 403, "forbidden");
    expect(await t.sql`select 1 from public.profile_members where profile_id = ${profileId} and user_id = ${other.id}`).toHaveLength(0);
    expect((await t.call("POST", `/api/v1/invitations/${token}/accept`, { token: invitee.token })).status).toBe(200);
  });

  it("an unconfirmed address cannot accept (it proves nothing)", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const invitee = await signUp(t);
    await t.sql`update auth.users set email_confirmed_at = null where id = ${invitee.id}`;
    const res = await invite(t, owner, profileId, invitee.email);
    assertEnvelope(await t.call("POST", `/api/v1/invitations/${tokenOf(res.body.invitation.inviteUrl)}/accept`, { token: invitee.token }), 403, "forbidden");
  });

  it("an expired invitation is a 400 saying so; listing flags it; re-sending revives it", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const invitee = await signUp(t);
    const res = await invite(t, owner, profileId, invitee.email);
    await t.sql`update public.profile_invitations set expires_at = now() - interval '1 second' where id = ${res.body.invitation.id}`;
    const expired = await t.call("POST", `/api/v1/invitations/${tokenOf(res.body.invitation.inviteUrl)}/accept`, { token: invitee.token });
    assertEnvelope(expired, 410, "gone");
    expect(expired.body.details).toEqual({ reason: "expired" });
    expect(expired.body.error).toMatch(/expired/);
    const list = await t.call("GET", `/api/v1/profiles/${profileId}/invitations`, { token: owner.token });
    expect(list.body.invitations[0].expired).toBe(true);
    const resent = await t.call("POST", `/api/v1/profiles/${profileId}/invitations/${res.body.invitation.id}/resend`, { token: owner.token });
    const ok = await t.call("POST", `/api/v1/invitations/${tokenOf(resent.body.invitation.inviteUrl)}/accept`, { token: invitee.token });
    expect(ok.status).toBe(200);
  });

  it("an unknown or malformed token is 404; an API key cannot accept (403); no credentials is 401", async () => {
    const invitee = await signUp(t);
    assertEnvelope(await t.call("POST", `/api/v1/invitations/${"A".repeat(43)}/accept`, { token: invitee.token }), 404, "not_found");
    assertEnvelope(await t.call("POST", "/api/v1/invitations/short/accept", { token: invitee.token }), 404, "not_found");
    assertEnvelope(await t.call("POST", `/api/v1/invitations/${"A".repeat(43)}/accept`), 401, "unauthorized");
    assertEnvelope(await t.call("POST", `/api/v1/invitations/${"A".repeat(43)}/accept`, { apiKey: `ak_${"x".repeat(43)}` }), 403, "forbidden");
  });

  it("inviting a current member is 409, and so is accepting when already a member", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const { user } = await addMember(t, owner, profileId);
    assertEnvelope(await invite(t, owner, profileId, user.email), 409, "conflict");
    assertEnvelope(await invite(t, owner, profileId, owner.email), 409, "conflict");

    // An invitation made before they joined some other way, accepted afterwards.
    const profile2 = await createProfile(t, owner, "Second");
    const pending = await invite(t, owner, profile2, user.email);
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${profile2}, ${user.id}, 'member')`;
    assertEnvelope(await t.call("POST", `/api/v1/invitations/${tokenOf(pending.body.invitation.inviteUrl)}/accept`, { token: user.token }), 409, "conflict");
  });
});

describe("who may invite", () => {
  it("admins invite members but not admins; members invite nobody; strangers see nothing (404)", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const admin = (await addMember(t, owner, profileId, "admin")).user;
    const member = (await addMember(t, owner, profileId, "member")).user;
    const stranger = await signUp(t);

    expect((await invite(t, admin, profileId, `by-admin-${Date.now()}@example.com`, "member")).status).toBe(201);
    assertEnvelope(await invite(t, admin, profileId, `admin-by-admin-${Date.now()}@example.com`, "admin"), 403, "forbidden");
    assertEnvelope(await invite(t, member, profileId, `by-member-${Date.now()}@example.com`, "member"), 403, "forbidden");
    assertEnvelope(await invite(t, stranger, profileId, `by-stranger-${Date.now()}@example.com`, "member"), 404, "not_found");

    // An admin re-sends and revokes member invitations, not the owner's admin invitations.
    const adminInvite = await invite(t, owner, profileId, `owner-made-admin-${Date.now()}@example.com`, "admin");
    // Inviting that address again as an admin would re-issue the owner's invitation: refused, the link unchanged.
    assertEnvelope(await invite(t, admin, profileId, adminInvite.body.invitation.email, "member"), 403, "forbidden");
    const [still] = await t.sql`select role, send_count from public.profile_invitations where id = ${adminInvite.body.invitation.id}`;
    expect(still).toEqual({ role: "admin", send_count: 1 });
    const path = `/api/v1/profiles/${profileId}/invitations/${adminInvite.body.invitation.id}`;
    assertEnvelope(await t.call("POST", `${path}/resend`, { token: admin.token }), 403, "forbidden");
    assertEnvelope(await t.call("DELETE", path, { token: admin.token }), 403, "forbidden");
    assertEnvelope(await t.call("GET", `/api/v1/profiles/${profileId}/invitations`, { token: member.token }), 403, "forbidden");
    assertEnvelope(await t.call("GET", `/api/v1/profiles/${profileId}/invitations`, { token: stranger.token }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", path, { token: stranger.token }), 404, "not_found");
    expect((await t.call("GET", `/api/v1/profiles/${profileId}/invitations`, { token: admin.token })).body.invitations).toHaveLength(2);
    expect((await t.call("DELETE", path, { token: owner.token })).status).toBe(200);
  });

  it("refuses bad input with the error envelope and writes nothing", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const path = `/api/v1/profiles/${profileId}/invitations`;
    for (const body of [
      {},
      { email: "not-an-email", role: "member" },
      { email: "a@example.com", role: "owner" },
      { email: "a@example.com", role: "member", extra: 1 },
      { email: `${"a".repeat(320)}@example.com`, role: "member" },
      { email: 42, role: "member" },
    ]) {
      assertEnvelope(await t.call("POST", path, { token: owner.token, body }), 400, "validation_error");
    }
    assertEnvelope(await t.call("POST", path, { token: owner.token, rawBody: "{", headers: { "content-type": "application/json" } }), 400, "invalid_json");
    assertEnvelope(await t.call("POST", "/api/v1/profiles/not-a-uuid/invitations", { token: owner.token, body: { email: "a@example.com", role: "member" } }), 404, "not_found");
    const [count] = await t.sql<{ n: number }[]>`select count(*)::int as n from public.profile_invitations where profile_id = ${profileId}`;
    const n = count!.n;
    expect(n).toBe(0);
  });
});
