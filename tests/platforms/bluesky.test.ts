import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blueskyHosts, classifyBlueskyError, createBlueskyAdapter, detectFacets, graphemeLength } from "../../src/platforms/bluesky.js";
import type { HttpResponse } from "../../src/platforms/http.js";
import { getAdapter } from "../../src/platforms/registry.js";
import { PlatformError, type AccountInfo, type OAuthTokens, type PlatformAdapter } from "../../src/platforms/types.js";
import { eventually, sandboxControl } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, paidUserWithKey, signUp } from "../helpers/users.js";

/**
 * Bluesky-specific guarantees beyond the shared contract: connecting with a handle and an app password through
 * connect/init (no consent page, the password never stored), link and hashtag facets in UTF-8 bytes, image embeds,
 * the 300-grapheme limit, XRPC errors and rate-limit headers, refresh through the queue, readiness, and the catalog.
 */

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
const APP_PASSWORD = "abcd-efgh-ijkl-mnop";
/** On the app's own origin, which connect/init always accepts (any other must be registered for the profile). */
let returnUrl = "";

let mediaHost: Server;
let mediaBase: string;
let adapter: PlatformAdapter;
let tokens: OAuthTokens;
let account: AccountInfo;
let counter = 0;

const handle = (label: string) => `${label}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}.bsky.social`;
const xrpc = (method: string) => `${t.home.url}/sandbox/bluesky/xrpc/${method}`;

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

