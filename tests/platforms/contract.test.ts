import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { catalog, type PublishablePlatform } from "../../src/platforms/catalog.js";
import { createPkcePair } from "../../src/platforms/oauth.js";
import { getAdapter } from "../../src/platforms/registry.js";
import {
  errorCategories,
  PlatformError,
  type AccountCredentials,
  type AccountInfo,
  type ErrorCategory,
  type MediaItem,
  type OAuthTokens,
  type PlatformAdapter,
  type PublishOutcome,
} from "../../src/platforms/types.js";
import { followSandboxConsent } from "../../src/sandbox/consent.js";
import { fakeJpeg } from "../helpers/fake-jpeg.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome } from "../helpers/home.js";

/** Registers a test only for the networks it applies to, so a network it does not apply to reports nothing skipped. */
const itWhen = (applies: unknown): typeof it => (applies ? it : ((() => undefined) as unknown as typeof it));

/**
 * One contract every platform adapter keeps, run against its sandbox through the local home: consent → code →
 * tokens → account, publishing text, an image or a video (followed through `checkStatus` where the network finishes
 * later, as the queue would), each failure category classified exactly, retries after a transient failure, refresh
 * (rotating or not), expired and revoked tokens, PKCE and single-use codes.
 */

const t = useTestHome();

/** A 1×1 PNG, served by a tiny media host the adapters download from. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
/** A square JPEG (for networks that publish JPEG only) and a small MP4 (for video networks). */
const JPEG = fakeJpeg({ width: 1080, height: 1080 });
const MP4 = fakeMp4({ durationSeconds: 5 });
let mediaHost: Server;
let image: MediaItem;
let jpeg: MediaItem;
let video: MediaItem;

