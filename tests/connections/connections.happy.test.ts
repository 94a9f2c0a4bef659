import { describe, expect, it } from "vitest";
import { connectAccount, sandboxControl } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, paidUserWithKey, signUp } from "../helpers/users.js";

const t = useTestHome();

describe("connections: happy paths", () => {
  it("connects an account through the OAuth flow and lists it exactly as the contract shows", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "twitter", { sandboxUser: "handle" });
    const list = await t.call("GET", "/api/v1/connections", { apiKey });
    expect(list.status).toBe(200);
    expect(list.body.connections).toEqual([
      expect.objectContaining({
        id,
        platform: "twitter",
        username: expect.stringMatching(/^@\w+/),
        externalAccountId: expect.stringMatching(/^\d+$/),
        externalAccountName: expect.stringMatching(/^@\w+/),
        connectionStatus: "connected",
        capabilities: { text: true, images: true, video: false, scheduling: true, analytics: true },
        contract: {
          displayName: "Twitter / X",
          supportStatus: "partial",
          publish: { supported: true, scheduling: true },
          notes: ["Current publishing path supports text and single-image posts."],
        },
        readiness: { status: "ready", canPublish: true, canSchedule: true, missingRequirements: [], warnings: [] },
      }),
    ]);
  });

  it("stores tokens encrypted, never in the clear and never readable by a user's session", async () => {
    const { apiKey, user } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "linkedin");
    const [row] = await t.sql`select access_token_enc, refresh_token_enc from public.connections where id = ${id}`;
    expect(row!.access_token_enc).toMatch(/^v2\./);
    const tokens = await t.sql`select token from local_sandbox.tokens limit 1`.catch(() => []);
    for (const { token } of tokens) expect(JSON.stringify(row)).not.toContain(token);
    await expect(
      t.sql.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: user.id, role: "authenticated" })}, true)`;
        await tx`set local role amplify_api`;
        return tx`select access_token_enc from public.connections`;
      }),
    ).rejects.toMatchObject({ code: "42501" });
  });

  it("reconnecting the same account updates the connection instead of adding another", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const first = await connectAccount(t, { apiKey }, "twitter", { sandboxUser: "same-person" });
    const second = await connectAccount(t, { apiKey }, "twitter", { sandboxUser: "same-person" });
    expect(second).toBe(first);
    expect((await t.call("GET", "/api/v1/connections", { apiKey })).body.connections).toHaveLength(1);
  });

  it("sync refreshes the token; a refresh the network rejects marks the connection for reconnection", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "twitter");
    const [before] = await t.sql`select access_token_enc from public.connections where id = ${id}`;
    const synced = await t.call("POST", `/api/v1/connections/${id}/sync`, { apiKey });
    expect(synced.status).toBe(200);
    expect(synced.body).toEqual({
      connection: { id, platform: "twitter", connectionStatus: "connected", readiness: expect.objectContaining({ status: "ready", canPublish: true }) },
    });
    const [after] = await t.sql`select access_token_enc from public.connections where id = ${id}`;
    expect(after!.access_token_enc).not.toBe(before!.access_token_enc);

    await sandboxControl(t, id, "revoke-refresh-tokens");
    const rejected = await t.call("POST", `/api/v1/connections/${id}/sync`, { apiKey });
    expect(rejected.status).toBe(200);
    expect(rejected.body.connection).toMatchObject({
      connectionStatus: "needs_reconnect",
      readiness: { status: "needs_reconnect", canPublish: false },
    });
  });

  it("lists where an account can publish, for the settings that choose it (Pinterest boards)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "pinterest");
    const [pinterest] = (await t.call("GET", "/api/v1/connections", { apiKey })).body.connections;
    expect(pinterest.id).toBe(id);
    expect(pinterest.destinations.boards.length).toBeGreaterThan(0);
    expect(pinterest.destinations.boards[0]).toEqual({ id: expect.any(String), name: expect.any(String) });
    expect(pinterest.readiness).toMatchObject({ status: "not_ready", canPublish: false });
    const patched = await t.call("PATCH", `/api/v1/connections/${id}`, { apiKey, body: { settings: { boardId: pinterest.destinations.boards[0].id } } });
    expect(patched.body.connection.readiness.status).toBe("ready");
  });

  it("disconnects an account", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "twitter");
    const res = await t.call("DELETE", `/api/v1/connections/${id}`, { apiKey });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true });
    expect((await t.call("GET", "/api/v1/connections", { apiKey })).body.connections).toEqual([]);
  });

  it("publishes the platform catalog without credentials", async () => {
    const res = await t.call("GET", "/api/v1/platforms");
    expect(res.status).toBe(200);
    const twitter = res.body.platforms.find((p: { platform: string }) => p.platform === "twitter");
    expect(twitter).toMatchObject({
      platform: "twitter",
      displayName: "Twitter / X",
      accountType: "social_profile",
      supportStatus: "partial",
      scopes: expect.arrayContaining(["tweet.read", "tweet.write", "users.read", "offline.access"]),
      publish: { supported: true, text: true, images: true, video: false, requiresMedia: false, supportedMediaTypes: ["image/*"], scheduling: true },
      analytics: { supported: true },
    });
    expect(res.body.platforms.find((p: { platform: string }) => p.platform === "snapchat").supportStatus).toBe("unsupported");
  });
});

describe("connections: errors and faults", () => {
  it("a consent link works once, and not after it expires", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const returnUrl = new URL("/back", t.home.url).toString(); // the app's own origin: always allowed
    const init = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "twitter", returnUrl } });
    const consent = await fetch(init.body.url, { redirect: "manual" });
    const callback = consent.headers.get("location")!;
    expect((await fetch(callback, { redirect: "manual" })).status).toBe(302);
    const replay = await fetch(callback, { redirect: "manual" });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ success: false, code: "bad_request" });

    const init2 = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "twitter", returnUrl } });
    const state = new URL(init2.body.url).searchParams.get("state");
    await t.sql`update public.oauth_states set expires_at = now() - interval '1 second' where state = ${state}`;
    const consent2 = await fetch(init2.body.url, { redirect: "manual" });
    expect((await fetch(consent2.headers.get("location")!, { redirect: "manual" })).status).toBe(400);
  });

  it("a user who declines is sent back to the returnUrl with the error", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    // An integrator's own origin, registered by the profile's owner (here with the owner's key).
    expect((await t.call("POST", "/api/v1/connect/return-origins", { apiKey, body: { origin: "https://app.example" } })).status).toBe(201);
    const init = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "twitter", returnUrl: "https://app.example/back?x=1" } });
    const url = new URL(init.body.url);
    url.searchParams.set("sandbox_deny", "1");
    const consent = await fetch(url, { redirect: "manual" });
    const back = await fetch(consent.headers.get("location")!, { redirect: "manual" });
    const location = new URL(back.headers.get("location")!);
    expect(location.origin + location.pathname).toBe("https://app.example/back");
    expect(location.searchParams.get("x")).toBe("1");
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(await t.sql`select 1 from public.connections where profile_id = ${profileId}`).toHaveLength(0);
  });

  it("refuses bad connect/init input (400)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    for (const body of [
      { platform: "myspace", returnUrl: "https://a.example" },
      { platform: "twitter", returnUrl: "not a url" },
      { platform: "twitter", returnUrl: "javascript:alert(1)" },
      { platform: "twitter" },
    ]) {
      assertEnvelope(await t.call("POST", "/api/v1/connect/init", { apiKey, body }), 400, "validation_error");
    }
    const snap = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "snapchat", returnUrl: "https://a.example" } });
    assertEnvelope(snap, 400, "bad_request");
    expect(snap.body.error).toContain("Snapchat");
  });

  it("a member cannot connect or remove accounts, and nobody reaches another profile's connections", async () => {
    const owner = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey: owner.apiKey }, "twitter");
    const member = await signUp(t);
    await t.sql`update public.billing_subscriptions set plan = 'starter', status = 'active' where user_id = ${member.id}`;
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${owner.profileId}, ${member.id}, 'member')`;
    const memberKey = (await createApiKey(t, member, owner.profileId)).key;
    expect((await t.call("GET", "/api/v1/connections", { apiKey: memberKey })).body.connections).toHaveLength(1);
    assertEnvelope(await t.call("DELETE", `/api/v1/connections/${id}`, { apiKey: memberKey }), 403, "forbidden");
    const init = await t.call("POST", "/api/v1/connect/init", { apiKey: memberKey, body: { platform: "twitter", returnUrl: t.home.url } });
    assertEnvelope(init, 403, "forbidden");

    const stranger = await paidUserWithKey(t);
    assertEnvelope(await t.call("DELETE", `/api/v1/connections/${id}`, { apiKey: stranger.apiKey }), 404, "not_found");
    assertEnvelope(await t.call("POST", `/api/v1/connections/${id}/sync`, { apiKey: stranger.apiKey }), 404, "not_found");
    expect((await t.call("GET", "/api/v1/connections", { apiKey: stranger.apiKey })).body.connections).toEqual([]);
    assertEnvelope(await t.call("GET", `/api/v1/connections?profileId=${owner.profileId}`, { apiKey: stranger.apiKey }), 404, "not_found");
  });
});
