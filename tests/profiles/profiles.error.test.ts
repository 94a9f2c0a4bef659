import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createProfile, paidUserWithKey, signUp, subscribe } from "../helpers/users.js";

const t = useTestHome();

describe("profiles: errors", () => {
  it("enforces the plan's profile limit (Free: 2) and lifts it on upgrade", async () => {
    const user = await signUp(t);
    await createProfile(t, user, "One");
    await createProfile(t, user, "Two");
    const third = await t.call("POST", "/api/v1/profiles", { token: user.token, body: { name: "Three" } });
    assertEnvelope(third, 402, "plan_limit_reached");
    expect(third.body.error).toContain("Free plan allows 2 profiles");
    expect(third.body.details).toMatchObject({ limit: "profiles", max: 2, current: 2, plan: "free" });

    await subscribe(t, user, "starter");
    expect((await t.call("POST", "/api/v1/profiles", { token: user.token, body: { name: "Three" } })).status).toBe(201);
    // A lapsed subscription falls back to Free limits; nothing is deleted.
    await subscribe(t, user, "starter", "canceled");
    assertEnvelope(await t.call("POST", "/api/v1/profiles", { token: user.token, body: { name: "Four" } }), 402, "plan_limit_reached");
    const [{ count }] = (await t.sql`select count(*)::int as count from public.profiles where created_by = ${user.id}`) as any;
    expect(count).toBe(3);
  });

  it("counts extra profile packs on top of the plan", async () => {
    const user = await signUp(t);
    await t.sql`update public.billing_subscriptions set extra_profiles = 1 where user_id = ${user.id}`;
    for (const name of ["A", "B", "C"]) await createProfile(t, user, name);
    assertEnvelope(await t.call("POST", "/api/v1/profiles", { token: user.token, body: { name: "D" } }), 402, "plan_limit_reached");
  });

  it("cannot be raced past the limit by concurrent requests", async () => {
    const user = await signUp(t);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => t.call("POST", "/api/v1/profiles", { token: user.token, body: { name: `Race ${i}` } })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(2);
    expect(results.filter((r) => r.status === 402)).toHaveLength(4);
    const [{ count }] = (await t.sql`select count(*)::int as count from public.profiles where created_by = ${user.id}`) as any;
    expect(count).toBe(2);
  });

  it("API keys cannot create profiles (403)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    assertEnvelope(await t.call("POST", "/api/v1/profiles", { apiKey, body: { name: "Sneaky" } }), 403, "forbidden");
  });

  it("names the invalid field (400) and writes nothing", async () => {
    const user = await signUp(t);
    const empty = await t.call("POST", "/api/v1/profiles", { token: user.token, body: { name: "   " } });
    assertEnvelope(empty, 400, "validation_error");
    expect(empty.body.details[0].field).toBe("name");
    const tz = await t.call("POST", "/api/v1/profiles", { token: user.token, body: { name: "A", timezone: "Mars/Olympus" } });
    assertEnvelope(tz, 400, "validation_error");
    expect(tz.body.details[0].field).toBe("timezone");
    const tooLong = await t.call("POST", "/api/v1/profiles", { token: user.token, body: { name: "x".repeat(101) } });
    assertEnvelope(tooLong, 400, "validation_error");
    const notObject = await t.call("POST", "/api/v1/profiles", { token: user.token, body: ["name"] });
    assertEnvelope(notObject, 400, "validation_error");
    const id = await createProfile(t, user);
    assertEnvelope(await t.call("PATCH", `/api/v1/profiles/${id}`, { token: user.token, body: {} }), 400, "validation_error");
    const [{ count }] = (await t.sql`select count(*)::int as count from public.profiles where created_by = ${user.id}`) as any;
    expect(count).toBe(1);
  });

  it("members cannot change or delete a profile, admins can change but not delete it", async () => {
    const owner = await signUp(t);
    const id = await createProfile(t, owner);
    const member = await signUp(t);
    const admin = await signUp(t);
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${id}, ${member.id}, 'member'), (${id}, ${admin.id}, 'admin')`;

    expect((await t.call("GET", `/api/v1/profiles/${id}`, { token: member.token })).body.profile.role).toBe("member");
    assertEnvelope(await t.call("PATCH", `/api/v1/profiles/${id}`, { token: member.token, body: { name: "Mine" } }), 403, "forbidden");
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${id}`, { token: member.token }), 403, "forbidden");
    expect((await t.call("PATCH", `/api/v1/profiles/${id}`, { token: admin.token, body: { name: "Renamed" } })).status).toBe(200);
    assertEnvelope(await t.call("DELETE", `/api/v1/profiles/${id}`, { token: admin.token }), 403, "forbidden");
    expect((await t.call("DELETE", `/api/v1/profiles/${id}`, { token: owner.token })).status).toBe(200);
  });
});
