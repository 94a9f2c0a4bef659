import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readinessOf, type ConnectionRow } from "../../src/connections/serialize.js";
import { catalog } from "../../src/platforms/catalog.js";
import { getAdapter } from "../../src/platforms/registry.js";
import { createThreadsAdapter, threadsHosts, threadsSettingsSchema } from "../../src/platforms/threads.js";
import { PlatformError, type AccountInfo, type MediaItem, type OAuthTokens, type PlatformAdapter } from "../../src/platforms/types.js";
import { followSandboxConsent } from "../../src/sandbox/consent.js";
import { threadsTextLength } from "../../src/sandbox/threads.js";
import { connectAccount, sandboxPosts } from "../helpers/connect.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Threads-specific guarantees beyond the shared contract: threads.net consent and graph.threads.net tokens, text
 * counted as Threads counts it, the media Threads takes, the usage header and its throttling code, settings, and a
 * post with an image published through the whole pipeline.
 */

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });
const redirectUri = "https://app.amplify.test/oauth/callback";

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
/** The same PNG, its header claiming 1100×100 (a banner beyond Threads' 10:1). */
const BANNER = Buffer.from(PNG);
BANNER.writeUInt32BE(1100, 16);
BANNER.writeUInt32BE(100, 20);
const GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///ywAAAAAAQABAAACAUwAOw==", "base64");
const files: Record<string, [string, Buffer]> = {
  "/pixel.png": ["image/png", PNG],
  "/banner.png": ["image/png", BANNER],
  "/anim.gif": ["image/gif", GIF],
  "/clip.mp4": ["video/mp4", fakeMp4({ durationSeconds: 5 })],
};
let mediaHost: Server;
let mediaUrl: (path: string) => string;
const item = (path: string): MediaItem => ({ url: mediaUrl(path), mimeType: files[path]?.[0] ?? "video/mp4" });

let adapter: PlatformAdapter;
let main: { tokens: OAuthTokens; account: AccountInfo };
const api = (path: string) => `${t.home.url}/sandbox/threads${path}`;

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

async function connect(user: string) {
  const url = adapter.authorizeUrl({ state: "s", codeChallenge: "unused", redirectUri, scopes: catalog.threads.scopes });
  const { code } = await followSandboxConsent(url, { user });
  const tokens = await adapter.exchangeCode({ code: code!, codeVerifier: "unused", redirectUri });
  return { tokens, account: await adapter.getAccount(tokens.accessToken) };
}

const request = (text: string, media: MediaItem[] = [], settings: Record<string, unknown> = {}) => ({
  accessToken: main.tokens.accessToken,
  account: main.account,
  text,
  media,
  settings,
});

