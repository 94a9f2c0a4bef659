import { createHash, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readinessOf, type ConnectionRow } from "../../src/connections/serialize.js";
import { catalog } from "../../src/platforms/catalog.js";
import { parseJson, type HttpResponse } from "../../src/platforms/http.js";
import { createPkcePair } from "../../src/platforms/oauth.js";
import { adapterConfig, getAdapter } from "../../src/platforms/registry.js";
import {
  classifyTikTokError,
  createTikTokAdapter,
  planChunks,
  publicPostId,
  tiktokHosts,
  type TikTokAdapterConfig,
} from "../../src/platforms/tiktok.js";
import { sandboxPlatformConfig } from "../../src/local/platforms.js";
import type { Env } from "../../src/core/env.js";
import { PlatformError, type AccountInfo, type MediaItem, type OAuthTokens, type PlatformAdapter, type PublishOutcome } from "../../src/platforms/types.js";
import { followSandboxConsent } from "../../src/sandbox/consent.js";
import { tiktokUnauditedSandboxClient } from "../../src/sandbox/tiktok.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome } from "../helpers/home.js";

/**
 * TikTok-specific guarantees beyond the shared contract: TikTok's PKCE, chunked FILE_UPLOAD and PULL_FROM_URL, the
 * per-minute init limit, creator_info (privacy options, maximum duration, banned creators), unaudited apps, lossless
 * post ids and the envelope's error codes.
 */

const t = useTestHome();
const redirectUri = "https://app.amplify.test/oauth/callback";
const MB = 1024 * 1024;

const SMALL = fakeMp4({ durationSeconds: 5 });
const BIG = fakeMp4({ durationSeconds: 30, totalBytes: 11 * MB });
const LONG = fakeMp4({ durationSeconds: 700 });
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
let mediaHost: Server;
let mediaBase: string;
const clip = (name: string, size?: number): MediaItem => ({ url: `${mediaBase}/${name}`, mimeType: "video/mp4", fileName: name, sizeBytes: size });

let adapter: PlatformAdapter;

