import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { connectAccount } from "./connect.js";
import type { CallOptions, TestHome } from "./home.js";
import { createApiKey, createProfile, paidUserWithKey, signUp, subscribe, type TestUser } from "./users.js";

/** What the suite's owner has, made through the API before any endpoint is tried. */
export interface SecurityFixture {
  owner: TestUser;
  profileId: string;
  apiKey: string;
  keyId: string;
  /** A connected (sandbox) X account of the owner's profile. */
  connectionId: string;
  /** A post scheduled an hour ahead, and its one scheduled post (target). */
  postId: string;
  scheduledPostId: string;
  /** A webhook endpoint of the profile, and the delivery of the post's post.scheduled event to it. */
  webhookId: string;
  deliveryId: string;
  /** An uploaded media record's file path. */
  mediaPath: string;
  /** A content template of the profile. */
  templateId: string;
  /** A recurring schedule of the profile (daily, posting to the connected X account). */
  scheduleId: string;
  /** A member who joined the profile by invitation (their membership id), and a pending invitation. */
  memberId: string;
  invitationId: string;
}

export interface EndpointUnderTest {
  /** The route-table key this entry exercises, e.g. "GET /api/v1/posts/:postId": its auth mode comes from the table. */
  route: string;
  /** The path, built from the owner's fixture. */
  path: (f: SecurityFixture) => string;
  body?: (f: SecurityFixture) => unknown;
  /** The request names one of the owner's resources: a stranger's valid key or session must get 404 for it. */
  ownedResource?: boolean;
}

export function assertEnvelope(res: { status: number; headers: Headers; body: any }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toMatchObject({ success: false, code, error: expect.any(String), requestId: expect.any(String) });
  expect(res.headers.get("x-request-id")).toBe(res.body.requestId);
}

type AuthMode = "none" | "session" | "any";

/** Every route of every function, with the auth mode its route table declares (read from the modules themselves). */
export async function routeAuthModes(): Promise<Map<string, AuthMode>> {
  const dir = fileURLToPath(new URL("../../netlify/functions/", import.meta.url));
  const modes = new Map<string, AuthMode>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts")).sort()) {
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { default?: { auth?: Record<string, AuthMode> } };
    for (const [route, mode] of Object.entries(mod.default?.auth ?? {})) modes.set(route, mode);
  }
  return modes;
}

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

/**
 * The one security suite every authenticated endpoint runs: no credentials, malformed, unknown and revoked keys,
 * a key whose owner's subscription lapsed, a bad bearer token, API keys on browser-only routes, and a stranger's
 * valid key or session naming the owner's resources.
 */
