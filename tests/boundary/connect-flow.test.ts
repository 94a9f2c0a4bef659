import { describe, expect, it } from "vitest";
import { connectAccount, cookieFrom } from "../helpers/connect.js";
import { useTestHome, type TestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, paidUserWithKey, signUp, type TestUser } from "../helpers/users.js";

/**
 * Issue 9, finding 6: the connect flow. `returnUrl` was any URL (an open redirect carrying `connectionId`), and the
 * OAuth callback did not check that the browser finishing a flow belonged to the user who started it, so a victim
 * opening an attacker's consent link connected their own social account into the attacker's profile.
 */

const t = useTestHome();
const ORIGINS = "/api/v1/connect/return-origins";

/** A member added straight into the profile (invitations are another issue's endpoints). */
async function addMember(profileId: string, role: "admin" | "member"): Promise<TestUser> {
  const user = await signUp(t);
  await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${profileId}, ${user.id}, ${role})`;
  return user;
}

interface Started {
  state: string;
  /** Our callback URL as the network sends the browser back to it (code and state in the query). */
  callbackUrl: string;
  /** The cookie connect/init set, as the starting browser would send it back, if any. */
  cookie?: string;
  setCookie: string[];
}

/** connect/init, then the sandbox's consent page (approved), stopping before our callback. */
async function startFlow(
  home: TestHome,
  who: { apiKey?: string; token?: string },
  body: Record<string, unknown>,
  sandboxUser = `u${Math.random().toString(36).slice(2, 10)}`,
): Promise<Started> {
  const init = await home.call("POST", "/api/v1/connect/init", { ...who, body: { platform: "twitter", ...body } });
  expect(init.status, JSON.stringify(init.body)).toBe(200);
  const consentUrl = new URL(init.body.url);
  consentUrl.searchParams.set("sandbox_user", sandboxUser);
  const consent = await fetch(consentUrl, { redirect: "manual" });
  expect(consent.status).toBe(302);
  return {
    state: consentUrl.searchParams.get("state")!,
    callbackUrl: consent.headers.get("location")!,
    cookie: cookieFrom(init.headers),
    setCookie: init.headers.getSetCookie(),
  };
}

const finish = (flow: Started, cookie?: string) => fetch(flow.callbackUrl, { redirect: "manual", headers: cookie ? { cookie } : {} });

async function stateRow(state: string) {
  const [row] = await t.sql<{ used_at: Date | null; browser_nonce_hash: string | null }[]>`
    select used_at, browser_nonce_hash from public.oauth_states where state = ${state}`;
  return row!;
}

const connectionsOf = (profileId: string) => t.sql`select id from public.connections where profile_id = ${profileId}`;

describe("a finished connection only returns to the app's own origin or an origin the profile's owner registered (finding 6)", () => {
  it("refuses a returnUrl on any other origin at connect/init (400 naming returnUrl and how to register it)", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const foreign = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "twitter", returnUrl: "https://evil.example/steal" } });
    assertEnvelope(foreign, 400, "validation_error");
    expect(foreign.body.details).toEqual([{ field: "returnUrl", message: expect.stringContaining(`POST ${ORIGINS}`) }]);
    // The app's own host as userinfo in front of another host is still that other host.
    const disguised = `https://${new URL(t.home.url).host}@evil.example/`;
    const userinfo = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "twitter", returnUrl: disguised } });
    assertEnvelope(userinfo, 400, "validation_error");
    expect(userinfo.body.details[0].field).toBe("returnUrl");
    // The app-password path (no consent page) hands back the returnUrl too: the same rule.
    const bluesky = await t.call("POST", "/api/v1/connect/init", {
      apiKey,
      body: { platform: "bluesky", returnUrl: "https://evil.example/", credentials: { identifier: "x.bsky.social", appPassword: "abcd-efgh-ijkl-mnop" } },
    });
    assertEnvelope(bluesky, 400, "validation_error");
    expect(bluesky.body.details[0].field).toBe("returnUrl");
    expect(await t.sql`select 1 from public.oauth_states where profile_id = ${profileId}`).toHaveLength(0);
    expect(await connectionsOf(profileId)).toHaveLength(0);
  });

  it("accepts an origin the owner registered, and the flow ends there with the connectionId", async () => {
    const { apiKey, profileId, user } = await paidUserWithKey(t);
    const added = await t.call("POST", ORIGINS, { token: user.token, body: { origin: "https://integrator.example", profileId } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    const id = await connectAccount(t, { apiKey }, "twitter", { returnUrl: "https://integrator.example/connected?session=42" });
    expect((await connectionsOf(profileId)).map((r) => r.id)).toEqual([id]);

    // Registered for this profile only: another profile's flows may not use it.
    const other = await paidUserWithKey(t);
    const refused = await t.call("POST", "/api/v1/connect/init", {
      apiKey: other.apiKey,
      body: { platform: "twitter", returnUrl: "https://integrator.example/connected" },
    });
    assertEnvelope(refused, 400, "validation_error");
  });

  it("checks the returnUrl again at the callback: an origin removed meanwhile gets a 400, no redirect, nothing connected", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    expect((await t.call("POST", ORIGINS, { apiKey, body: { origin: "https://leaving.example" } })).status).toBe(201);
    const flow = await startFlow(t, { apiKey }, { returnUrl: "https://leaving.example/back" });
    expect((await t.call("DELETE", `${ORIGINS}?origin=${encodeURIComponent("https://leaving.example")}`, { apiKey })).status).toBe(200);
    const res = await finish(flow);
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    const body = await res.text();
    expect(body).not.toContain("leaving.example");
    expect(JSON.parse(body)).toMatchObject({ success: false, code: "bad_request" });
    expect(await connectionsOf(profileId)).toHaveLength(0);
  });

  it("never sends the returnUrl anywhere from the callback's error paths", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    // An unknown or replayed state has no safe returnUrl: a 400 envelope, no Location.
    const unknown = await fetch(`${t.home.url}/api/connect/callback/twitter?state=nope&code=x`, { redirect: "manual" });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get("location")).toBeNull();
    // A declined consent goes back to the (allowed) returnUrl, with a network error code that cannot inject anything.
    const returnUrl = new URL("/back", t.home.url).toString();
    const init = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "twitter", returnUrl } });
    const state = new URL(init.body.url).searchParams.get("state")!;
    const forged = await fetch(
      `${t.home.url}/api/connect/callback/twitter?state=${state}&error=${encodeURIComponent("x&connectionId=evil https://evil.example")}`,
      { redirect: "manual" },
    );
    expect(forged.status).toBe(302);
    const back = new URL(forged.headers.get("location")!);
    expect(back.origin).toBe(new URL(t.home.url).origin);
    expect(back.searchParams.get("error")).toBe("authorization_failed");
    expect(back.searchParams.get("connectionId")).toBeNull();
    expect(forged.headers.get("referrer-policy")).toBe("no-referrer");
    expect(await connectionsOf(profileId)).toHaveLength(0);
  });
});