beforeAll(async () => {
  const files: Record<string, Buffer> = { "/clip.mp4": SMALL, "/big.mp4": BIG, "/long.mp4": LONG, "/not-a-video.mp4": PNG };
  mediaHost = createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (file) res.writeHead(200, { "content-type": "video/mp4", "content-length": file.length }).end(file);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  mediaBase = `http://127.0.0.1:${(mediaHost.address() as AddressInfo).port}`;
  adapter = await getAdapter("tiktok");
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

const api = (path: string) => `${t.home.url}/sandbox/tiktok${path}`;
const unique = (label: string) => `${label} ${randomUUID().slice(0, 8)}`;
const user = (prefix = "tt") => `${prefix}_${randomUUID().slice(0, 8)}`;

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

interface Connection {
  adapter: PlatformAdapter;
  tokens: OAuthTokens;
  account: AccountInfo;
}

async function connect(name = user(), using: PlatformAdapter = adapter): Promise<Connection> {
  const pkce = createPkcePair();
  const url = using.authorizeUrl({ state: "s", codeChallenge: pkce.challenge, redirectUri, scopes: catalog.tiktok.scopes });
  const { code } = await followSandboxConsent(url, { user: name });
  const tokens = await using.exchangeCode({ code: code!, codeVerifier: pkce.verifier, redirectUri });
  return { adapter: using, tokens, account: await using.getAccount(tokens.accessToken) };
}

/** Publishes and follows checkStatus as the queue would (the sandbox counts checks; no waiting needed). */
async function settle(conn: Connection, text: string, media: MediaItem[], settings: Record<string, unknown> = {}): Promise<PublishOutcome> {
  const request = { accessToken: conn.tokens.accessToken, account: conn.account, text, media, settings };
  let outcome = await conn.adapter.publish(request);
  for (let check = 0; check < 10 && outcome.status === "processing"; check++) outcome = await conn.adapter.checkStatus(request, outcome.state);
  return outcome;
}

/** A TikTok adapter on the sandbox with other options (and, optionally, another registered client). */
function tiktokAdapter(
  options: Omit<Partial<TikTokAdapterConfig>, "clientId" | "clientSecret">,
  client?: { clientId: string; clientSecret: string },
  fetchImpl?: typeof fetch,
): PlatformAdapter {
  return createTikTokAdapter({ ...adapterConfig("tiktok"), ...(client ?? {}), ...(fetchImpl ? { fetch: fetchImpl } : {}), appAudited: true, ...options });
}

async function publishRow(publishId: string) {
  const [row] = await t.sql<{ source: string; privacy_level: string; status: string }[]>`
    select source, privacy_level, status from local_sandbox.tiktok_publishes where publish_id = ${publishId}`;
  return row!;
}

const connectionRow = (account: AccountInfo, settings: Record<string, unknown> = {}): ConnectionRow => ({
  id: randomUUID(),
  profile_id: randomUUID(),
  platform: "tiktok",
  external_account_id: account.externalAccountId,
  username: account.username,
  display_name: account.displayName ?? null,
  avatar_url: null,
  token_expires_at: new Date(Date.now() + 3600_000),
  scopes: catalog.tiktok.scopes,
  status: "connected",
  settings,
  metadata: account.metadata ?? {},
  last_error: null,
  last_synced_at: new Date(),
  created_at: new Date(),
  has_refresh_token: true,
});

describe("TikTok consent and tokens", () => {
  it("takes its client, audit status and verified prefixes from the environment (the local home's sandbox: an audited app)", () => {
    const cloud = {
      TIKTOK_CLIENT_KEY: "ck",
      TIKTOK_CLIENT_SECRET: "cs",
      TIKTOK_PULL_FROM_URL_PREFIXES: "https://cdn.example/v/, https://media.example/",
      SUPABASE_URL: "https://x.supabase.co",
    } as Env;
    expect(adapterConfig("tiktok", cloud, null)).toEqual({
      ...tiktokHosts,
      clientId: "ck",
      clientSecret: "cs",
      appAudited: false,
      pullFromUrlPrefixes: ["https://cdn.example/v/", "https://media.example/"],
    });
    expect(adapterConfig("tiktok", { ...cloud, TIKTOK_APP_AUDITED: true }, null).appAudited).toBe(true);
    const local = sandboxPlatformConfig("http://localhost:8888/sandbox", "http://localhost:8888/storage/v1/object/public/");
    expect(adapterConfig("tiktok", cloud, local)).toMatchObject({
      apiBaseUrl: "http://localhost:8888/sandbox/tiktok",
      appAudited: true,
      pullFromUrlPrefixes: ["http://localhost:8888/storage/v1/object/public/"],
    });
  });

  it("sends consent to www.tiktok.com with client_key, comma-separated scopes and TikTok's hex S256 challenge", () => {
    const real = createTikTokAdapter({ ...tiktokHosts, clientId: "ck", clientSecret: "secret" });
    const pkce = createPkcePair();
    const url = new URL(real.authorizeUrl({ state: "st", codeChallenge: pkce.challenge, redirectUri, scopes: ["user.info.basic", "video.publish"] }));
    expect(`${url.origin}${url.pathname}`).toBe("https://www.tiktok.com/v2/auth/authorize/");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_key: "ck",
      response_type: "code",
      scope: "user.info.basic,video.publish",
      redirect_uri: redirectUri,
      state: "st",
      code_challenge: createHash("sha256").update(pkce.verifier).digest("hex"),
      code_challenge_method: "S256",
    });
  });

  it("a base64url challenge (the RFC's, not TikTok's) does not match the verifier at the token endpoint", async () => {
    const pkce = createPkcePair();
    const url = new URL(adapter.authorizeUrl({ state: "s", codeChallenge: pkce.challenge, redirectUri, scopes: catalog.tiktok.scopes }));
    url.searchParams.set("code_challenge", pkce.challenge);
    const { code } = await followSandboxConsent(url.toString(), { user: user() });
    const res = await fetch(api("/v2/oauth/token/"), {
      method: "POST",
      body: new URLSearchParams({
        client_key: "amplify-local-tiktok",
        client_secret: "amplify-local-tiktok-secret",
        code: code!,
        grant_type: "authorization_code",
        redirect_uri: redirectUri,
        code_verifier: pkce.verifier,
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "invalid_request", error_description: "Code verifier or code challenge is invalid.", log_id: expect.any(String) });
  });

  it("tokens carry TikTok's lifetimes, and a refused grant is auth_error even when TikTok answers it with 200", async () => {
    const conn = await connect();
    expect(conn.tokens.refreshTokenExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 300 * 24 * 3600_000);
    expect(conn.account.metadata).toMatchObject({ openId: conn.account.externalAccountId, canPost: true, maxVideoPostDurationSec: 600 });
    const answersOk = (async () =>
      new Response(JSON.stringify({ error: "invalid_grant", error_description: "Refresh token is invalid or expired.", log_id: "x" }), {
        status: 200,
        headers: { "content-type": "application/json" },
      })) as typeof fetch;
    const error = await failure(tiktokAdapter({}, undefined, answersOk).refresh("rft.anything"));
    expect(error).toMatchObject({ category: "auth_error", details: { platformCode: "invalid_grant" } });
  });

  it("every API answer carries TikTok's envelope; a bad token is 401 access_token_invalid", async () => {
    const conn = await connect();
    const ok = await fetch(api("/v2/user/info/?fields=open_id,display_name"), { headers: { authorization: `Bearer ${conn.tokens.accessToken}` } });
    expect(await ok.json()).toEqual({
      data: { user: { open_id: conn.account.externalAccountId, display_name: expect.any(String) } },
      error: { code: "ok", message: "", log_id: expect.any(String) },
    });
    const bad = await fetch(api("/v2/post/publish/creator_info/query/"), { method: "POST", headers: { authorization: "Bearer nope" } });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ data: {}, error: { code: "access_token_invalid", log_id: expect.any(String) } });
  });
});