beforeAll(async () => {
  mediaHost = createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (file) res.writeHead(200, { "content-type": file[0], "content-length": file[1].length }).end(file[1]);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  const { port } = mediaHost.address() as AddressInfo;
  mediaUrl = (path) => `http://127.0.0.1:${port}${path}`;
  adapter = await getAdapter("threads");
  main = await connect("th_main");
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

describe("Threads adapter and sandbox", () => {
  it("consents on threads.net and gets its tokens from graph.threads.net with the Threads app's credentials", async () => {
    const calls: string[] = [];
    const fake: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      calls.push(`${init?.method ?? "GET"} ${url.origin}${url.pathname}`);
      if (url.pathname === "/oauth/access_token") {
        expect(Object.fromEntries(new URLSearchParams(String(init?.body)))).toMatchObject({ client_id: "th-app", client_secret: "th-secret", code: "c" });
        return Response.json({ access_token: "short", user_id: 1234 });
      }
      expect(Object.fromEntries(url.searchParams)).toEqual({ grant_type: "th_exchange_token", client_secret: "th-secret", access_token: "short" });
      return Response.json({ access_token: "long", token_type: "bearer", expires_in: 5_183_944 });
    };
    const real = createThreadsAdapter({ ...threadsHosts, clientId: "th-app", clientSecret: "th-secret", fetch: fake });
    const url = new URL(real.authorizeUrl({ state: "st", codeChallenge: "ignored", redirectUri, scopes: catalog.threads.scopes }));
    expect(`${url.origin}${url.pathname}`).toBe("https://threads.net/oauth/authorize");
    expect(url.searchParams.get("scope")).toBe("threads_basic,threads_content_publish");
    expect(url.searchParams.has("code_challenge")).toBe(false);
    const tokens = await real.exchangeCode({ code: "c", codeVerifier: "ignored", redirectUri });
    expect(calls).toEqual(["POST https://graph.threads.net/oauth/access_token", "GET https://graph.threads.net/access_token"]);
    expect(tokens).toMatchObject({ accessToken: "long", refreshToken: "long", scopes: catalog.threads.scopes });
  });

  it("counts text as Threads does (emoji by their UTF-8 bytes) and refuses more than 500", async () => {
    expect(threadsTextLength("héllo")).toBe(5);
    expect(threadsTextLength("👋")).toBe(4);
    const tag = randomUUID().slice(0, 8);
    const fits = `${tag} ${"👋".repeat(122)}`; // 9 + 122 × 4 = 497
    expect((await adapter.publish(request(fits))).status).toBe("published");
    const tooLong = await failure(adapter.publish(request(`${fits} 👋`)));
    expect(tooLong).toMatchObject({ category: "unknown", details: { status: 400, platformCode: "100" } });
  });

  it("publishes a PNG; refuses a GIF before any call and an image beyond 10:1 with Threads' aspect-ratio error", async () => {
    const text = `A PNG ${randomUUID()}`;
    const outcome = await adapter.publish(request(text, [item("/pixel.png")]));
    expect(outcome).toEqual({ status: "published", externalPostId: expect.any(String), url: expect.stringMatching(/^https:\/\/www\.threads\.net\/@th_main\/post\//) });
    expect((await failure(adapter.publish(request("gif", [item("/anim.gif")])))).category).toBe("media_error");
    const banner = await failure(adapter.publish(request("banner", [item("/banner.png")])));
    expect(banner).toMatchObject({ category: "media_error", details: { platformCode: "36003/2207009" } });
  });

  it("a video Threads cannot download ends in an ERROR container (FAILED_DOWNLOADING_VIDEO), a media_error", async () => {
    const clip = [{ url: mediaUrl("/gone.mp4"), mimeType: "video/mp4" }];
    let outcome = await adapter.publish(request("lost clip", clip));
    expect(outcome.status).toBe("processing");
    outcome = await adapter.checkStatus(request("lost clip", clip), outcome.status === "processing" ? outcome.state : {});
    expect(outcome.status).toBe("processing");
    const error = await failure(adapter.checkStatus(request("lost clip", clip), outcome.status === "processing" ? outcome.state : {}));
    expect(error.category).toBe("media_error");
    expect(error.message).toContain("FAILED_DOWNLOADING_VIDEO");
  });

  it("answers carry X-App-Usage; Threads' throttling (code 17) is rate_limited, with no reset to honour", async () => {
    const me = await fetch(api("/v1.0/me?fields=username"), { headers: { authorization: `Bearer ${main.tokens.accessToken}` } });
    expect(JSON.parse(me.headers.get("x-app-usage")!)).toMatchObject({ call_count: expect.any(Number) });
    const error = await failure(adapter.publish(request(`Slow down [sandbox:rate_limited] ${randomUUID()}`)));
    expect(error).toMatchObject({ category: "rate_limited", details: { platformCode: "17" } });
    expect(error.details.retryAfterSeconds).toBeUndefined();
  });

  it("takes a reply-control setting and refuses unknown values", () => {
    expect(threadsSettingsSchema.safeParse({ replyControl: "mentioned_only" }).success).toBe(true);
    expect(threadsSettingsSchema.safeParse({ replyControl: "nobody" }).success).toBe(false);
  });

  it("an expired token makes the connection not ready (it cannot be refreshed); otherwise it is ready", () => {
    const row: ConnectionRow = {
      id: "c",
      profile_id: "p",
      platform: "threads",
      external_account_id: "2",
      username: "me",
      display_name: null,
      avatar_url: null,
      token_expires_at: new Date(Date.now() + 30 * 24 * 3600_000),
      scopes: catalog.threads.scopes,
      status: "connected",
      settings: {},
      metadata: {},
      last_error: null,
      last_synced_at: null,
      created_at: new Date(),
      has_refresh_token: true,
    };
    expect(readinessOf(row).status).toBe("ready");
    expect(readinessOf({ ...row, token_expires_at: new Date(Date.now() - 1000) })).toMatchObject({ status: "not_ready", canPublish: false });
  });
});

describe("Threads through the publishing pipeline", () => {
  it("an image post through POST /api/v1/post is published at once, and its text and media reach Threads", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "threads");
    const content = `Hello Threads ${randomUUID().slice(0, 8)}`;
    const res = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "threads", content, media: [{ public_url: mediaUrl("/pixel.png"), mime_type: "image/png" }] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      status: "published",
      targets: [{ platform: "threads", status: "published", external_post_id: expect.stringMatching(/^\d{17}$/), url: expect.stringMatching(/^https:\/\/www\.threads\.net\//) }],
    });
    const posts = await sandboxPosts(t, connectionId);
    expect(posts).toEqual([
      expect.objectContaining({ id: res.body.targets[0].external_post_id, text: content, media: [expect.objectContaining({ mimeType: "image/png", sizeBytes: PNG.length })] }),
    ]);
  });
});