describe("only the profile's owner registers return origins, and only real origins (finding 6)", () => {
  it("admins, members, their keys and strangers cannot register an origin (403 members, 404 strangers)", async () => {
    const owner = await paidUserWithKey(t);
    const admin = await addMember(owner.profileId, "admin");
    const member = await addMember(owner.profileId, "member");
    const body = { origin: "https://evil.example", profileId: owner.profileId };
    assertEnvelope(await t.call("POST", ORIGINS, { token: admin.token, body }), 403, "forbidden");
    assertEnvelope(await t.call("POST", ORIGINS, { token: member.token, body }), 403, "forbidden");
    await t.sql`update public.billing_subscriptions set plan = 'starter', status = 'active' where user_id = ${admin.id}`;
    const adminKey = (await createApiKey(t, admin, owner.profileId)).key;
    assertEnvelope(await t.call("POST", ORIGINS, { apiKey: adminKey, body: { origin: "https://evil.example" } }), 403, "forbidden");
    const stranger = await signUp(t);
    assertEnvelope(await t.call("POST", ORIGINS, { token: stranger.token, body }), 404, "not_found");
    expect(await t.sql`select 1 from public.connect_return_origins where profile_id = ${owner.profileId}`).toHaveLength(0);

    // The owner registers it (and an owner's key may too); then admins cannot remove it, but members can read it.
    expect((await t.call("POST", ORIGINS, { token: owner.user.token, body })).status).toBe(201);
    const remove = `${ORIGINS}?origin=${encodeURIComponent("https://evil.example")}&profileId=${owner.profileId}`;
    assertEnvelope(await t.call("DELETE", remove, { token: admin.token }), 403, "forbidden");
    const listed = await t.call("GET", `${ORIGINS}?profileId=${owner.profileId}`, { token: member.token });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      appOrigin: new URL(t.home.url).origin,
      origins: [{ origin: "https://evil.example", profileId: owner.profileId, createdBy: owner.user.id, createdAt: expect.any(String) }],
      limit: 20,
    });
    assertEnvelope(await t.call("GET", `${ORIGINS}?profileId=${owner.profileId}`, { token: stranger.token }), 404, "not_found");
    expect((await t.call("DELETE", remove, { token: owner.user.token })).status).toBe(200);
    assertEnvelope(await t.call("DELETE", remove, { token: owner.user.token }), 404, "not_found");
  });

  it("refuses anything but an origin (400 naming origin)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    for (const origin of [
      "https://app.example/path",
      "https://app.example/?q=1",
      "https://app.example#frag",
      "https://user:pw@app.example",
      "https://user@app.example",
      "javascript:alert(1)",
      "ftp://app.example",
      "http://app.example",
      "https://*.example.com",
      "app.example",
      "",
      `https://${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.example.com`,
    ]) {
      const res = await t.call("POST", ORIGINS, { apiKey, body: { origin } });
      assertEnvelope(res, 400, "validation_error");
      expect(res.body.details[0].field, origin).toBe("origin");
    }
    expect((await t.call("GET", ORIGINS, { apiKey })).body.origins).toEqual([]);
  });

  it("stores origins normalised, once; plain http only for localhost while the app itself runs there", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const first = await t.call("POST", ORIGINS, { apiKey, body: { origin: "HTTPS://App.Example.COM:443/" } });
    expect(first.status).toBe(201);
    expect(first.body.origin.origin).toBe("https://app.example.com");
    expect((await t.call("POST", ORIGINS, { apiKey, body: { origin: "https://app.example.com" } })).status).toBe(200);
    // The local home's APP_URL is http://localhost:<port>, so a local integrator may use http://localhost:<other port>.
    expect((await t.call("POST", ORIGINS, { apiKey, body: { origin: "http://localhost:3000" } })).body.origin.origin).toBe("http://localhost:3000");
    expect((await t.call("GET", ORIGINS, { apiKey })).body.origins.map((o: { origin: string }) => o.origin)).toEqual([
      "https://app.example.com",
      "http://localhost:3000",
    ]);
  });

  it("keeps at most 20 per profile, in the schema too", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    for (let i = 0; i < 20; i++) {
      expect((await t.call("POST", ORIGINS, { apiKey, body: { origin: `https://site${i}.example` } })).status).toBe(201);
    }
    assertEnvelope(await t.call("POST", ORIGINS, { apiKey, body: { origin: "https://one-too-many.example" } }), 409, "conflict");
    const [owner] = await t.sql<{ created_by: string }[]>`select created_by from public.profiles where id = ${profileId}`;
    await expect(
      t.sql`insert into public.connect_return_origins (profile_id, origin, created_by) values (${profileId}, 'https://direct.example', ${owner!.created_by})`,
    ).rejects.toThrow(/at most 20/);
  });

  it("refuses, in the schema, a value that is not a normalised origin whoever writes it", async () => {
    const { profileId, user } = await paidUserWithKey(t);
    for (const origin of ["https://x.example/path", "https://X.example", "https://a@x.example", "javascript:alert(1)"]) {
      await expect(
        t.sql`insert into public.connect_return_origins (profile_id, origin, created_by) values (${profileId}, ${origin}, ${user.id})`,
      ).rejects.toMatchObject({ code: "23514" });
    }
  });
});