describe("TikTok video upload", () => {
  it("uploads a video over 5 MB in chunks with Content-Range (206, then 201) and publishes it", async () => {
    const puts: { range: string | null; status: number }[] = [];
    const spy = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await fetch(input, init);
      if (init?.method === "PUT") puts.push({ range: new Headers(init.headers).get("content-range"), status: res.status });
      return res;
    }) as typeof fetch;
    const chunked = tiktokAdapter({ chunkBytes: 5 * MB }, undefined, spy);
    const conn = await connect(user(), chunked);
    const text = unique("Chunked");
    const outcome = await settle(conn, text, [clip("big.mp4", BIG.length)]);
    expect(outcome).toMatchObject({ status: "published", externalPostId: expect.stringMatching(/^\d{18,19}$/) });
    // floor(11 MB / 5 MB) = 2 chunks: the last one absorbs the remainder.
    expect(puts).toEqual([
      { range: `bytes 0-${5 * MB - 1}/${BIG.length}`, status: 206 },
      { range: `bytes ${5 * MB}-${BIG.length - 1}/${BIG.length}`, status: 201 },
    ]);
    const posts = await (await fetch(api(`/__sandbox/posts?account_id=${conn.account.externalAccountId}`))).json();
    expect(posts.posts).toContainEqual(expect.objectContaining({ text, media: [expect.objectContaining({ mimeType: "video/mp4", sizeBytes: BIG.length })] }));
  });

  it("TikTok's chunk rules: under 5 MB whole, otherwise floor(size / chunk) chunks", () => {
    expect(planChunks(4 * MB, 10 * MB)).toEqual({ chunkSize: 4 * MB, count: 1 });
    expect(planChunks(8 * MB, 10 * MB)).toEqual({ chunkSize: 8 * MB, count: 1 });
    expect(planChunks(25 * MB, 10 * MB)).toEqual({ chunkSize: 10 * MB, count: 2 });
    expect(planChunks(30 * MB, 10 * MB)).toEqual({ chunkSize: 10 * MB, count: 3 });
  });

  it("the sandbox refuses a chunk plan that breaks the rules, and chunks out of order or of the wrong size", async () => {
    const conn = await connect();
    const init = (source: Record<string, unknown>) =>
      fetch(api("/v2/post/publish/video/init/"), {
        method: "POST",
        headers: { authorization: `Bearer ${conn.tokens.accessToken}`, "content-type": "application/json; charset=UTF-8" },
        body: JSON.stringify({ post_info: { title: "raw", privacy_level: "PUBLIC_TO_EVERYONE" }, source_info: { source: "FILE_UPLOAD", ...source } }),
      });
    const badPlan = await init({ video_size: 11 * MB, chunk_size: 5 * MB, total_chunk_count: 3 });
    expect(badPlan.status).toBe(400);
    expect((await badPlan.json()).error.code).toBe("invalid_params");
    const good = await (await init({ video_size: 11 * MB, chunk_size: 5 * MB, total_chunk_count: 2 })).json();
    const put = (range: string, bytes: number) =>
      fetch(good.data.upload_url, { method: "PUT", headers: { "content-type": "video/mp4", "content-range": range }, body: new Uint8Array(bytes) });
    const outOfOrder = await put(`bytes ${5 * MB}-${11 * MB - 1}/${11 * MB}`, 6 * MB);
    expect(outOfOrder.status).toBe(400);
    expect((await outOfOrder.json()).error.code).toBe("invalid_file_upload");
    expect((await put(`bytes 0-${4 * MB - 1}/${11 * MB}`, 4 * MB)).status).toBe(400);
    expect((await put(`bytes 0-${5 * MB - 1}/${11 * MB}`, 5 * MB)).status).toBe(206);
  });

  it("pulls from a verified URL prefix, and uploads the file itself while TikTok has not verified the prefix", async () => {
    const pulling = tiktokAdapter({ pullFromUrlPrefixes: [`${mediaBase}/`] });
    const conn = await connect(user(), pulling);
    const request = { accessToken: conn.tokens.accessToken, account: conn.account, text: unique("Pull me"), media: [clip("clip.mp4")], settings: {} };
    // Not verified at TikTok yet: url_ownership_unverified, so the adapter falls back to FILE_UPLOAD.
    const uploaded = await pulling.publish(request);
    expect(uploaded.status === "processing" && String(uploaded.state.publishId)).toMatch(/^v_pub_file~/);

    const verify = await fetch(api("/__sandbox/verified-url-prefixes"), { method: "POST", body: JSON.stringify({ prefix: `${mediaBase}/` }) });
    expect((await verify.json()).prefixes).toContain(`${mediaBase}/`);
    let outcome = await pulling.publish({ ...request, text: unique("Pulled") });
    expect(outcome.status === "processing" && String(outcome.state.publishId)).toMatch(/^v_pub_url~/);
    const publishId = outcome.status === "processing" ? String(outcome.state.publishId) : "";
    expect(await publishRow(publishId)).toMatchObject({ source: "PULL_FROM_URL", status: "PROCESSING_DOWNLOAD" });
    for (let check = 0; check < 5 && outcome.status === "processing"; check++) outcome = await pulling.checkStatus(request, outcome.state);
    expect(outcome.status).toBe("published");

    const missing = await failure(settle(conn, unique("Gone"), [clip("missing.mp4")]));
    expect(missing).toMatchObject({ category: "media_error", details: { platformCode: "video_pull_failed" } });
  });

  it("refuses, before uploading anything, a video longer than the creator may post and bytes that are not a video", async () => {
    const conn = await connect();
    const long = await failure(settle(conn, unique("Too long"), [clip("long.mp4")]));
    expect(long).toMatchObject({ category: "media_error", details: { platformCode: "duration_check_failed" } });
    expect((await failure(settle(conn, unique("Not video"), [clip("not-a-video.mp4")]))).category).toBe("media_error");
    const media = await (await fetch(api(`/__sandbox/media?account_id=${conn.account.externalAccountId}`))).json();
    expect(media.media).toEqual([]);
  });

  it("the seventh video init within a minute is TikTok's 429, classified rate_limited", async () => {
    // The sandbox counts per clock minute: a burst that straddles a minute boundary is tried again in the next one.
    for (let attempt = 0; attempt < 2; attempt++) {
      const minute = Math.floor(Date.now() / 60_000);
      const conn = await connect();
      const publish = (text: string) =>
        conn.adapter.publish({ accessToken: conn.tokens.accessToken, account: conn.account, text, media: [clip("clip.mp4")], settings: {} });
      const outcomes = [];
      for (let i = 0; i < 6; i++) outcomes.push(await publish(`Burst ${i}`).then((o) => o.status, (e: PlatformError) => e.category));
      const seventh = await publish("Burst 7").then(() => undefined, (e: unknown) => e);
      if (Math.floor(Date.now() / 60_000) !== minute) continue;
      expect(seventh).toBeInstanceOf(PlatformError);
      expect(outcomes).toEqual(Array(6).fill("processing"));
      expect(seventh).toMatchObject({ category: "rate_limited", details: { status: 429, platformCode: "rate_limit_exceeded" } });
      return;
    }
    throw new Error("no burst fitted in one minute");
  });
});

