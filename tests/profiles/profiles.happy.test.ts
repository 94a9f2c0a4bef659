import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { createProfile, paidUserWithKey, signUp, subscribe } from "../helpers/users.js";

const t = useTestHome();

describe("profiles: happy paths", () => {
  it("creates a profile whose creator becomes its owner, and lists it", async () => {
    const user = await signUp(t);
    const created = await t.call("POST", "/api/v1/profiles", {
      token: user.token,
      body: { name: "Acme Social", description: "Brand account", timezone: "Europe/London" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      success: true,
      profile: {
        id: expect.any(String),
        name: "Acme Social",
        description: "Brand account",
        timezone: "Europe/London",
        role: "owner",
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
    });
    const [member] = await t.sql`select role, user_id from public.profile_members where profile_id = ${created.body.profile.id}`;
    expect(member).toEqual({ role: "owner", user_id: user.id });

    const list = await t.call("GET", "/api/v1/profiles", { token: user.token });
    expect(list.status).toBe(200);
    expect(list.body.profiles.map((p: { id: string }) => p.id)).toEqual([created.body.profile.id]);
    expect(list.body.nextCursor).toBeNull();
  });

  it("gets, updates and deletes a profile", async () => {
    const user = await signUp(t);
    const id = await createProfile(t, user, "Before");
    const got = await t.call("GET", `/api/v1/profiles/${id}`, { token: user.token });
    expect(got.status).toBe(200);
    expect(got.body.profile.name).toBe("Before");

    const patched = await t.call("PATCH", `/api/v1/profiles/${id}`, { token: user.token, body: { name: "After", description: null } });
    expect(patched.status).toBe(200);
    expect(patched.body.profile).toMatchObject({ id, name: "After", description: null });

    const deleted = await t.call("DELETE", `/api/v1/profiles/${id}`, { token: user.token });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ success: true });
    expect(await t.sql`select 1 from public.profiles where id = ${id}`).toHaveLength(0);
    expect((await t.call("GET", `/api/v1/profiles/${id}`, { token: user.token })).status).toBe(404);
  });

  it("pages through profiles with a keyset cursor", async () => {
    const user = await signUp(t);
    await subscribe(t, user, "starter");
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await createProfile(t, user, `P${i}`));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { profiles: { id: string }[]; nextCursor: string | null } } = await t.call(
        "GET",
        `/api/v1/profiles?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
        { token: user.token },
      );
      expect(page.status).toBe(200);
      expect(page.body.profiles.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.profiles.map((p) => p.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it("an API key sees exactly its own profile", async () => {
    const { user, profileId, apiKey } = await paidUserWithKey(t);
    await createProfile(t, user, "Second");
    const list = await t.call("GET", "/api/v1/profiles", { apiKey });
    expect(list.status).toBe(200);
    expect(list.body.profiles.map((p: { id: string }) => p.id)).toEqual([profileId]);
    const got = await t.call("GET", `/api/v1/profiles/${profileId}`, { apiKey });
    expect(got.status).toBe(200);
  });
});
