import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readinessOf, type ConnectionRow } from "../../src/connections/serialize.js";
import { catalog } from "../../src/platforms/catalog.js";
import { parseJson, type HttpResponse } from "../../src/platforms/http.js";
import { createInstagramAdapter, instagramHosts } from "../../src/platforms/instagram.js";
import { classifyGraphError } from "../../src/platforms/meta-graph.js";
import { adapterConfig, getAdapter } from "../../src/platforms/registry.js";
import { PlatformError, type AccountInfo, type MediaItem, type OAuthTokens, type PlatformAdapter } from "../../src/platforms/types.js";
import { followSandboxConsent } from "../../src/sandbox/consent.js";
import { createSandboxPlatforms } from "../../src/sandbox/index.js";
import { connectAccount, eventually, sandboxPosts } from "../helpers/connect.js";
import { fakeJpeg } from "../helpers/fake-jpeg.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Instagram-specific guarantees beyond the shared contract: the three hosts of Instagram Login, the account type and
 * what readiness makes of it, Instagram's media rules, the container's life (processing, too-early publish, expiry,
 * a publish whose answer was lost), the hourly call window and the daily publishing quota, and reels published
 * through the whole pipeline, including one that never finishes processing.
 */

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });
const redirectUri = "https://app.amplify.test/oauth/callback";

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
const files: Record<string, [string, Buffer]> = {
  "/square.jpg": ["image/jpeg", fakeJpeg({ width: 1080, height: 1080 })],
  "/story.jpg": ["image/jpeg", fakeJpeg({ width: 1080, height: 1920 })],
  "/pixel.png": ["image/png", PNG],
  "/reel.mp4": ["video/mp4", fakeMp4({ durationSeconds: 8 })],
};
let mediaHost: Server;
let mediaUrl: (path: string) => string;
const item = (path: string): MediaItem => ({ url: mediaUrl(path), mimeType: files[path]?.[0] ?? "image/jpeg" });

let adapter: PlatformAdapter;
let main: { tokens: OAuthTokens; account: AccountInfo };

const api = (path: string) => `${t.home.url}/sandbox/instagram${path}`;

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

async function connect(user: string, accountType?: string) {
  const url = new URL(adapter.authorizeUrl({ state: "s", codeChallenge: "unused", redirectUri, scopes: catalog.instagram.scopes }));
  if (accountType) url.searchParams.set("sandbox_account_type", accountType);
  const { code } = await followSandboxConsent(url.toString(), { user });
  const tokens = await adapter.exchangeCode({ code: code!, codeVerifier: "unused", redirectUri });
  return { tokens, account: await adapter.getAccount(tokens.accessToken) };
}

const request = (conn: typeof main, text: string, media: MediaItem[]) => ({ accessToken: conn.tokens.accessToken, account: conn.account, text, media, settings: {} });

/** Raw Graph call against the sandbox, answered as the adapter's HTTP helper would see it. */
async function graph(method: "GET" | "POST", path: string, token: string, params: Record<string, string> = {}): Promise<HttpResponse> {
  const url = new URL(api(`/v24.0${path}`));
  const init: RequestInit = { method, headers: { authorization: `Bearer ${token}` } };
  if (method === "GET") for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  else init.body = new URLSearchParams(params);
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, ok: res.ok, headers: res.headers, text, json: parseJson(text) };
}