describe("TikTok creators, privacy and audit", () => {
  it("a private account posts at the most public level it is offered; a level it is not offered is refused", async () => {
    const conn = await connect(user("private"));
    expect(conn.account.metadata!.privacyLevelOptions).toEqual(["FOLLOWER_OF_CREATOR", "SELF_ONLY"]);
    const request = { accessToken: conn.tokens.accessToken, account: conn.account, text: unique("Followers"), media: [clip("clip.mp4")], settings: {} };
    const outcome = await conn.adapter.publish(request);
    expect(await publishRow(outcome.status === "processing" ? String(outcome.state.publishId) : "")).toMatchObject({ privacy_level: "FOLLOWER_OF_CREATOR" });

    const settings = { privacyLevel: "PUBLIC_TO_EVERYONE" };
    const error = await failure(conn.adapter.publish({ ...request, settings }));
    expect(error).toMatchObject({ category: "unknown", details: { platformCode: "privacy_level_option_mismatch" } });
    expect(conn.adapter.checkSettings!(settings, { metadata: conn.account.metadata! })).toEqual([{ field: "privacyLevel", message: expect.any(String) }]);
    expect(readinessOf(connectionRow(conn.account, settings)).missingRequirements).toEqual([expect.stringContaining("PUBLIC_TO_EVERYONE")]);
  });

  it("an app TikTok has not audited posts SELF_ONLY, without a public post id, and readiness warns of it", async () => {
    const unaudited = tiktokAdapter({ appAudited: false }, tiktokUnauditedSandboxClient);
    const conn = await connect(user(), unaudited);
    expect(conn.account.metadata).toMatchObject({ postsForcedPrivate: true });
    const readiness = readinessOf(connectionRow(conn.account));
    expect(readiness).toMatchObject({ status: "ready", canPublish: true, warnings: [expect.stringContaining("SELF_ONLY")] });

    const outcome = await settle(conn, unique("Just me"), [clip("clip.mp4")], { privacyLevel: "PUBLIC_TO_EVERYONE" });
    expect(outcome).toEqual({ status: "published", externalPostId: expect.stringMatching(/^v_pub_file~/), url: `https://www.tiktok.com/@${conn.account.username}` });
    expect(await publishRow(outcome.status === "published" ? outcome.externalPostId : "")).toMatchObject({ privacy_level: "SELF_ONLY" });

    // The same unaudited client, configured as if audited: TikTok refuses a public post.
    const misconfigured = tiktokAdapter({ appAudited: true }, tiktokUnauditedSandboxClient);
    const error = await failure(settle({ ...conn, adapter: misconfigured }, unique("Public?"), [clip("clip.mp4")]));
    expect(error).toMatchObject({ category: "unknown", details: { status: 403, platformCode: "unaudited_client_can_only_post_to_private_accounts" } });
  });

  it("a creator TikTok bans from posting connects, but is not ready, and publishing fails", async () => {
    const conn = await connect(user("banned"));
    expect(conn.account.metadata).toMatchObject({ canPost: false, cannotPostReason: expect.stringContaining("banned") });
    expect(readinessOf(connectionRow(conn.account))).toMatchObject({
      status: "not_ready",
      canPublish: false,
      missingRequirements: [expect.stringContaining("TikTok does not let this account post")],
    });
    const error = await failure(settle(conn, unique("Banned"), [clip("clip.mp4")]));
    expect(error).toMatchObject({ category: "unknown", details: { platformCode: "spam_risk_user_banned_from_posting" } });
  });
});