beforeAll(async () => {
  const files: Record<string, [string, Buffer]> = { "/pixel.png": ["image/png", PNG], "/photo.jpg": ["image/jpeg", JPEG], "/clip.mp4": ["video/mp4", MP4] };
  mediaHost = createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (file) res.writeHead(200, { "content-type": file[0], "content-length": file[1].length }).end(file[1]);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  const { port } = mediaHost.address() as AddressInfo;
  image = { url: `http://127.0.0.1:${port}/pixel.png`, mimeType: "image/png", fileName: "pixel.png", sizeBytes: PNG.length };
  jpeg = { url: `http://127.0.0.1:${port}/photo.jpg`, mimeType: "image/jpeg", fileName: "photo.jpg", sizeBytes: JPEG.length };
  video = { url: `http://127.0.0.1:${port}/clip.mp4`, mimeType: "video/mp4", fileName: "clip.mp4", sizeBytes: MP4.length };
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

interface ContractCase {
  platform: PublishablePlatform;
  /** The network checks a PKCE verifier (LinkedIn's web flow has no PKCE). */
  pkce: boolean;
  /** Each refresh returns a new refresh token and retires the old one (X); otherwise the same one is reused. */
  rotatesRefreshTokens: boolean;
  /** The network says when a rate limit lifts (X's `x-rate-limit-reset`; LinkedIn sends nothing). */
  reportsRateLimitReset: boolean;
  /** The `error` the network redirects back with when the user declines. */
  declinedError: string;
  /** The most seconds a reported rate-limit reset may be ahead (default 10; Meta reports whole minutes). */
  rateLimitResetMaxSeconds?: number;
  /** Nothing is published without media (Instagram): text alone is refused with media_error, and posts carry an image. */
  requiresMedia?: boolean;
  /** The image format the network publishes (default PNG; Instagram takes JPEG only). */
  imageType?: "png" | "jpeg";
  /** The network publishes one video, finished later: publish → `processing` → checkStatus … → published. */
  video?: boolean;
  /**
   * Media goes through a container the network processes first (Instagram, Threads): an injected media_processing
   * leaves the post `processing` for ever (the executor's bounded wait turns that into a media_processing failure).
   */
  finishesLater?: boolean;
  /** The network refuses the same text twice from one account (default true). */
  detectsDuplicates?: boolean;
  /**
   * No refresh token (Instagram, Threads): the live long-lived access token is refreshed with itself and doubles as the
   * refresh token; an expired one cannot be refreshed, and revoking the app is what stops refreshes.
   */
  refreshesWithAccessToken?: boolean;
  /** Each refresh returns a new refresh token and the old one keeps working until it expires (Meta's fb_exchange_token). */
  reissuesRefreshTokens?: boolean;
  /** The access token has an expiry (default true; Facebook Page tokens have none). */
  accessTokenExpires?: boolean;
  /** Only video finishes later (Facebook: photos publish at once): an injected media_processing rides on a video. */
  onlyVideoFinishesLater?: boolean;
  /** Connection settings every publish needs (Pinterest's default board, Reddit's subreddit), from the connected account. */
  settings?: (account: AccountInfo) => Record<string, unknown>;
  /** No consent page: an account connects with these credentials (Bluesky: a handle and an app password). */
  credentials?: (user: string) => AccountCredentials;
  /**
   * The failure categories the network has an answer for (default: all). A marker for another one is ignored by the
   * sandbox (it does not invent errors a network lacks), so that post is published.
   */
  categories?: readonly ErrorCategory[];
  /** The network publishes images (default true; Reddit self posts take none, and an image is refused with media_error). */
  acceptsImages?: boolean;
  /** The network publishes video only (TikTok, YouTube): posts carry the video, and a media failure rides on it. */
  videoOnly?: boolean;
  /**
   * The network limits publishes per user token to a few a minute (TikTok: 6 video inits, 20 creator_info queries):
   * each test connects its own account, so the suite's pace does not trip the real limit the sandbox enforces.
   */
  freshAccountPerTest?: boolean;
}

const cases: ContractCase[] = [
  { platform: "twitter", pkce: true, rotatesRefreshTokens: true, reportsRateLimitReset: true, declinedError: "access_denied" },
  { platform: "linkedin", pkce: false, rotatesRefreshTokens: false, reportsRateLimitReset: false, declinedError: "user_cancelled_authorize" },
  {
    platform: "instagram",
    pkce: false,
    rotatesRefreshTokens: false,
    reportsRateLimitReset: true,
    rateLimitResetMaxSeconds: 60,
    declinedError: "access_denied",
    requiresMedia: true,
    imageType: "jpeg",
    video: true,
    finishesLater: true,
    detectsDuplicates: false,
    refreshesWithAccessToken: true,
  },
  {
    platform: "threads",
    pkce: false,
    rotatesRefreshTokens: false,
    reportsRateLimitReset: false,
    declinedError: "access_denied",
    video: true,
    finishesLater: true,
    detectsDuplicates: false,
    refreshesWithAccessToken: true,
  },
  {
    platform: "facebook",
    pkce: false,
    rotatesRefreshTokens: false,
    reissuesRefreshTokens: true,
    accessTokenExpires: false,
    reportsRateLimitReset: true,
    rateLimitResetMaxSeconds: 60,
    declinedError: "access_denied",
    video: true,
    finishesLater: true,
    onlyVideoFinishesLater: true,
  },
  {
    platform: "pinterest",
    pkce: false,
    rotatesRefreshTokens: true,
    reportsRateLimitReset: false,
    declinedError: "access_denied",
    requiresMedia: true,
    detectsDuplicates: false,
    categories: ["rate_limited", "auth_error", "network_error", "media_error", "unknown"],
    settings: (account) => ({ boardId: (account.metadata!.boards as { id: string }[])[0]!.id }),
  },
  {
    platform: "reddit",
    pkce: false,
    rotatesRefreshTokens: false,
    reportsRateLimitReset: true,
    declinedError: "access_denied",
    detectsDuplicates: false,
    acceptsImages: false,
    categories: ["rate_limited", "auth_error", "network_error", "duplicate", "unknown"],
    settings: () => ({ subreddit: "amplify_sandbox" }),
  },
  {
    platform: "bluesky",
    pkce: false,
    rotatesRefreshTokens: true,
    reportsRateLimitReset: true,
    declinedError: "",
    detectsDuplicates: false,
    categories: ["rate_limited", "auth_error", "network_error", "media_error", "unknown"],
    credentials: (user) => ({ identifier: `${user.toLowerCase().replace(/_/g, "-")}.bsky.social`, appPassword: "abcd-efgh-ijkl-mnop" }),
  },
  {
    platform: "tiktok",
    pkce: true,
    rotatesRefreshTokens: true,
    reportsRateLimitReset: false,
    declinedError: "access_denied",
    requiresMedia: true,
    videoOnly: true,
    acceptsImages: false,
    video: true,
    finishesLater: true,
    detectsDuplicates: false,
    freshAccountPerTest: true,
    categories: ["rate_limited", "auth_error", "network_error", "media_error", "media_processing", "unknown"],
  },
  {
    platform: "youtube",
    pkce: true,
    rotatesRefreshTokens: false,
    // quotaExceeded lifts when the quota day ends, at midnight Pacific time.
    reportsRateLimitReset: true,
    rateLimitResetMaxSeconds: 25 * 3600,
    declinedError: "access_denied",
    requiresMedia: true,
    videoOnly: true,
    acceptsImages: false,
    video: true,
    finishesLater: true,
    detectsDuplicates: false,
  },
];

interface Connection {
  tokens: OAuthTokens;
  account: AccountInfo;
}

const redirectUri = "https://app.amplify.test/oauth/callback";

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

const unique = (label: string) => `${label} ${randomUUID().slice(0, 8)}`;

describe.each(cases)("$platform adapter against its sandbox", (c) => {
  let adapter: PlatformAdapter;
  let main: Connection;

  const sandboxUrl = (path: string) => `${t.home.url}/sandbox/${c.platform}/__sandbox${path}`;

  async function control(accountId: string, action: string): Promise<void> {
    const res = await fetch(sandboxUrl(`/accounts/${encodeURIComponent(accountId)}/${action}`), { method: "POST" });
    expect(res.status).toBe(200);
  }

  async function sandboxPosts(accountId: string): Promise<{ id: string; text: string; media: { mimeType: string; sizeBytes: number }[] }[]> {
    const res = await fetch(sandboxUrl(`/posts?account_id=${encodeURIComponent(accountId)}`));
    expect(res.status).toBe(200);
    return ((await res.json()) as { posts: never[] }).posts;
  }

  async function consent(user: string) {
    const pkce = createPkcePair();
    const state = randomUUID();
    const url = adapter.authorizeUrl({ state, codeChallenge: pkce.challenge, redirectUri, scopes: catalog[c.platform].scopes });
    const back = await followSandboxConsent(url, { user });
    expect(`${back.callback.origin}${back.callback.pathname}`).toBe(redirectUri);
    expect(back.state).toBe(state);
    expect(back.code).toEqual(expect.any(String));
    return { code: back.code!, verifier: pkce.verifier };
  }

  async function connect(user = unique("user").replace(" ", "_")): Promise<Connection> {
    if (c.credentials) {
      const tokens = await adapter.signIn!(c.credentials(user));
      return { tokens, account: await adapter.getAccount(tokens.accessToken) };
    }
    const { code, verifier } = await consent(user);
    const tokens = await adapter.exchangeCode({ code, codeVerifier: verifier, redirectUri });
    return { tokens, account: await adapter.getAccount(tokens.accessToken) };
  }

  const imageFor = () => (c.imageType === "jpeg" ? jpeg : image);
  /** Without `media`, a post carries the network's image (or video) when it requires media, and nothing otherwise. */
  const requestFor = (conn: Connection, text: string, media?: MediaItem[]) => ({
    accessToken: conn.tokens.accessToken,
    account: conn.account,
    text,
    media: media ?? (c.requiresMedia ? [c.videoOnly ? video : imageFor()] : []),
    settings: c.settings?.(conn.account) ?? {},
  });
  const publish = (conn: Connection, text: string, media?: MediaItem[]) => adapter.publish(requestFor(conn, text, media));
  /**
   * Publishes and, where the network finishes later, follows `checkStatus` as the queue would (the sandboxes count
   * checks, so there is no waiting here) until the outcome settles or the checks run out.
   */
  async function settle(conn: Connection, text: string, media?: MediaItem[]): Promise<PublishOutcome> {
    const request = requestFor(conn, text, media);
    let outcome = await adapter.publish(request);
    for (let check = 0; check < 10 && outcome.status === "processing"; check++) outcome = await adapter.checkStatus(request, outcome.state);
    return outcome;
  }

  beforeAll(async () => {
    // Built after the home started, so the environment points every adapter at the sandbox.
    adapter = await getAdapter(c.platform);
    main = await connect();
  });
  beforeEach(async () => {
    if (c.freshAccountPerTest) main = await connect();
  });

  it("connects: consent, code exchange and the account behind the token", async () => {
    expect(main.tokens).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    if (c.accessTokenExpires === false) expect(main.tokens.expiresAt).toBeUndefined();
    else expect(main.tokens.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    expect(main.tokens.scopes).toEqual(expect.arrayContaining(catalog[c.platform].scopes));
    expect(main.account.externalAccountId).toEqual(expect.any(String));
    expect(main.account.username).toEqual(expect.any(String));
  });

  itWhen(c.credentials)("a wrong app password is refused with auth_error, and the right one still works", async () => {
    const credentials = c.credentials!(unique("pw").replace(" ", "_"));
    await adapter.signIn!(credentials);
    expect((await failure(adapter.signIn!({ ...credentials, appPassword: "zzzz-zzzz-zzzz-zzzz" }))).category).toBe("auth_error");
    expect((await adapter.signIn!(credentials)).accessToken).toEqual(expect.any(String));
  });

  itWhen(!c.credentials)("a declined consent comes back with the network's error and the state", async () => {
    const url = adapter.authorizeUrl({ state: "s-123", codeChallenge: createPkcePair().challenge, redirectUri, scopes: catalog[c.platform].scopes });
    const back = await followSandboxConsent(url, { deny: true });
    expect(back).toMatchObject({ code: null, state: "s-123", error: c.declinedError });
  });

  it("publishes text under an id the network lists", async () => {
    const text = unique("Hello from Amplify");
    if (c.requiresMedia) {
      expect((await failure(publish(main, text, []))).category).toBe("media_error");
      return;
    }
    const outcome = await publish(main, text, []);
    expect(outcome).toEqual({ status: "published", externalPostId: expect.any(String), url: expect.stringMatching(/^https:\/\//) });
    const posts = await sandboxPosts(main.account.externalAccountId);
    const published = posts.find((p) => outcome.status === "published" && p.id === outcome.externalPostId);
    expect(published).toMatchObject({ text, media: [] });
  });

  it("publishes one image downloaded from its URL", async () => {
    const text = unique("A picture");
    const item = imageFor();
    if (c.acceptsImages === false) {
      expect((await failure(publish(main, text, [item]))).category).toBe("media_error");
      expect((await sandboxPosts(main.account.externalAccountId)).some((p) => p.text === text)).toBe(false);
      return;
    }
    const outcome = await publish(main, text, [item]);
    expect(outcome.status).toBe("published");
    const posts = await sandboxPosts(main.account.externalAccountId);
    const published = posts.find((p) => outcome.status === "published" && p.id === outcome.externalPostId);
    expect(published).toMatchObject({ text, media: [{ mimeType: item.mimeType, sizeBytes: item.sizeBytes }] });
  });

  itWhen(c.video)("publishes one video, which the network finishes later: processing → checkStatus → published", async () => {
    const text = unique("A clip");
    let outcome = await publish(main, text, [video]);
    if (c.finishesLater) expect(outcome).toMatchObject({ status: "processing", checkAfterSeconds: expect.any(Number) });
    const request = { accessToken: main.tokens.accessToken, account: main.account, text, media: [video], settings: {} };
    for (let check = 0; check < 10 && outcome.status === "processing"; check++) outcome = await adapter.checkStatus(request, outcome.state);
    expect(outcome).toEqual({ status: "published", externalPostId: expect.any(String), url: expect.stringMatching(/^https:\/\//) });
    const posts = await sandboxPosts(main.account.externalAccountId);
    const published = posts.find((p) => outcome.status === "published" && p.id === outcome.externalPostId);
    expect(published).toMatchObject({ text, media: [{ mimeType: "video/mp4", sizeBytes: MP4.length }] });
  });

  it.each(errorCategories)("classifies an injected %s failure as exactly that category", async (category: ErrorCategory) => {
    const text = unique(`Failing [sandbox:${category}]`);
    const withMedia = category === "media_error" || category === "media_processing";
    const media = withMedia ? [(category === "media_processing" && c.onlyVideoFinishesLater) || c.videoOnly ? video : imageFor()] : undefined;
    if (c.categories && !c.categories.includes(category)) {
      // The network has no such error: the sandbox does not invent one, and the post goes through.
      expect((await settle(main, text, c.acceptsImages === false && !c.videoOnly ? [] : media)).status).toBe("published");
      return;
    }
    if (category === "media_processing" && c.finishesLater) {
      // The container never finishes: each publish and each check answers `processing`, and nothing is published.
      const request = { accessToken: main.tokens.accessToken, account: main.account, text, media: media!, settings: {} };
      for (const outcome of [await publish(main, text, media), await publish(main, text, media)]) {
        expect(outcome.status).toBe("processing");
        if (outcome.status === "processing") expect((await adapter.checkStatus(request, outcome.state)).status).toBe("processing");
      }
      expect((await sandboxPosts(main.account.externalAccountId)).some((p) => p.text === text)).toBe(false);
      return;
    }
    const error = await failure(settle(main, text, media));
    expect(error.category).toBe(category);
    if (category === "rate_limited" && c.reportsRateLimitReset) {
      expect(error.details.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(error.details.retryAfterSeconds).toBeLessThanOrEqual(c.rateLimitResetMaxSeconds ?? 10);
    }
    // Every failure is permanent for this text: a second attempt fails the same way, and nothing was published.
    expect((await failure(settle(main, text, media))).category).toBe(category);
    expect((await sandboxPosts(main.account.externalAccountId)).some((p) => p.text === text)).toBe(false);
  });

  it("a transient failure ([sandbox:network_error:1]) fails once, then the same post goes through", async () => {
    const text = unique("Flaky [sandbox:network_error:1]");
    expect((await failure(settle(main, text))).category).toBe("network_error");
    const outcome = await settle(main, text);
    expect(outcome.status).toBe("published");
    expect((await sandboxPosts(main.account.externalAccountId)).filter((p) => p.text === text)).toHaveLength(1);
  });

  it("the same text twice from one account is a duplicate (where the network checks)", async () => {
    const text = unique("Say it once");
    expect((await settle(main, text)).status).toBe("published");
    if (c.detectsDuplicates === false) expect((await settle(main, text)).status).toBe("published");
    else expect((await failure(settle(main, text))).category).toBe("duplicate");
  });

  itWhen(!c.credentials)("an authorization code works once", async () => {
    const { code, verifier } = await consent(unique("once").replace(" ", "_"));
    await adapter.exchangeCode({ code, codeVerifier: verifier, redirectUri });
    expect((await failure(adapter.exchangeCode({ code, codeVerifier: verifier, redirectUri }))).category).toBe("auth_error");
  });

  itWhen(!c.credentials)("a wrong PKCE verifier fails the exchange where the network checks PKCE", async () => {
    const { code } = await consent(unique("pkce").replace(" ", "_"));
    const exchange = adapter.exchangeCode({ code, codeVerifier: createPkcePair().verifier, redirectUri });
    if (c.pkce) expect((await failure(exchange)).category).toBe("auth_error");
    else expect((await exchange).accessToken).toEqual(expect.any(String));
  });

  it("refresh gives a working access token (rotating the refresh token where the network does)", async () => {
    const conn = await connect();
    const old = conn.tokens.refreshToken!;
    const refreshed = await adapter.refresh(old);
    expect(refreshed.accessToken).not.toBe(conn.tokens.accessToken);
    expect((await adapter.getAccount(refreshed.accessToken)).externalAccountId).toBe(conn.account.externalAccountId);
    if (c.refreshesWithAccessToken) {
      expect(old).toBe(conn.tokens.accessToken);
      expect(refreshed.refreshToken).toBe(refreshed.accessToken);
      expect((await adapter.refresh(refreshed.refreshToken!)).accessToken).toEqual(expect.any(String));
    } else if (c.reissuesRefreshTokens) {
      expect(refreshed.refreshToken).toEqual(expect.any(String));
      expect(refreshed.refreshToken).not.toBe(old);
      expect((await adapter.refresh(old)).accessToken).toEqual(expect.any(String));
    } else if (c.rotatesRefreshTokens) {
      expect(refreshed.refreshToken).toEqual(expect.any(String));
      expect(refreshed.refreshToken).not.toBe(old);
      expect((await failure(adapter.refresh(old))).category).toBe("auth_error");
      expect((await adapter.refresh(refreshed.refreshToken!)).accessToken).toEqual(expect.any(String));
    } else {
      expect(refreshed.refreshToken ?? old).toBe(old);
      expect((await adapter.refresh(old)).accessToken).toEqual(expect.any(String));
    }
  });

  it("a revoked refresh token fails with auth_error", async () => {
    const conn = await connect();
    await control(conn.account.externalAccountId, c.refreshesWithAccessToken ? "revoke-all-tokens" : "revoke-refresh-tokens");
    expect((await failure(adapter.refresh(conn.tokens.refreshToken!))).category).toBe("auth_error");
  });

  it("an expired access token fails publishing with auth_error, and a refresh makes it work again", async () => {
    const conn = await connect();
    await control(conn.account.externalAccountId, "expire-access-tokens");
    expect((await failure(publish(conn, unique("Too late")))).category).toBe("auth_error");
    expect((await failure(adapter.getAccount(conn.tokens.accessToken))).category).toBe("auth_error");
    if (c.refreshesWithAccessToken) {
      // An expired long-lived token cannot be refreshed: the person has to reconnect.
      expect((await failure(adapter.refresh(conn.tokens.refreshToken!))).category).toBe("auth_error");
      return;
    }
    const refreshed = await adapter.refresh(conn.tokens.refreshToken!);
    const outcome = await settle({ ...conn, tokens: refreshed }, unique("Back again"));
    expect(outcome.status).toBe("published");
  });

  it("has no processing state to check for text and images", async () => {
    const request = { accessToken: main.tokens.accessToken, account: main.account, text: "x", media: [], settings: {} };
    expect((await failure(adapter.checkStatus(request, {}))).category).toBe("unknown");
  });
});