beforeAll(async () => {
  mediaHost = createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (file) res.writeHead(200, { "content-type": file[0], "content-length": file[1].length }).end(file[1]);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  const { port } = mediaHost.address() as AddressInfo;
  mediaUrl = (path) => `http://127.0.0.1:${port}${path}`;
  adapter = await getAdapter("instagram");
  main = await connect("ig_main");
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

describe("Instagram adapter and sandbox", () => {
  it("consents on www.instagram.com, exchanges the code on api.instagram.com and the token on graph.instagram.com", async () => {
    const calls: string[] = [];
    const fake: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      calls.push(`${init?.method ?? "GET"} ${url.origin}${url.pathname}`);
      if (url.pathname === "/oauth/access_token") {
        expect(Object.fromEntries(new URLSearchParams(String(init?.body)))).toEqual({
          client_id: "ig-app",
          client_secret: "ig-secret",
          grant_type: "authorization_code",
          redirect_uri: redirectUri,
          code: "the-code",
        });
        // Business Login documents the answer wrapped in `data`.
        return Response.json({ data: [{ access_token: "short", user_id: "1784", permissions: "instagram_business_basic,instagram_business_content_publish" }] });
      }
      expect(Object.fromEntries(url.searchParams)).toEqual({ grant_type: "ig_exchange_token", client_secret: "ig-secret", access_token: "short" });
      return Response.json({ access_token: "long", token_type: "bearer", expires_in: 5_184_000 });
    };
    const real = createInstagramAdapter({ ...instagramHosts, clientId: "ig-app", clientSecret: "ig-secret", fetch: fake });
    const url = new URL(real.authorizeUrl({ state: "st", codeChallenge: "ignored", redirectUri, scopes: catalog.instagram.scopes }));
    expect(`${url.origin}${url.pathname}`).toBe("https://www.instagram.com/oauth/authorize");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: "ig-app",
      redirect_uri: redirectUri,
      response_type: "code",
      scope: "instagram_business_basic,instagram_business_content_publish",
      state: "st",
    });
    const tokens = await real.exchangeCode({ code: "the-code", codeVerifier: "ignored", redirectUri });
    expect(calls).toEqual(["POST https://api.instagram.com/oauth/access_token", "GET https://graph.instagram.com/access_token"]);
    expect(tokens).toMatchObject({ accessToken: "long", refreshToken: "long", scopes: catalog.instagram.scopes });
    expect(tokens.expiresAt!.getTime() - Date.now()).toBeGreaterThan(59 * 24 * 3600 * 1000);
  });

  it("a used code is refused in api.instagram.com's own error shape, classified auth_error", async () => {
    const url = adapter.authorizeUrl({ state: "s", codeChallenge: "x", redirectUri, scopes: catalog.instagram.scopes });
    const { code } = await followSandboxConsent(url, { user: "ig_code_once" });
    const form = {
      client_id: "amplify-local-instagram",
      client_secret: "amplify-local-instagram-secret",
      grant_type: "authorization_code",
      redirect_uri: redirectUri,
      code: code!,
    };
    expect((await fetch(api("/oauth/access_token"), { method: "POST", body: new URLSearchParams(form) })).status).toBe(200);
    const again = await fetch(api("/oauth/access_token"), { method: "POST", body: new URLSearchParams(form) });
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({ error_type: "OAuthException", code: 400, error_message: "Matching code was not found or was already used" });
  });

  it("reports the professional account behind the token, and the account type", async () => {
    expect(main.account).toMatchObject({
      externalAccountId: expect.stringMatching(/^1784\d{13}$/),
      username: "ig_main",
      metadata: { accountType: "BUSINESS", professional: true },
    });
    const creator = await connect("ig_creator", "creator");
    expect(creator.account.metadata).toMatchObject({ accountType: "MEDIA_CREATOR", professional: true });
  });

  it("a personal account cannot publish: code 10 is an auth_error (switching and reconnecting fixes it)", async () => {
    const personal = await connect("ig_personal", "personal");
    expect(personal.account.metadata).toMatchObject({ accountType: "PERSONAL", professional: false });
    const error = await failure(adapter.publish(request(personal, "Hello", [item("/square.jpg")])));
    expect(error).toMatchObject({ category: "auth_error", details: { platformCode: "10" } });
  });

  it("refuses media Instagram does not take: PNG (before any call), an aspect ratio out of range, an unreachable URL", async () => {
    expect((await failure(adapter.publish(request(main, "png", [item("/pixel.png")])))).category).toBe("media_error");
    const ratio = await failure(adapter.publish(request(main, "tall", [item("/story.jpg")])));
    expect(ratio).toMatchObject({ category: "media_error", details: { platformCode: "36003/2207009" } });
    const missing = await failure(adapter.publish(request(main, "gone", [item("/gone.jpg")])));
    expect(missing).toMatchObject({ category: "media_error", details: { platformCode: "9004/2207052" } });
    // The sandbox itself refuses a PNG as Instagram does (2207005), for callers that do not check first.
    const png = await graph("POST", `/${main.account.externalAccountId}/media`, main.tokens.accessToken, { image_url: mediaUrl("/pixel.png"), caption: "x" });
    expect(classifyGraphError(png, "Instagram", new Date())).toMatchObject({ category: "media_error", details: { platformCode: "9004/2207005" } });
  });

  it("a reel's container stays IN_PROGRESS for a few reads; publishing it too early is 9007/2207027 → media_processing", async () => {
    const created = await graph("POST", `/${main.account.externalAccountId}/media`, main.tokens.accessToken, {
      media_type: "REELS",
      video_url: mediaUrl("/reel.mp4"),
      caption: "early",
    });
    const { id } = created.json as { id: string };
    const status = await graph("GET", `/${id}`, main.tokens.accessToken, { fields: "status_code,status" });
    expect(status.json).toEqual({ id, status_code: "IN_PROGRESS", status: "In Progress: Media is still being processed." });
    const early = await graph("POST", `/${main.account.externalAccountId}/media_publish`, main.tokens.accessToken, { creation_id: id });
    expect(early.status).toBe(400);
    expect((early.json as { error: unknown }).error).toMatchObject({ code: 9007, error_subcode: 2207027, message: "Media ID is not available" });
    expect(classifyGraphError(early, "Instagram", new Date()).category).toBe("media_processing");
  });

  it("a video that cannot be fetched fails once processed: the container's ERROR is a media_error", async () => {
    const reel = [{ url: mediaUrl("/gone.mp4"), mimeType: "video/mp4" }];
    let outcome = await adapter.publish(request(main, "no reel", reel));
    expect(outcome).toMatchObject({ status: "processing", checkAfterSeconds: 1 });
    outcome = await adapter.checkStatus(request(main, "no reel", reel), outcome.status === "processing" ? outcome.state : {});
    expect(outcome).toMatchObject({ status: "processing", checkAfterSeconds: 2 });
    const error = await failure(adapter.checkStatus(request(main, "no reel", reel), outcome.status === "processing" ? outcome.state : {}));
    expect(error).toMatchObject({ category: "media_error", details: { platformCode: "ERROR" } });
    expect(error.message).toContain("2207077");
  });

  it("a container not published within 24 hours expires (a media_error)", async () => {
    const reel = [item("/reel.mp4")];
    const outcome = await adapter.publish(request(main, "later", reel));
    expect(outcome.status).toBe("processing");
    // The same sandbox state, read a day later.
    const later = await createSandboxPlatforms({ sql: t.sql, baseUrl: `${t.home.url}/sandbox`, now: () => new Date(Date.now() + 25 * 3600_000) });
    const tomorrow = createInstagramAdapter({ ...adapterConfig("instagram"), fetch: async (input, init) => later(new Request(input, init)) });
    const error = await failure(tomorrow.checkStatus(request(main, "later", reel), outcome.status === "processing" ? outcome.state : {}));
    expect(error).toMatchObject({ category: "media_error", details: { platformCode: "EXPIRED" } });
  });

  it("a publish whose answer is lost is not repeated: the container says PUBLISHED and the post is found", async () => {
    let lost = 0;
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input instanceof Request ? input.url : input).includes("/media_publish")) return res;
      await res.arrayBuffer();
      lost++;
      const body = { error: { message: "An unexpected error has occurred. Please retry your request later.", type: "OAuthException", code: 2, is_transient: true } };
      return Response.json(body, { status: 500 });
    };
    const flaky = createInstagramAdapter({ ...adapterConfig("instagram"), fetch: lossy });
    const text = `Exactly once ${randomUUID()}`;
    const first = await flaky.publish(request(main, text, [item("/square.jpg")]));
    expect(lost).toBe(1);
    expect(first.status).toBe("processing");
    const outcome = await flaky.checkStatus(request(main, text, [item("/square.jpg")]), first.status === "processing" ? first.state : {});
    const posts = (await sandboxPostsOf(main.account.externalAccountId)).filter((p) => p.text === text);
    expect(posts).toHaveLength(1);
    expect(lost).toBe(1);
    expect(outcome).toEqual({ status: "published", externalPostId: posts[0]!.id, url: expect.stringMatching(/^https:\/\/www\.instagram\.com\/p\/[\w-]{11}\/$/) });
  });

  it("every answer carries X-Business-Use-Case-Usage; a spent hourly window is 80002 with the time to regain access", async () => {
    const conn = await connect("ig_spender");
    const me = await graph("GET", "/me", conn.tokens.accessToken, { fields: "username" });
    const usage = JSON.parse(me.headers.get("x-business-use-case-usage")!) as Record<string, { type: string; call_count: number }[]>;
    expect(usage[conn.account.externalAccountId]![0]).toMatchObject({ type: "instagram", call_count: expect.any(Number) });
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 20 }, () => graph("GET", "/me", conn.tokens.accessToken)));
    }
    const error = await failure(adapter.getAccount(conn.tokens.accessToken));
    expect(error).toMatchObject({ category: "rate_limited", details: { platformCode: "80002" } });
    expect(error.details.retryAfterSeconds).toBeGreaterThanOrEqual(60);
    expect(error.details.retryAfterSeconds).toBeLessThanOrEqual(3600);
  });

  it("publishes at most 100 posts per 24 hours (code 9 / 2207042 → rate_limited) and reports the quota", async () => {
    const conn = await connect("ig_prolific");
    await t.sql`
      insert into local_sandbox.posts (network, id, account_id, text, created_at)
      select 'instagram', 'quota-' || g || '-' || ${conn.account.externalAccountId}, ${conn.account.externalAccountId}, 'post ' || g, now() - interval '1 hour'
      from generate_series(1, 100) g`;
    const limit = await graph("GET", `/${conn.account.externalAccountId}/content_publishing_limit`, conn.tokens.accessToken);
    expect(limit.json).toEqual({ data: [{ quota_usage: 100, config: { quota_total: 100, quota_duration: 86400 } }] });
    const error = await failure(adapter.publish(request(conn, "one too many", [item("/square.jpg")])));
    expect(error).toMatchObject({ category: "rate_limited", details: { platformCode: "9/2207042" } });
  });
});

