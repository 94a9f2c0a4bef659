import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readinessOf, type ConnectionRow } from "../../src/connections/serialize.js";
import { catalog } from "../../src/platforms/catalog.js";
import { parseJson, type HttpResponse } from "../../src/platforms/http.js";
import { createPkcePair } from "../../src/platforms/oauth.js";
import { adapterConfig, getAdapter } from "../../src/platforms/registry.js";
import { sandboxPlatformConfig } from "../../src/local/platforms.js";
import { PlatformError, type AccountInfo, type MediaItem, type OAuthTokens, type PlatformAdapter, type PublishOutcome } from "../../src/platforms/types.js";
import {
  classifyYouTubeError,
  createYouTubeAdapter,
  processingOutcome,
  secondsUntilQuotaReset,
  titleAndDescription,
  youtubeHosts,
  type YouTubeAdapterConfig,
} from "../../src/platforms/youtube.js";
import type { Env } from "../../src/core/env.js";
import { sandboxClients } from "../../src/sandbox/clients.js";
import { followSandboxConsent } from "../../src/sandbox/consent.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome } from "../helpers/home.js";

/**
 * YouTube-specific guarantees beyond the shared contract: Google's consent and token hosts, offline access, the
 * resumable upload (308 Resume Incomplete, resuming after an interruption), processing and its outcomes, the quota
 * and its reset, titles and descriptions, and the privacy lock on unaudited projects.
 */

const t = useTestHome();
const redirectUri = "https://app.amplify.test/oauth/callback";
const KiB = 1024;

const CLIP = fakeMp4({ durationSeconds: 8, totalBytes: 700 * KiB });
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");
let mediaHost: Server;
let clip: MediaItem;
let notVideo: MediaItem;
let adapter: PlatformAdapter;