describe("TikTok answers", () => {
  it("reads the public post id exactly, though it does not fit a JavaScript number", async () => {
    expect(publicPostId('{"data":{"status":"PUBLISH_COMPLETE","publicaly_available_post_id":[7381234567890123457]}}')).toBe("7381234567890123457");
    expect(Number("7381234567890123457").toString()).not.toBe("7381234567890123457");
    expect(publicPostId('{"data":{"publicaly_available_post_id":[]}}')).toBeUndefined();
    const conn = await connect();
    const outcome = await settle(conn, unique("Exact id"), [clip("clip.mp4")]);
    const posts = await (await fetch(api(`/__sandbox/posts?account_id=${conn.account.externalAccountId}`))).json();
    expect(posts.posts.map((p: { id: string }) => p.id)).toContain(outcome.status === "published" ? outcome.externalPostId : "");
  });

  it("classifies TikTok's error codes from the envelope, then the status", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const res = (status: number, body: string, headers: Record<string, string> = {}): HttpResponse => ({
      status,
      ok: status < 300,
      headers: new Headers(headers),
      text: body,
      json: parseJson(body),
    });
    const envelope = (code: string) => JSON.stringify({ data: {}, error: { code, message: "m", log_id: "l" } });
    const classify = (status: number, code: string, context: "api" | "upload" | "status" = "api") => classifyTikTokError(res(status, envelope(code)), context, now).category;
    expect(classify(401, "access_token_invalid")).toBe("auth_error");
    expect(classify(401, "scope_not_authorized")).toBe("auth_error");
    expect(classify(403, "spam_risk_too_many_posts")).toBe("rate_limited");
    expect(classify(403, "reached_active_user_cap")).toBe("rate_limited");
    expect(classify(403, "spam_risk_user_banned_from_posting")).toBe("unknown");
    expect(classify(500, "internal_error")).toBe("network_error");
    expect(classify(400, "invalid_file_upload")).toBe("media_error");
    expect(classify(403, "url_ownership_unverified")).toBe("media_error");
    expect(classify(400, "invalid_params")).toBe("unknown");
    expect(classify(400, "invalid_params", "upload")).toBe("media_error");
    const limited = classifyTikTokError(res(429, envelope("rate_limit_exceeded"), { "retry-after": "30" }), "api", now);
    expect(limited).toMatchObject({ category: "rate_limited", details: { retryAfterSeconds: 30, platformCode: "rate_limit_exceeded" } });
    expect(classifyTikTokError(res(502, "<html>Bad Gateway</html>"), "api", now).category).toBe("network_error");
  });
});