describe("Instagram readiness", () => {
  const row = (overrides: Partial<ConnectionRow>): ConnectionRow => ({
    id: "c",
    profile_id: "p",
    platform: "instagram",
    external_account_id: "17840000000000000",
    username: "brand",
    display_name: null,
    avatar_url: null,
    token_expires_at: new Date(Date.now() + 50 * 24 * 3600_000),
    scopes: catalog.instagram.scopes,
    status: "connected",
    settings: {},
    metadata: { accountType: "BUSINESS" },
    last_error: null,
    last_synced_at: null,
    created_at: new Date(),
    has_refresh_token: true,
    ...overrides,
  });

  it("a business or creator account is ready; a personal one is not, and says how to fix it", () => {
    expect(readinessOf(row({}))).toEqual({ status: "ready", canPublish: true, canSchedule: true, missingRequirements: [], warnings: [] });
    expect(readinessOf(row({ metadata: { accountType: "MEDIA_CREATOR" } })).status).toBe("ready");
    const personal = readinessOf(row({ metadata: { accountType: "PERSONAL" } }));
    expect(personal).toMatchObject({ status: "not_ready", canPublish: false });
    expect(personal.missingRequirements).toEqual([expect.stringContaining("business or creator account")]);
  });

  it("a missing publishing permission is a missing requirement", () => {
    const readiness = readinessOf(row({ scopes: ["instagram_business_basic"] }));
    expect(readiness.missingRequirements).toEqual(["Missing scopes: instagram_business_content_publish"]);
  });

  it("an expired token cannot be refreshed (reconnect); one about to expire is a warning to sync", () => {
    const expired = readinessOf(row({ token_expires_at: new Date(Date.now() - 1000) }));
    expect(expired.status).toBe("not_ready");
    expect(expired.missingRequirements).toEqual([expect.stringContaining("reconnect the account")]);
    const soon = readinessOf(row({ token_expires_at: new Date(Date.now() + 3 * 24 * 3600_000) }));
    expect(soon.status).toBe("ready");
    expect(soon.warnings).toEqual([expect.stringContaining("sync the connection")]);
  });

  it("follows the account through the API: switched to personal, a sync makes it not ready; switched back, ready", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "instagram");
    const readiness = async () => {
      const res = await t.call("GET", "/api/v1/connections", { apiKey });
      return res.body.connections.find((c: { id: string }) => c.id === id).readiness;
    };
    expect((await readiness()).status).toBe("ready");
    const [c] = await t.sql<{ external_account_id: string }[]>`select external_account_id from public.connections where id = ${id}`;
    const setType = (type: string) =>
      fetch(api(`/__sandbox/accounts/${c!.external_account_id}/account-type?type=${type}`), { method: "POST" }).then((r) => expect(r.status).toBe(200));
    await setType("PERSONAL");
    expect((await t.call("POST", `/api/v1/connections/${id}/sync`, { apiKey })).status).toBe(200);
    expect(await readiness()).toMatchObject({ status: "not_ready", canPublish: false, missingRequirements: [expect.stringContaining("personal")] });
    await setType("BUSINESS");
    await t.call("POST", `/api/v1/connections/${id}/sync`, { apiKey });
    expect((await readiness()).status).toBe("ready");
  });
});