beforeAll(async () => {
  const files: Record<string, Buffer> = { "/clip.mp4": CLIP, "/not-a-video.mp4": PNG };
  mediaHost = createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (file) res.writeHead(200, { "content-type": "video/mp4", "content-length": file.length }).end(file);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(mediaHost.address() as AddressInfo).port}`;
  clip = { url: `${base}/clip.mp4`, mimeType: "video/mp4", fileName: "clip.mp4", sizeBytes: CLIP.length };
  notVideo = { url: `${base}/not-a-video.mp4`, mimeType: "video/mp4", fileName: "not-a-video.mp4" };
  adapter = await getAdapter("youtube");
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

const api = (path: string) => `${t.home.url}/sandbox/youtube${path}`;
const unique = (label: string) => `${label} ${randomUUID().slice(0, 8)}`;

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

async function connect(using: PlatformAdapter = adapter): Promise<Connection> {
  const pkce = createPkcePair();
  const url = using.authorizeUrl({ state: "s", codeChallenge: pkce.challenge, redirectUri, scopes: catalog.youtube.scopes });
  const { code } = await followSandboxConsent(url, { user: `yt_${randomUUID().slice(0, 8)}` });
  const tokens = await using.exchangeCode({ code: code!, codeVerifier: pkce.verifier, redirectUri });
  return { adapter: using, tokens, account: await using.getAccount(tokens.accessToken) };
}

async function settle(conn: Connection, text: string, media: MediaItem[] = [clip]): Promise<PublishOutcome> {
  const request = { accessToken: conn.tokens.accessToken, account: conn.account, text, media, settings: {} };
  let outcome = await conn.adapter.publish(request);
  for (let check = 0; check < 10 && outcome.status === "processing"; check++) outcome = await conn.adapter.checkStatus(request, outcome.state);
  return outcome;
}

function youtubeAdapter(overrides: Partial<YouTubeAdapterConfig>): PlatformAdapter {
  return createYouTubeAdapter({ ...adapterConfig("youtube"), projectAudited: false, ...overrides });
}

async function sandboxVideo(conn: Connection, id: string) {
  const res = await fetch(api(`/youtube/v3/videos?part=snippet,status&id=${id}`), { headers: { authorization: `Bearer ${conn.tokens.accessToken}` } });
  return ((await res.json()) as { items: { snippet: Record<string, unknown>; status: Record<string, unknown> }[] }).items[0]!;
}

const response = (status: number, body: string, headers: Record<string, string> = {}): HttpResponse => ({
  status,
  ok: status < 300,
  headers: new Headers(headers),
  text: body,
  json: parseJson(body),
});
const googleBody = (code: number, reason: string, domain = "global") =>
  JSON.stringify({ error: { code, message: "m", errors: [{ message: "m", domain, reason }] } });

describe("YouTube consent and tokens", () => {
  it("takes its Google client and audit status from the environment; the real config carries Google's token host", () => {
    const cloud = { YOUTUBE_CLIENT_ID: "cid", YOUTUBE_CLIENT_SECRET: "cs" } as Env;
    expect(adapterConfig("youtube", cloud, null)).toEqual({ ...youtubeHosts, clientId: "cid", clientSecret: "cs", projectAudited: false });
    expect(youtubeHosts.tokenBaseUrl).toBe("https://oauth2.googleapis.com");
    expect(adapterConfig("youtube", { ...cloud, YOUTUBE_PROJECT_AUDITED: true }, null).projectAudited).toBe(true);
    // The sandbox's registered client belongs to an unaudited project, whatever the environment says.
    const local = sandboxPlatformConfig("http://localhost:8888/sandbox", "http://localhost:8888/storage/v1/object/public/");
    expect(adapterConfig("youtube", { ...cloud, YOUTUBE_PROJECT_AUDITED: true }, local)).toMatchObject({
      tokenBaseUrl: "http://localhost:8888/sandbox/youtube",
      projectAudited: false,
    });
  });

  it("sends consent to accounts.google.com for offline access with PKCE, and exchanges codes on oauth2.googleapis.com", async () => {
    const calls: string[] = [];
    const fakeFetch = (async (input: RequestInfo | URL) => {
      calls.push(String(input));
      return new Response(JSON.stringify({ access_token: "ya29.x", expires_in: 3599, refresh_token: "1//r", scope: "s", token_type: "Bearer" }), {
        headers: { "content-type": "application/json" },
      });
    }) as typeof fetch;
    const real = createYouTubeAdapter({ ...youtubeHosts, clientId: "cid.apps.googleusercontent.com", clientSecret: "secret", fetch: fakeFetch });
    const url = new URL(real.authorizeUrl({ state: "st", codeChallenge: "ch", redirectUri, scopes: catalog.youtube.scopes }));
    expect(`${url.origin}${url.pathname}`).toBe("https://accounts.google.com/o/oauth2/v2/auth");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: "cid.apps.googleusercontent.com",
      redirect_uri: redirectUri,
      response_type: "code",
      scope: catalog.youtube.scopes.join(" "),
      access_type: "offline",
      prompt: "consent",
      include_granted_scopes: "true",
      state: "st",
      code_challenge: "ch",
      code_challenge_method: "S256",
    });
    const tokens = await real.exchangeCode({ code: "4/abc", codeVerifier: "v", redirectUri });
    expect(calls).toEqual(["https://oauth2.googleapis.com/token"]);
    expect(tokens).toMatchObject({ accessToken: "ya29.x", refreshToken: "1//r" });
  });

  it("without access_type=offline Google issues no refresh token; a dead refresh token is invalid_grant → auth_error", async () => {
    const clientForm = { client_id: sandboxClients.youtube.clientId, client_secret: sandboxClients.youtube.clientSecret };
    const pkce = createPkcePair();
    const url = new URL(adapter.authorizeUrl({ state: "s", codeChallenge: pkce.challenge, redirectUri, scopes: catalog.youtube.scopes }));
    url.searchParams.delete("access_type");
    const { code } = await followSandboxConsent(url.toString(), { user: `online_${randomUUID().slice(0, 6)}` });
    const tokens = await adapter.exchangeCode({ code: code!, codeVerifier: pkce.verifier, redirectUri });
    expect(tokens.refreshToken).toBeUndefined();
    const res = await fetch(api("/token"), {
      method: "POST",
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: "nope", ...clientForm }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "invalid_grant", error_description: "Token has been expired or revoked." });
    expect((await failure(adapter.refresh("nope"))).category).toBe("auth_error");
  });

  it("the account is the channel, and readiness warns that an unaudited project's uploads are private", async () => {
    const conn = await connect();
    expect(conn.account).toMatchObject({
      externalAccountId: expect.stringMatching(/^UC[\w-]{22}$/),
      username: expect.stringMatching(/^@yt_/),
      metadata: { channelId: conn.account.externalAccountId, uploadsForcedPrivate: true, longUploadsStatus: "allowed" },
    });
    const row: ConnectionRow = {
      id: randomUUID(),
      profile_id: randomUUID(),
      platform: "youtube",
      external_account_id: conn.account.externalAccountId,
      username: conn.account.username,
      display_name: null,
      avatar_url: null,
      token_expires_at: conn.tokens.expiresAt!,
      scopes: conn.tokens.scopes,
      status: "connected",
      settings: {},
      metadata: conn.account.metadata!,
      last_error: null,
      last_synced_at: new Date(),
      created_at: new Date(),
      has_refresh_token: true,
    };
    expect(readinessOf(row)).toMatchObject({ status: "ready", canPublish: true, missingRequirements: [], warnings: [expect.stringContaining("private")] });
    const eligible = readinessOf({ ...row, metadata: { ...row.metadata, uploadsForcedPrivate: false, longUploadsStatus: "eligible" } });
    expect(eligible.warnings).toEqual([expect.stringContaining("15 minutes")]);
  });
});

describe("YouTube resumable upload and processing", () => {
  it("uploads in 256 KiB-multiple chunks (308 Resume Incomplete with Range, then 201), processes, and locks it private", async () => {
    const puts: { range: string | null; status: number; received: string | null }[] = [];
    const spy = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await fetch(input, init);
      if (init?.method === "PUT") puts.push({ range: new Headers(init.headers).get("content-range"), status: res.status, received: res.headers.get("range") });
      return res;
    }) as typeof fetch;
    const conn = await connect(youtubeAdapter({ chunkBytes: 256 * KiB, fetch: spy }));
    const text = unique("First line is the title\nAnd the rest describes it.");
    const outcome = await settle(conn, text);
    expect(outcome).toEqual({ status: "published", externalPostId: expect.stringMatching(/^[\w-]{11}$/), url: expect.stringMatching(/^https:\/\/www\.youtube\.com\/watch\?v=/) });
    const total = CLIP.length;
    expect(puts).toEqual([
      { range: `bytes 0-${256 * KiB - 1}/${total}`, status: 308, received: `bytes=0-${256 * KiB - 1}` },
      { range: `bytes ${256 * KiB}-${512 * KiB - 1}/${total}`, status: 308, received: `bytes=0-${512 * KiB - 1}` },
      { range: `bytes ${512 * KiB}-${total - 1}/${total}`, status: 201, received: null },
    ]);
    const video = await sandboxVideo(conn, outcome.status === "published" ? outcome.externalPostId : "");
    expect(video.snippet).toMatchObject({ title: "First line is the title", description: text, categoryId: "22" });
    // An unaudited API project asked for public, and got private.
    expect(video.status).toMatchObject({ privacyStatus: "private", uploadStatus: "processed" });
  });

  it("a non-final chunk keeps only its whole 256 KiB units, and the client resumes from the Range", async () => {
    const conn = await connect();
    const start = await fetch(api("/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status"), {
      method: "POST",
      headers: {
        authorization: `Bearer ${conn.tokens.accessToken}`,
        "content-type": "application/json; charset=UTF-8",
        "x-upload-content-length": String(CLIP.length),
        "x-upload-content-type": "video/mp4",
      },
      body: JSON.stringify({ snippet: { title: "Raw upload" }, status: { privacyStatus: "unlisted" } }),
    });
    expect(start.status).toBe(200);
    const session = start.headers.get("location")!;
    const put = (range: string, body: Buffer) => fetch(session, { method: "PUT", headers: { "content-range": range }, body: new Uint8Array(body) });
    const partial = await put(`bytes 0-${300 * KiB - 1}/${CLIP.length}`, CLIP.subarray(0, 300 * KiB));
    expect(partial.status).toBe(308);
    expect(partial.headers.get("range")).toBe(`bytes=0-${256 * KiB - 1}`);
    const probe = await put(`bytes */${CLIP.length}`, Buffer.alloc(0));
    expect([probe.status, probe.headers.get("range")]).toEqual([308, `bytes=0-${256 * KiB - 1}`]);
    const rest = await put(`bytes ${256 * KiB}-${CLIP.length - 1}/${CLIP.length}`, CLIP.subarray(256 * KiB));
    expect(rest.status).toBe(201);
    const video = (await rest.json()) as { id: string; status: { uploadStatus: string } };
    expect(video.status.uploadStatus).toBe("uploaded");
    // A completed session answers its video again.
    const again = await put(`bytes */${CLIP.length}`, Buffer.alloc(0));
    expect([again.status, ((await again.json()) as { id: string }).id]).toEqual([201, video.id]);
  });

  it("an upload interrupted by a 5xx is probed and resumed where Google says it got to", async () => {
    let failedOnce = false;
    const flaky = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const range = new Headers(init?.headers).get("content-range") ?? "";
      if (init?.method === "PUT" && !failedOnce && range.startsWith(`bytes ${256 * KiB}-`)) {
        failedOnce = true;
        return new Response("<html>502 Bad Gateway</html>", { status: 502 });
      }
      return fetch(input, init);
    }) as typeof fetch;
    const conn = await connect(youtubeAdapter({ chunkBytes: 256 * KiB, fetch: flaky }));
    const outcome = await settle(conn, unique("Resumed"));
    expect(failedOnce).toBe(true);
    expect(outcome.status).toBe("published");
  });

  it("refuses bytes that are not a video before starting an upload", async () => {
    const conn = await connect();
    expect((await failure(settle(conn, unique("Not a video"), [notVideo]))).category).toBe("media_error");
    const media = await (await fetch(api(`/__sandbox/media?account_id=${conn.account.externalAccountId}`))).json();
    expect(media.media).toEqual([]);
  });

  it("a spent daily quota is 403 quotaExceeded, rate_limited until midnight Pacific", async () => {
    const conn = await connect();
    const day = new Intl.DateTimeFormat("en-CA", { timeZone: "America/Los_Angeles" }).format(new Date());
    await t.sql`
      insert into local_sandbox.youtube_quota (client_id, day, bucket, used) values (${sandboxClients.youtube.clientId}, ${day}, 'insert', 100)
      on conflict (client_id, day, bucket) do update set used = 100`;
    try {
      const error = await failure(settle(conn, unique("Over quota")));
      expect(error).toMatchObject({ category: "rate_limited", details: { status: 403, platformCode: "quotaExceeded" } });
      expect(Math.abs(error.details.retryAfterSeconds! - secondsUntilQuotaReset(new Date()))).toBeLessThanOrEqual(5);
    } finally {
      await t.sql`update local_sandbox.youtube_quota set used = 0 where bucket = 'insert'`;
    }
  });
});

describe("YouTube answers", () => {
  it("the quota day ends at midnight Pacific time, in winter and in summer", () => {
    expect(secondsUntilQuotaReset(new Date("2026-01-15T07:59:00Z"))).toBe(60); // 23:59 PST
    expect(secondsUntilQuotaReset(new Date("2026-07-01T06:30:00Z"))).toBe(1800); // 23:30 PDT
    expect(secondsUntilQuotaReset(new Date("2026-07-01T07:00:00Z"))).toBe(24 * 3600); // 00:00 PDT
  });

  it("title from the first line (100 characters, ‹ › for < >), description the whole text within 5,000 bytes", () => {
    expect(titleAndDescription("\n  Launch <today>  \nDetails follow")).toEqual({ title: "Launch ‹today›", description: "\n  Launch ‹today›  \nDetails follow" });
    const long = titleAndDescription("x".repeat(150));
    expect([...long.title]).toHaveLength(100);
    expect(long.title.endsWith("…")).toBe(true);
    expect(titleAndDescription("", "holiday-clip.mp4").title).toBe("holiday-clip");
    const heavy = titleAndDescription("é".repeat(3000)).description;
    expect(Buffer.byteLength(heavy)).toBe(5000);
  });

  it("a video's status and processing details say when it is live, failed or rejected", () => {
    const video = (status: Record<string, string>, processingStatus?: string) => ({ id: "v", status, processingDetails: processingStatus ? { processingStatus } : undefined });
    const thrown = (v: ReturnType<typeof video>) => {
      try {
        processingOutcome(v);
      } catch (e) {
        return e as PlatformError;
      }
      throw new Error("expected a failure");
    };
    expect(processingOutcome(video({ uploadStatus: "uploaded" }, "processing"))).toBe("processing");
    expect(processingOutcome(video({ uploadStatus: "processed" }, "succeeded"))).toBe("published");
    expect(thrown(video({ uploadStatus: "rejected", rejectionReason: "duplicate" })).category).toBe("duplicate");
    expect(thrown(video({ uploadStatus: "rejected", rejectionReason: "length" })).category).toBe("media_error");
    expect(thrown(video({ uploadStatus: "rejected", rejectionReason: "uploaderAccountSuspended" })).category).toBe("auth_error");
    expect(thrown(video({ uploadStatus: "rejected", rejectionReason: "copyright" })).category).toBe("unknown");
    expect(thrown(video({ uploadStatus: "failed", failureReason: "codec" }))).toMatchObject({ category: "media_error", details: { platformCode: "codec" } });
    expect(thrown(video({ uploadStatus: "uploaded" }, "terminated")).category).toBe("media_error");
  });

  it("classifies Google's errors from their reasons, then the status", () => {
    const now = new Date("2026-01-15T07:59:00Z");
    expect(classifyYouTubeError(response(401, googleBody(401, "authError")), "api", now).category).toBe("auth_error");
    expect(classifyYouTubeError(response(403, googleBody(403, "insufficientPermissions")), "api", now).category).toBe("auth_error");
    expect(classifyYouTubeError(response(403, googleBody(403, "quotaExceeded", "youtube.quota")), "api", now)).toMatchObject({
      category: "rate_limited",
      details: { retryAfterSeconds: 60, platformCode: "quotaExceeded" },
    });
    expect(classifyYouTubeError(response(400, googleBody(400, "uploadLimitExceeded", "youtube.video")), "api", now).details.retryAfterSeconds).toBe(86400);
    const short = classifyYouTubeError(response(403, googleBody(403, "rateLimitExceeded", "usageLimits"), { "retry-after": "20" }), "api", now);
    expect(short).toMatchObject({ category: "rate_limited", details: { retryAfterSeconds: 20 } });
    expect(classifyYouTubeError(response(503, googleBody(503, "backendError")), "api", now).category).toBe("network_error");
    expect(classifyYouTubeError(response(502, "<html>Bad Gateway</html>"), "upload", now).category).toBe("network_error");
    expect(classifyYouTubeError(response(400, googleBody(400, "invalidTitle", "youtube.video")), "api", now).category).toBe("unknown");
    expect(classifyYouTubeError(response(404, googleBody(404, "notFound")), "upload", now).category).toBe("media_error");
  });
});
