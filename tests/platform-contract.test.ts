import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../src/platforms/catalog.js";
import { createPkcePair } from "../src/platforms/oauth.js";
import { getAdapter, type ImplementedPlatform } from "../src/platforms/registry.js";
import {
  errorCategories,
  PlatformError,
  type AccountInfo,
  type ErrorCategory,
  type MediaItem,
  type OAuthTokens,
  type PlatformAdapter,
} from "../src/platforms/types.js";
import { followSandboxConsent } from "../src/sandbox/consent.js";
import { useTestHome } from "./helpers/home.js";

/**
 * One contract every platform adapter keeps, run against its sandbox through the local home: consent → code →
 * tokens → account, publishing text and an image, each failure category classified exactly, retries after a
 * transient failure, refresh (rotating or not), expired and revoked tokens, PKCE and single-use codes.
 */

const t = useTestHome();

/** A 1×1 PNG, served by a tiny media host the adapters download from. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
let mediaHost: Server;
let image: MediaItem;

beforeAll(async () => {
  mediaHost = createServer((req, res) => {
    if (req.url === "/pixel.png") res.writeHead(200, { "content-type": "image/png", "content-length": PNG.length }).end(PNG);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  const { port } = mediaHost.address() as AddressInfo;
  image = { url: `http://127.0.0.1:${port}/pixel.png`, mimeType: "image/png", fileName: "pixel.png", sizeBytes: PNG.length };
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

interface ContractCase {
  platform: ImplementedPlatform;
  /** The network checks a PKCE verifier (LinkedIn's web flow has no PKCE). */
  pkce: boolean;
  /** Each refresh returns a new refresh token and retires the old one (X); otherwise the same one is reused. */
  rotatesRefreshTokens: boolean;
  /** The network says when a rate limit lifts (X's `x-rate-limit-reset`; LinkedIn sends nothing). */
  reportsRateLimitReset: boolean;
  /** The `error` the network redirects back with when the user declines. */
  declinedError: string;
}

const cases: ContractCase[] = [
  { platform: "twitter", pkce: true, rotatesRefreshTokens: true, reportsRateLimitReset: true, declinedError: "access_denied" },
  { platform: "linkedin", pkce: false, rotatesRefreshTokens: false, reportsRateLimitReset: false, declinedError: "user_cancelled_authorize" },
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
    const { code, verifier } = await consent(user);
    const tokens = await adapter.exchangeCode({ code, codeVerifier: verifier, redirectUri });
    return { tokens, account: await adapter.getAccount(tokens.accessToken) };
  }

  const publish = (conn: Connection, text: string, media: MediaItem[] = []) =>
    adapter.publish({ accessToken: conn.tokens.accessToken, account: conn.account, text, media, settings: {} });

  beforeAll(async () => {
    // Built after the home started, so the environment points every adapter at the sandbox.
    adapter = getAdapter(c.platform);
    main = await connect();
  });

  it("connects: consent, code exchange and the account behind the token", async () => {
    expect(main.tokens).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect(main.tokens.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    expect(main.tokens.scopes).toEqual(expect.arrayContaining(catalog[c.platform].scopes));
    expect(main.account.externalAccountId).toEqual(expect.any(String));
    expect(main.account.username).toEqual(expect.any(String));
  });

  it("a declined consent comes back with the network's error and the state", async () => {
    const url = adapter.authorizeUrl({ state: "s-123", codeChallenge: createPkcePair().challenge, redirectUri, scopes: catalog[c.platform].scopes });
    const back = await followSandboxConsent(url, { deny: true });
    expect(back).toMatchObject({ code: null, state: "s-123", error: c.declinedError });
  });

  it("publishes text under an id the network lists", async () => {
    const text = unique("Hello from Amplify");
    const outcome = await publish(main, text);
    expect(outcome).toEqual({ status: "published", externalPostId: expect.any(String), url: expect.stringMatching(/^https:\/\//) });
    const posts = await sandboxPosts(main.account.externalAccountId);
    const published = posts.find((p) => outcome.status === "published" && p.id === outcome.externalPostId);
    expect(published).toMatchObject({ text, media: [] });
  });

  it("publishes one image downloaded from its URL", async () => {
    const text = unique("A picture");
    const outcome = await publish(main, text, [image]);
    expect(outcome.status).toBe("published");
    const posts = await sandboxPosts(main.account.externalAccountId);
    const published = posts.find((p) => outcome.status === "published" && p.id === outcome.externalPostId);
    expect(published).toMatchObject({ text, media: [{ mimeType: "image/png", sizeBytes: PNG.length }] });
  });

  it.each(errorCategories)("classifies an injected %s failure as exactly that category", async (category: ErrorCategory) => {
    const text = unique(`Failing [sandbox:${category}]`);
    const withMedia = category === "media_error" || category === "media_processing";
    const error = await failure(publish(main, text, withMedia ? [image] : []));
    expect(error.category).toBe(category);
    if (category === "rate_limited" && c.reportsRateLimitReset) {
      expect(error.details.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(error.details.retryAfterSeconds).toBeLessThanOrEqual(10);
    }
    // Every failure is permanent for this text: a second attempt fails the same way, and nothing was published.
    expect((await failure(publish(main, text, withMedia ? [image] : []))).category).toBe(category);
    expect((await sandboxPosts(main.account.externalAccountId)).some((p) => p.text === text)).toBe(false);
  });

  it("a transient failure ([sandbox:network_error:1]) fails once, then the same post goes through", async () => {
    const text = unique("Flaky [sandbox:network_error:1]");
    expect((await failure(publish(main, text))).category).toBe("network_error");
    const outcome = await publish(main, text);
    expect(outcome.status).toBe("published");
    expect((await sandboxPosts(main.account.externalAccountId)).filter((p) => p.text === text)).toHaveLength(1);
  });

  it("the same text twice from one account is a duplicate", async () => {
    const text = unique("Say it once");
    expect((await publish(main, text)).status).toBe("published");
    expect((await failure(publish(main, text))).category).toBe("duplicate");
  });

  it("an authorization code works once", async () => {
    const { code, verifier } = await consent(unique("once").replace(" ", "_"));
    await adapter.exchangeCode({ code, codeVerifier: verifier, redirectUri });
    expect((await failure(adapter.exchangeCode({ code, codeVerifier: verifier, redirectUri }))).category).toBe("auth_error");
  });

  it("a wrong PKCE verifier fails the exchange where the network checks PKCE", async () => {
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
    if (c.rotatesRefreshTokens) {
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
    await control(conn.account.externalAccountId, "revoke-refresh-tokens");
    expect((await failure(adapter.refresh(conn.tokens.refreshToken!))).category).toBe("auth_error");
  });

  it("an expired access token fails publishing with auth_error, and a refresh makes it work again", async () => {
    const conn = await connect();
    await control(conn.account.externalAccountId, "expire-access-tokens");
    expect((await failure(publish(conn, unique("Too late")))).category).toBe("auth_error");
    expect((await failure(adapter.getAccount(conn.tokens.accessToken))).category).toBe("auth_error");
    const refreshed = await adapter.refresh(conn.tokens.refreshToken!);
    const outcome = await publish({ ...conn, tokens: refreshed }, unique("Back again"));
    expect(outcome.status).toBe("published");
  });

  it("has no processing state to check for text and images", async () => {
    const request = { accessToken: main.tokens.accessToken, account: main.account, text: "x", media: [], settings: {} };
    expect((await failure(adapter.checkStatus(request, {}))).category).toBe("unknown");
  });
});
