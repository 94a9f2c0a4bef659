import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createProfile, signUp, subscribe } from "../helpers/users.js";
import { addMember } from "./team-helpers.js";

/**
 * Ownership: exactly one owner per profile, who is its billing owner (profiles.created_by), held by the schema; and
 * the one sanctioned way to move it, POST …/transfer-ownership, which needs room on the new owner's plan (402).
 */
const t = useTestHome();

const transfer = (profileId: string, token: string, userId: string) =>
  t.call("POST", `/api/v1/profiles/${profileId}/transfer-ownership`, { token, body: { userId } });

describe("POST /api/v1/profiles/{profileId}/transfer-ownership", () => {
  it("402 while the new owner's plan has no room; after they upgrade the profile, its billing and the roles move", async () => {
    const owner = await signUp(t);
    await subscribe(t, owner, "starter");
    const profileId = await createProfile(t, owner, "Moving");
    const { user: heir } = await addMember(t, owner, profileId, "member");
    // The heir is on Free (2 profiles) and already owns two.
    await createProfile(t, heir, "Heir one");
    await createProfile(t, heir, "Heir two");

    const refused = await transfer(profileId, owner.token, heir.id);
    assertEnvelope(refused, 402, "plan_limit_reached");
    expect(refused.body.details).toEqual({ limit: "profiles", max: 2, current: 2, plan: "free" });
    const [unchanged] = await t.sql`select created_by from public.profiles where id = ${profileId}`;
    expect(unchanged!.created_by).toBe(owner.id);

    await subscribe(t, heir, "starter");
    const moved = await transfer(profileId, owner.token, heir.id);
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toEqual({
      success: true,
      profileId,
      owner: { userId: heir.id },
      previousOwner: { userId: owner.id, role: "admin" },
    });
    const [profile] = await t.sql`select created_by from public.profiles where id = ${profileId}`;
    expect(profile!.created_by).toBe(heir.id);
    const roles = await t.sql`select user_id, role from public.profile_members where profile_id = ${profileId} order by role desc`;
    expect(roles).toEqual([
      { user_id: heir.id, role: "owner" },
      { user_id: owner.id, role: "admin" },
    ]);
    // Seen through the API too: the profile answers each caller's role.
    expect((await t.call("GET", `/api/v1/profiles/${profileId}`, { token: heir.token })).body.profile.role).toBe("owner");
    expect((await t.call("GET", `/api/v1/profiles/${profileId}`, { token: owner.token })).body.profile.role).toBe("admin");
    // The profile now counts against the heir's allowance, no longer the old owner's.
    const [counts] = await t.sql`
      select count(*) filter (where created_by = ${heir.id})::int as heir, count(*) filter (where created_by = ${owner.id})::int as old
      from public.profiles`;
    expect(counts).toEqual({ heir: 3, old: 0 });

    // The old owner, now admin, can no longer transfer, remove or change anyone.
    assertEnvelope(await transfer(profileId, owner.token, heir.id), 403, "forbidden");
  });

  it("only the owner transfers, only to an active member of the profile, never to themself", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const { user: admin } = await addMember(t, owner, profileId, "admin");
    const stranger = await signUp(t);
    assertEnvelope(await transfer(profileId, admin.token, admin.id), 403, "forbidden");
    assertEnvelope(await transfer(profileId, stranger.token, stranger.id), 404, "not_found");
    assertEnvelope(await transfer(profileId, owner.token, stranger.id), 404, "not_found");
    assertEnvelope(await transfer(profileId, owner.token, owner.id), 400, "bad_request");
    assertEnvelope(await transfer(profileId, owner.token, "not-a-uuid"), 400, "validation_error");
    assertEnvelope(await t.call("POST", `/api/v1/profiles/${profileId}/transfer-ownership`, { token: owner.token, body: { userId: admin.id, role: "x" } }), 400, "validation_error");
    const owners = await t.sql`select user_id from public.profile_members where profile_id = ${profileId} and role = 'owner'`;
    expect(owners).toEqual([{ user_id: owner.id }]);
  });
});