describe("a consent link started in a browser completes only in that browser (finding 6)", () => {
  it("binds a session-started flow with an HttpOnly SameSite=Lax cookie scoped to the callback", async () => {
    const { user, profileId } = await paidUserWithKey(t);
    const flow = await startFlow(t, { token: user.token }, { profileId, returnUrl: new URL("/connected", t.home.url).toString() });
    expect(flow.setCookie).toHaveLength(1);
    const attributes = flow.setCookie[0]!.split(";").map((a) => a.trim().toLowerCase());
    expect(attributes).toEqual(expect.arrayContaining(["httponly", "samesite=lax", "path=/api/connect/callback/twitter", "max-age=900"]));
    expect(attributes).not.toContain("secure"); // the local home's APP_URL is http; https APP_URLs add Secure
    expect((await stateRow(flow.state)).browser_nonce_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a victim's browser opening the starter's consent link connects nothing and leaves the state unused", async () => {
    const attacker = await paidUserWithKey(t);
    const flow = await startFlow(t, { token: attacker.user.token }, { profileId: attacker.profileId, returnUrl: `${t.home.url}/back` }, "victim");
    for (const cookie of [undefined, `${flow.cookie!.split("=")[0]}=not-the-nonce`, "amplify_connect_other=whatever"]) {
      const res = await finish(flow, cookie);
      expect(res.status).toBe(302);
      const back = new URL(res.headers.get("location")!);
      expect(back.origin).toBe(new URL(t.home.url).origin);
      expect(back.searchParams.get("error")).toBe("browser_mismatch");
      expect(back.searchParams.get("error_description")).toMatch(/another browser/);
      expect(back.searchParams.get("connectionId")).toBeNull();
    }
    expect(await connectionsOf(attacker.profileId)).toHaveLength(0);
    expect((await stateRow(flow.state)).used_at).toBeNull();

    // The browser that started it still can, once; the answer clears the cookie.
    const res = await finish(flow, flow.cookie);
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get("location")!);
    expect(back.searchParams.get("error"), back.toString()).toBeNull();
    expect(back.searchParams.get("connectionId")).toEqual((await connectionsOf(attacker.profileId))[0]!.id);
    expect(res.headers.get("set-cookie")).toMatch(/Max-Age=0/);
    expect((await stateRow(flow.state)).used_at).not.toBeNull();
    expect((await finish(flow, flow.cookie)).status).toBe(400);
  });

  it("an API-key flow has no browser to bind to: it stays unbound and completes (the README says how to keep it safe)", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const flow = await startFlow(t, { apiKey }, { returnUrl: `${t.home.url}/back` });
    expect(flow.setCookie).toEqual([]);
    expect((await stateRow(flow.state)).browser_nonce_hash).toBeNull();
    const res = await finish(flow);
    const back = new URL(res.headers.get("location")!);
    expect(back.searchParams.get("connected")).toBe("twitter");
    expect((await connectionsOf(profileId)).map((r) => r.id)).toEqual([back.searchParams.get("connectionId")]);
  });
});