export function securitySuite(t: TestHome, endpoints: EndpointUnderTest[], modes: Map<string, AuthMode>) {
  const f = {} as SecurityFixture & { revokedKey: string; lapsedKey: string; foreignKey: string; foreignToken: string };
  beforeAll(async () => {
    const base = await paidUserWithKey(t);
    Object.assign(f, { owner: base.user, profileId: base.profileId, apiKey: base.apiKey, keyId: base.keyId });
    const revoked = await createApiKey(t, f.owner, f.profileId, "to revoke");
    const res = await t.call("DELETE", `/api/api-keys/${revoked.id}`, { token: f.owner.token });
    expect(res.status).toBe(200);
    f.revokedKey = revoked.key;

    f.connectionId = await connectAccount(t, { apiKey: f.apiKey }, "twitter");
    const hook = await t.call("POST", "/api/v1/webhook-endpoints", {
      apiKey: f.apiKey,
      body: { url: `${t.home.url}/security-suite-hook`, events: ["*"] },
    });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    f.webhookId = hook.body.endpoint.id;
    const post = await t.call("POST", "/api/v1/post", { apiKey: f.apiKey, body: { platform: "twitter", content: "Security suite", scheduleDate: inAnHour() } });
    expect(post.status, JSON.stringify(post.body)).toBe(201);
    f.postId = post.body.postId;
    const [target] = await t.sql<{ id: string }[]>`select id from public.post_targets where post_id = ${f.postId}`;
    f.scheduledPostId = target!.id;
    const [delivery] = await t.sql<{ id: string }[]>`select id from public.webhook_deliveries where endpoint_id = ${f.webhookId} limit 1`;
    f.deliveryId = delivery!.id;
    const upload = await t.call("POST", "/api/v1/media/upload-url", {
      apiKey: f.apiKey,
      body: { fileName: "a.png", contentType: "image/png", fileSize: 70 },
    });
    expect(upload.status, JSON.stringify(upload.body)).toBe(200);
    f.mediaPath = upload.body.media.file_path;
    const template = await t.call("POST", "/api/v1/templates", { apiKey: f.apiKey, body: { name: "Security suite", content: "Hi {{name}}" } });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    f.templateId = template.body.template.id;
    const schedule = await t.call("POST", "/api/v1/recurring-schedules", {
      apiKey: f.apiKey,
      body: { name: "Security suite", content: "Daily", platforms: ["twitter"], recurrencePattern: "daily", timeOfDay: "09:00", timezone: "UTC" },
    });
    expect(schedule.status, JSON.stringify(schedule.body)).toBe(201);
    f.scheduleId = schedule.body.schedule.id;
    const joiner = await signUp(t);
    const invited = await t.call("POST", `/api/v1/profiles/${f.profileId}/invitations`, {
      token: f.owner.token,
      body: { email: joiner.email, role: "member" },
    });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    const token = new URL(invited.body.invitation.inviteUrl).pathname.split("/").at(-1);
    expect((await t.call("POST", `/api/v1/invitations/${token}/accept`, { token: joiner.token })).status).toBe(200);
    const [member] = await t.sql<{ id: string }[]>`select id from public.profile_members where profile_id = ${f.profileId} and user_id = ${joiner.id}`;
    f.memberId = member!.id;
    const pending = await t.call("POST", `/api/v1/profiles/${f.profileId}/invitations`, {
      token: f.owner.token,
      body: { email: `pending-${joiner.id}@example.com`, role: "member" },
    });
    expect(pending.status, JSON.stringify(pending.body)).toBe(201);
    f.invitationId = pending.body.invitation.id;

    const lapsed = await paidUserWithKey(t);
    await subscribe(t, lapsed.user, "starter", "canceled");
    f.lapsedKey = lapsed.apiKey;

    const stranger = await signUp(t);
    await subscribe(t, stranger, "growth");
    const strangerProfile = await createProfile(t, stranger, "Stranger's");
    f.foreignKey = (await createApiKey(t, stranger, strangerProfile)).key;
    f.foreignToken = stranger.token;
  });

  const send = (e: EndpointUnderTest, options: CallOptions) => t.call(e.route.split(" ")[0]!, e.path(f), { ...options, body: e.body?.(f) });

  for (const e of endpoints) {
    const mode = modes.get(e.route);
    describe(`${e.route}${e.ownedResource ? " (another tenant's resource)" : ""}: security`, () => {
      it("is an authenticated route of a function", () => {
        expect(mode === "any" || mode === "session", `${e.route} is ${mode ?? "in no route table"}`).toBe(true);
      });
      it("refuses a request without credentials (401)", async () => {
        assertEnvelope(await send(e, {}), 401, "unauthorized");
      });
      it("refuses a malformed bearer token (401)", async () => {
        assertEnvelope(await send(e, { token: "not-a-jwt" }), 401, "invalid_token");
      });
      if (e.ownedResource) {
        it("never reaches another tenant's resource with a valid session (404)", async () => {
          assertEnvelope(await send(e, { token: f.foreignToken }), 404, "not_found");
        });
      }
      if (mode === "session") {
        it("refuses API keys: browser sessions only (403)", async () => {
          assertEnvelope(await send(e, { apiKey: f.apiKey }), 403, "forbidden");
        });
        return;
      }
      it("refuses a malformed API key (401)", async () => {
        assertEnvelope(await send(e, { apiKey: "definitely-not-a-key" }), 401, "invalid_api_key");
      });
      it("refuses an unknown API key (401)", async () => {
        assertEnvelope(await send(e, { apiKey: `ak_${"x".repeat(43)}` }), 401, "invalid_api_key");
      });
      it("refuses a revoked API key (401)", async () => {
        assertEnvelope(await send(e, { apiKey: f.revokedKey }), 401, "invalid_api_key");
      });
      it("refuses a key whose owner has no active paid subscription (402)", async () => {
        assertEnvelope(await send(e, { apiKey: f.lapsedKey }), 402, "subscription_required");
      });
      if (e.ownedResource) {
        it("never reaches another tenant's resource with a valid key (404)", async () => {
          assertEnvelope(await send(e, { apiKey: f.foreignKey }), 404, "not_found");
        });
      }
    });
  }
}