describe("exactly one owner, the billing owner, held by the schema", () => {
  it("refuses a second owner, an owner that is not the billing owner, and a profile left without its owner", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const { user: admin, memberId } = await addMember(t, owner, profileId, "admin");
    const attempts: [string, () => Promise<unknown>][] = [
      ["a second owner", () => t.sql`update public.profile_members set role = 'owner' where id = ${memberId}`],
      [
        "the owner demoted",
        () => t.sql`update public.profile_members set role = 'admin' where profile_id = ${profileId} and user_id = ${owner.id}`,
      ],
      ["the owner removed", () => t.sql`delete from public.profile_members where profile_id = ${profileId} and user_id = ${owner.id}`],
      [
        "ownership swapped without the billing owner",
        () =>
          t.sql.begin(async (tx) => {
            await tx`update public.profile_members set role = 'admin' where profile_id = ${profileId} and user_id = ${owner.id}`;
            await tx`update public.profile_members set role = 'owner' where id = ${memberId}`;
          }),
      ],
    ];
    for (const [label, attempt] of attempts) {
      const error = await attempt().then(() => undefined, (e: { code?: string }) => e);
      expect(error?.code, label).toMatch(/^(23505|23514)$/);
    }
    const rows = await t.sql`select user_id, role from public.profile_members where profile_id = ${profileId} order by role desc`;
    expect(rows).toEqual([
      { user_id: owner.id, role: "owner" },
      { user_id: admin.id, role: "admin" },
    ]);
  });

  it("created_by changes for nobody outside the transfer function: not amplify_api, not even when it sets the marker", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const { user: admin } = await addMember(t, owner, profileId, "admin");
    const error = await t.sql
      .begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: owner.id, role: "authenticated" })}, true)`;
        await tx`select set_config('amplify.transfer_ownership', ${profileId}, true)`;
        await tx`set local role amplify_api`;
        await tx`update public.profiles set created_by = ${admin.id} where id = ${profileId}`;
      })
      .then(() => undefined, (e: { code?: string }) => e);
    expect(error?.code).toBe("42501");
    const [row] = await t.sql`select created_by from public.profiles where id = ${profileId}`;
    expect(row!.created_by).toBe(owner.id);
  });

  it("nobody joins a profile except through an invitation: amplify_api has no insert on members or invitations", async () => {
    const owner = await signUp(t);
    const profileId = await createProfile(t, owner);
    const intruder = await signUp(t);
    const pending = await t.call("POST", `/api/v1/profiles/${profileId}/invitations`, {
      token: owner.token,
      body: { email: `pending-${Date.now()}@example.com`, role: "member" },
    });
    expect(pending.status).toBe(201);
    const attempts: ((tx: any) => Promise<unknown>)[] = [
      (tx) => tx`insert into public.profile_members (profile_id, user_id, role) values (${profileId}, ${intruder.id}, 'member')`,
      (tx) => tx`insert into public.profile_invitations (profile_id, email, role, token_hash, expires_at)
                 values (${profileId}, ${intruder.email}, 'admin', ${"0".repeat(64)}, now() + interval '1 day')`,
      (tx) => tx`update public.profile_invitations set status = 'accepted' where profile_id = ${profileId}`,
      (tx) => tx`update public.profile_invitations set token_hash = ${"1".repeat(64)} where profile_id = ${profileId}`,
      (tx) => tx`select token_hash from public.profile_invitations`,
    ];
    for (const attempt of attempts) {
      const error = await t.sql
        .begin(async (tx) => {
          await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: owner.id, role: "authenticated" })}, true)`;
          await tx`set local role amplify_api`;
          await attempt(tx);
        })
        .then(() => undefined, (e: { code?: string }) => e);
      expect(error?.code).toBe("42501");
    }
    expect(await t.sql`select 1 from public.profile_members where user_id = ${intruder.id}`).toHaveLength(0);
    const [inv] = await t.sql`select status from public.profile_invitations where id = ${pending.body.invitation.id}`;
    expect(inv!.status).toBe("pending");
  });
});