describe("Instagram through the publishing pipeline", () => {
  it("a reel posted through the API stays publishing while Instagram processes it, then is published via the queue", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "instagram");
    const content = `Our new reel ${randomUUID().slice(0, 8)}`;
    const res = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "instagram", content, media: [{ public_url: mediaUrl("/reel.mp4"), mime_type: "video/mp4" }] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const target = await eventually(async () => {
      const [row] = await t.sql`select status, external_post_id, external_url from public.post_targets where post_id = ${res.body.postId}`;
      return row?.status === "published" ? row : undefined;
    }, 20_000, "the reel to be published");
    expect(target.external_url).toMatch(/^https:\/\/www\.instagram\.com\/reel\/[\w-]{11}\/$/);
    const logs = await t.sql`select job_type, status, attempt_number from public.job_logs where post_id = ${res.body.postId}`;
    // Published by a status check through the queue, in the first attempt.
    expect(logs).toEqual([{ job_type: "status_check", status: "success", attempt_number: 1 }]);
    const posts = await sandboxPosts(t, connectionId);
    expect(posts).toEqual([expect.objectContaining({ id: target.external_post_id, text: content, media: [expect.objectContaining({ mimeType: "video/mp4" })] })]);
  });

  it("media Instagram cannot take is refused before anything is written", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "instagram");
    const png = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "instagram", content: "png", media: [{ public_url: mediaUrl("/pixel.png"), mime_type: "image/png" }] },
    });
    expect(png.status).toBe(400);
    const textOnly = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "instagram", content: "no media" } });
    expect(textOnly.status).toBe(400);
    expect(await t.sql`select id from public.posts where profile_id = ${profileId}`).toEqual([]);
  });

  // Past MAX_PROCESSING_SECONDS the executor fails the target for good with media_processing.
  it("a reel that never finishes processing fails with media_processing after the bounded wait", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "instagram");
    const content = `Stuck reel [sandbox:media_processing] ${randomUUID().slice(0, 8)}`;
    // Scheduled a moment ahead, so that the request does not wait for the outcome.
    const scheduleDate = new Date(Date.now() + 500).toISOString();
    const res = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "instagram", content, scheduleDate, media: [{ public_url: mediaUrl("/reel.mp4"), mime_type: "video/mp4" }] },
    });
    expect(res.status).toBe(201);
    await eventually(async () => {
      const [row] = await t.sql`select processing_state from public.post_targets where post_id = ${res.body.postId}`;
      return row?.processing_state ?? undefined;
    }, 10_000, "the reel to be processing");
    // Half an hour of processing, without waiting half an hour.
    await t.sql`update public.post_targets set processing_started_at = now() - interval '31 minutes' where post_id = ${res.body.postId}`;
    await eventually(async () => {
      const [log] = await t.sql`select id from public.job_logs where post_id = ${res.body.postId} and error_category = 'media_processing'`;
      return log;
    }, 10_000, "the bounded wait to be over");
    expect((await sandboxPosts(t, connectionId)).some((p) => p.text === content)).toBe(false);
    const [target] = await t.sql`select status, error_category, processing_state from public.post_targets where post_id = ${res.body.postId}`;
    expect(target).toEqual({ status: "failed", error_category: "media_processing", processing_state: null });
  });
});

async function sandboxPostsOf(accountId: string): Promise<{ id: string; text: string }[]> {
  const res = await fetch(api(`/__sandbox/posts?account_id=${accountId}`));
  return ((await res.json()) as { posts: { id: string; text: string }[] }).posts;
}