async function getRecord(uri: string): Promise<Record<string, any>> {
  const [, , did, collection, rkey] = uri.split("/");
  const res = await fetch(`${xrpc("com.atproto.repo.getRecord")}?repo=${did}&collection=${collection}&rkey=${rkey}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { value: Record<string, any> }).value;
}

beforeAll(async () => {
  returnUrl = new URL("/connected", t.home.url).toString();
  mediaHost = createServer((req, res) => {
    if (req.url === "/pixel.png") res.writeHead(200, { "content-type": "image/png", "content-length": PNG.length }).end(PNG);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  mediaBase = `http://127.0.0.1:${(mediaHost.address() as AddressInfo).port}`;
  adapter = await getAdapter("bluesky");
  tokens = await adapter.signIn!({ identifier: handle("main"), appPassword: APP_PASSWORD });
  account = await adapter.getAccount(tokens.accessToken);
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

describe("Bluesky adapter and sandbox", () => {
  it("a session is a pair of JWTs: the access one short-lived, with the app-password scope; the account is the DID", () => {
    expect(tokens.expiresAt!.getTime() - Date.now()).toBeLessThanOrEqual(2 * 3600 * 1000);
    expect(tokens.refreshTokenExpiresAt!.getTime()).toBeGreaterThan(tokens.expiresAt!.getTime());
    expect(tokens.scopes).toEqual(["com.atproto.appPass"]);
    expect(account).toMatchObject({ externalAccountId: expect.stringMatching(/^did:plc:[a-z2-7]{24}$/), username: expect.stringMatching(/\.bsky\.social$/) });
    expect(account.metadata).toMatchObject({ did: account.externalAccountId, active: true, pds: `${t.home.url}/sandbox/bluesky` });
  });

  it("has no consent page: authorizeUrl and exchangeCode refuse, pointing at signIn", async () => {
    expect(() => adapter.authorizeUrl({ state: "s", codeChallenge: "c", redirectUri: "https://a.example", scopes: [] })).toThrow(/app password/);
    expect((await failure(adapter.exchangeCode({ code: "c", codeVerifier: "v", redirectUri: "https://a.example" }))).category).toBe("unknown");
  });

  it("refuses a session made with the account password (full access), asking for an app password", async () => {
    const claims = Buffer.from(JSON.stringify({ scope: "com.atproto.access", sub: "did:plc:x", exp: 4102444800 })).toString("base64url");
    const jwt = `e30.${claims}.sig`;
    const fake = createBlueskyAdapter({
      ...blueskyHosts,
      fetch: async () => Response.json({ accessJwt: jwt, refreshJwt: jwt, handle: "a.bsky.social", did: "did:plc:x", active: true }),
    });
    const error = await failure(fake.signIn!({ identifier: "a.bsky.social", appPassword: "the-real-password" }));
    expect(error).toMatchObject({ category: "auth_error", message: expect.stringContaining("app password") });
  });

  it("makes links and hashtags clickable with facets whose offsets are UTF-8 bytes", () => {
    const text = "Café ☕ 👩‍👩‍👧 read https://example.com/ü?x=1. #Straße and (https://a.example/b) #2024";
    const facets = detectFacets(text);
    const bytes = Buffer.from(text, "utf8");
    const slice = (f: (typeof facets)[number]) => bytes.subarray(f.index.byteStart, f.index.byteEnd).toString("utf8");
    expect(facets.map(slice)).toEqual(["https://example.com/ü?x=1", "#Straße", "https://a.example/b"]);
    expect(facets.map((f) => f.features[0])).toEqual([
      { $type: "app.bsky.richtext.facet#link", uri: "https://example.com/ü?x=1" },
      { $type: "app.bsky.richtext.facet#tag", tag: "Straße" },
      { $type: "app.bsky.richtext.facet#link", uri: "https://a.example/b" },
    ]);
  });

  it("publishes a post with an image embed (uploaded blob, aspect ratio) and its facets as written", async () => {
    const text = `Ünïcode first, then https://example.org/path #amplify ${Date.now()}`;
    const outcome = await adapter.publish({
      accessToken: tokens.accessToken,
      account,
      text,
      media: [{ url: `${mediaBase}/pixel.png`, mimeType: "image/png" }],
      settings: { langs: ["en", "de"] },
    });
    expect(outcome).toEqual({
      status: "published",
      externalPostId: expect.stringMatching(new RegExp(`^at://${account.externalAccountId}/app\\.bsky\\.feed\\.post/[a-z2-7]{13}$`)),
      url: expect.stringMatching(new RegExp(`^https://bsky\\.app/profile/${account.username.replace(/\./g, "\\.")}/post/[a-z2-7]{13}$`)),
    });
    const record = await getRecord(outcome.status === "published" ? outcome.externalPostId : "");
    expect(record).toMatchObject({ $type: "app.bsky.feed.post", text, langs: ["en", "de"], facets: detectFacets(text) });
    expect(record.embed).toEqual({
      $type: "app.bsky.embed.images",
      images: [
        {
          alt: "",
          image: { $type: "blob", ref: { $link: expect.stringMatching(/^bafkrei[a-z2-7]+$/) }, mimeType: "image/png", size: PNG.length },
          aspectRatio: { width: 1, height: 1 },
        },
      ],
    });
  });

  it("counts 300 graphemes, not characters: 300 emoji with skin tones pass, 301 are refused (unknown)", async () => {
    const emoji = "👍🏽";
    expect(graphemeLength(emoji.repeat(300))).toBe(300);
    expect([...emoji.repeat(300)].length).toBe(600);
    const ok = await adapter.publish({ accessToken: tokens.accessToken, account, text: emoji.repeat(300), media: [], settings: {} });
    expect(ok.status).toBe("published");
    const tooLong = await failure(adapter.publish({ accessToken: tokens.accessToken, account, text: emoji.repeat(301), media: [], settings: {} }));
    expect(tooLong).toMatchObject({ category: "unknown", details: { status: 400, platformCode: "InvalidRequest" } });
    expect(tooLong.message).toContain("300 graphemes");
  });

  it("answers XRPC's errors: ExpiredToken is a 400, a missing token AuthMissing, a used refresh JWT ExpiredToken", async () => {
    const missing = await fetch(xrpc("com.atproto.server.getSession"));
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ error: "AuthMissing", message: "Authentication Required" });
    const session = await adapter.signIn!({ identifier: account.username, appPassword: APP_PASSWORD });
    const refreshed = await adapter.refresh(session.refreshToken!);
    const reused = await fetch(xrpc("com.atproto.server.refreshSession"), { method: "POST", headers: { authorization: `Bearer ${session.refreshToken}` } });
    expect(reused.status).toBe(400);
    expect(await reused.json()).toEqual({ error: "ExpiredToken", message: "Token has been revoked" });
    await fetch(`${t.home.url}/sandbox/bluesky/__sandbox/accounts/${encodeURIComponent(account.externalAccountId)}/expire-access-tokens`, { method: "POST" });
    const expired = await fetch(xrpc("com.atproto.server.getSession"), { headers: { authorization: `Bearer ${refreshed.accessToken}` } });
    expect(expired.status).toBe(400);
    expect(await expired.json()).toEqual({ error: "ExpiredToken", message: "Token has expired" });
    ({ accessToken: tokens.accessToken } = await adapter.signIn!({ identifier: account.username, appPassword: APP_PASSWORD }));
  });

  it("limits sign-ins to 30 per 5 minutes per handle, with ratelimit-* headers and the reset as an epoch", async () => {
    const credentials = { identifier: handle("busy"), appPassword: APP_PASSWORD };
    for (let i = 0; i < 30; i++) await adapter.signIn!(credentials);
    const res = await fetch(xrpc("com.atproto.server.createSession"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identifier: credentials.identifier, password: APP_PASSWORD }),
    });
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ error: "RateLimitExceeded", message: "Rate Limit Exceeded" });
    expect(res.headers.get("ratelimit-policy")).toBe("30;w=300");
    expect(res.headers.get("ratelimit-remaining")).toBe("0");
    const error = await failure(adapter.signIn!(credentials));
    expect(error.category).toBe("rate_limited");
    expect(error.details.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(error.details.retryAfterSeconds).toBeLessThanOrEqual(300);
  });

  it("classifies by status and XRPC error name", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const res = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({
      status,
      ok: status < 300,
      headers: new Headers(headers),
      text: JSON.stringify(body),
      json: body,
    });
    const reset = String(Math.floor(now.getTime() / 1000) + 120);
    expect(classifyBlueskyError(res(400, { error: "ExpiredToken", message: "Token has expired" }), "api", now).category).toBe("auth_error");
    expect(classifyBlueskyError(res(401, { error: "InvalidToken" }), "api", now).category).toBe("auth_error");
    expect(classifyBlueskyError(res(400, { error: "AccountTakedown" }), "api", now).category).toBe("auth_error");
    expect(classifyBlueskyError(res(429, { error: "RateLimitExceeded" }, { "ratelimit-reset": reset }), "api", now)).toMatchObject({
      category: "rate_limited",
      details: { retryAfterSeconds: 120 },
    });
    expect(classifyBlueskyError(res(400, { error: "BlobNotFound", message: "Could not find blob: bafk" }), "api", now).category).toBe("media_error");
    expect(classifyBlueskyError(res(413, { error: "PayloadTooLarge" }), "media", now).category).toBe("media_error");
    expect(classifyBlueskyError(res(400, { error: "InvalidRequest", message: "Invalid app.bsky.feed.post record" }), "api", now).category).toBe("unknown");
    expect(classifyBlueskyError(res(400, { error: "InvalidRequest", message: "Invalid handle" }), "session", now).category).toBe("auth_error");
    expect(classifyBlueskyError(res(502, { error: "UpstreamFailure" }), "api", now).category).toBe("network_error");
  });

  it("refuses images over 1,000,000 bytes before uploading anything (media_error)", async () => {
    const big = createServer((_req, res) => res.writeHead(200, { "content-type": "image/png", "content-length": 1_000_001 }).end(Buffer.alloc(1_000_001)));
    await new Promise<void>((resolve) => big.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(big.address() as AddressInfo).port}/big.png`;
      const error = await failure(adapter.publish({ accessToken: tokens.accessToken, account, text: "big", media: [{ url, mimeType: "image/png" }], settings: {} }));
      expect(error.category).toBe("media_error");
    } finally {
      await new Promise<void>((resolve) => big.close(() => resolve()));
    }
  });
});

describe("Bluesky through the API", () => {
  it("connect/init with a handle and an app password connects at once and answers with the returnUrl", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const identifier = handle("api");
    const init = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "bluesky", returnUrl: `${returnUrl}?x=1`, credentials: { identifier, appPassword: APP_PASSWORD } } });
    expect(init.status, JSON.stringify(init.body)).toBe(200);
    expect(init.body.error).toBeNull();
    const back = new URL(init.body.url);
    expect(`${back.origin}${back.pathname}`).toBe(returnUrl);
    expect(Object.fromEntries(back.searchParams)).toEqual({ x: "1", connected: "bluesky", connectionId: expect.any(String) });

    const [connection] = (await t.call("GET", "/api/v1/connections", { apiKey })).body.connections;
    expect(connection).toMatchObject({
      id: back.searchParams.get("connectionId"),
      platform: "bluesky",
      username: identifier,
      externalAccountId: expect.stringMatching(/^did:plc:/),
      connectionStatus: "connected",
      capabilities: { text: true, images: true, video: false, scheduling: true, analytics: true },
      contract: { displayName: "Bluesky", supportStatus: "partial", publish: { supported: true, scheduling: true } },
      readiness: { status: "ready", canPublish: true, canSchedule: true, missingRequirements: [], warnings: [] },
    });
    // Only the encrypted session is kept: the app password appears nowhere in what was stored.
    const stored = await t.sql`select row_to_json(c)::text as row from public.connections c where id = ${connection.id}`;
    expect(stored[0]!.row).not.toContain(APP_PASSWORD);
    expect(stored[0]!.row).toContain("v2.");
  });

  it("refuses missing or wrong credentials (400 naming `credentials`) and stores nothing; credentials are only for Bluesky", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const identifier = handle("wrong");
    await adapter.signIn!({ identifier, appPassword: APP_PASSWORD });
    const wrong = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "bluesky", returnUrl, credentials: { identifier, appPassword: "zzzz-zzzz-zzzz-zzzz" } } });
    assertEnvelope(wrong, 400, "validation_error");
    expect(wrong.body.details).toEqual([{ field: "credentials", message: expect.stringContaining("refused") }]);
    const none = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "bluesky", returnUrl } });
    assertEnvelope(none, 400, "validation_error");
    expect(none.body.details).toEqual([{ field: "credentials", message: expect.stringContaining("app password") }]);
    const blank = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "bluesky", returnUrl, credentials: { identifier: " ", appPassword: "" } } });
    assertEnvelope(blank, 400, "validation_error");
    const toX = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "twitter", returnUrl, credentials: { identifier, appPassword: APP_PASSWORD } } });
    assertEnvelope(toX, 400, "validation_error");
    expect(toX.body.details).toEqual([{ field: "credentials", message: expect.stringContaining("consent page") }]);
    expect(await t.sql`select 1 from public.connections where profile_id = ${profileId}`).toHaveLength(0);
  });

  it("a member cannot connect an account (as with consent flows), and nothing reaches the network", async () => {
    const owner = await paidUserWithKey(t);
    const member = await signUp(t);
    await t.sql`update public.billing_subscriptions set plan = 'starter', status = 'active' where user_id = ${member.id}`;
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${owner.profileId}, ${member.id}, 'member')`;
    const memberKey = (await createApiKey(t, member, owner.profileId)).key;
    const identifier = handle("member");
    const init = await t.call("POST", "/api/v1/connect/init", { apiKey: memberKey, body: { platform: "bluesky", returnUrl, credentials: { identifier, appPassword: APP_PASSWORD } } });
    assertEnvelope(init, 403, "forbidden");
    expect(await t.sql`select 1 from local_sandbox.accounts where network = 'bluesky' and username = ${identifier}`).toHaveLength(0);
  });

  it("publishes an image post through the queue, refreshing an expired session on the way", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const init = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "bluesky", returnUrl, credentials: { identifier: handle("e2e"), appPassword: APP_PASSWORD } } });
    const connectionId = new URL(init.body.url).searchParams.get("connectionId")!;
    const [before] = await t.sql`select access_token_enc, refresh_token_enc from public.connections where id = ${connectionId}`;
    await sandboxControl(t, connectionId, "expire-access-tokens");

    const content = "Shipped 🚀 https://example.com/changelog #release";
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "bluesky", content, media: [{ public_url: `${mediaBase}/pixel.png`, mime_type: "image/png" }] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const target = await eventually(async () => {
      const [row] = await t.sql`select external_post_id, external_url from public.post_targets where post_id = ${res.body.postId} and status = 'published'`;
      return row;
    }, 15_000, "the Bluesky post to be published");
    expect(target.external_url).toMatch(/^https:\/\/bsky\.app\/profile\/.+\/post\/[a-z2-7]{13}$/);
    const record = await getRecord(target.external_post_id);
    expect(record).toMatchObject({ text: content, facets: detectFacets(content), embed: { $type: "app.bsky.embed.images" } });
    // The first attempt met ExpiredToken; the executor refreshed (the refresh JWT rotated) and published on the same attempt.
    const [after] = await t.sql`select access_token_enc, refresh_token_enc, status from public.connections where id = ${connectionId}`;
    expect(after!.status).toBe("connected");
    expect(after!.access_token_enc).not.toBe(before!.access_token_enc);
    expect(after!.refresh_token_enc).not.toBe(before!.refresh_token_enc);
  });

  it("readiness tells when the account is deactivated (after a sync)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const init = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "bluesky", returnUrl, credentials: { identifier: handle("deact"), appPassword: APP_PASSWORD } } });
    const connectionId = new URL(init.body.url).searchParams.get("connectionId")!;
    await sandboxControl(t, connectionId, "deactivate");
    const synced = await t.call("POST", `/api/v1/connections/${connectionId}/sync`, { apiKey });
    expect(synced.body.connection.readiness).toMatchObject({ status: "not_ready", canPublish: false });
    const [connection] = (await t.call("GET", "/api/v1/connections", { apiKey })).body.connections;
    expect(connection.readiness.missingRequirements).toEqual([expect.stringContaining("Bluesky account is deactivated")]);
  });

  it("the catalog lists Bluesky as partially supported: text and single images, no video", async () => {
    const res = await t.call("GET", "/api/v1/platforms");
    const bluesky = res.body.platforms.find((p: { platform: string }) => p.platform === "bluesky");
    expect(bluesky).toMatchObject({
      supportStatus: "partial",
      publish: { supported: true, text: true, images: true, video: false, requiresMedia: false, scheduling: true, maxTextLength: 300 },
      notes: expect.arrayContaining([expect.stringContaining("app password")]),
    });
  });
});