describe("the callback completes only while the user who started the flow may still connect accounts to the profile (finding 6)", () => {
  for (const change of ["removed", "demoted to member"] as const) {
    it(`refuses when the starter was ${change} in the meantime, consuming nothing`, async () => {
      const owner = await paidUserWithKey(t);
      const admin = await addMember(owner.profileId, "admin");
      const flow = await startFlow(t, { token: admin.token }, { profileId: owner.profileId, returnUrl: `${t.home.url}/back` });
      if (change === "removed") await t.sql`delete from public.profile_members where profile_id = ${owner.profileId} and user_id = ${admin.id}`;
      else await t.sql`update public.profile_members set role = 'member' where profile_id = ${owner.profileId} and user_id = ${admin.id}`;
      const res = await finish(flow, flow.cookie);
      expect(res.status).toBe(302);
      const back = new URL(res.headers.get("location")!);
      expect(back.searchParams.get("error")).toBe("not_authorized");
      expect(back.searchParams.get("connectionId")).toBeNull();
      expect(await connectionsOf(owner.profileId)).toHaveLength(0);
      expect((await stateRow(flow.state)).used_at).toBeNull();
    });
  }

  it("an admin still on the profile completes", async () => {
    const owner = await paidUserWithKey(t);
    const admin = await addMember(owner.profileId, "admin");
    const id = await connectAccount(t, { token: admin.token }, "linkedin", { profileId: owner.profileId });
    expect((await connectionsOf(owner.profileId)).map((r) => r.id)).toEqual([id]);
  });
});

describe("the data API cannot read, register or remove return origins (finding 6)", () => {
  it("refuses every statement as authenticated or anon, even with the owner's own claims", async () => {
    const { apiKey, profileId, user } = await paidUserWithKey(t);
    expect((await t.call("POST", ORIGINS, { apiKey, body: { origin: "https://mine.example" } })).status).toBe(201);
    const statements = [
      (tx: typeof t.sql) => tx`select origin from public.connect_return_origins`,
      (tx: typeof t.sql) =>
        tx`insert into public.connect_return_origins (profile_id, origin, created_by) values (${profileId}, 'https://evil.example', ${user.id})`,
      (tx: typeof t.sql) => tx`delete from public.connect_return_origins where profile_id = ${profileId}`,
      (tx: typeof t.sql) => tx`update public.oauth_states set browser_nonce_hash = null`,
    ];
    for (const role of ["authenticated", "anon"]) {
      for (const statement of statements) {
        await expect(
          t.sql.begin(async (tx) => {
            await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: user.id, role })}, true)`;
            await tx.unsafe(`set local role ${role}`);
            return statement(tx as unknown as typeof t.sql);
          }),
        ).rejects.toMatchObject({ code: "42501" });
      }
    }
    expect(await t.sql`select origin from public.connect_return_origins where profile_id = ${profileId}`).toEqual([{ origin: "https://mine.example" }]);
  });
});
