import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../src/platforms/catalog.js";
import { parseJson, type HttpResponse } from "../../src/platforms/http.js";
import { createPkcePair } from "../../src/platforms/oauth.js";
import { getAdapter } from "../../src/platforms/registry.js";
import { classifyXError, createTwitterAdapter, twitterHosts, X_DUPLICATE_DETAIL } from "../../src/platforms/twitter.js";
import { PlatformError, type AccountInfo, type OAuthTokens, type PlatformAdapter } from "../../src/platforms/types.js";
import { followSandboxConsent } from "../../src/sandbox/consent.js";
import { createSandboxPlatforms } from "../../src/sandbox/index.js";
import { weightedLength } from "../../src/sandbox/twitter.js";
import { useTestHome } from "../helpers/home.js";

/** X-specific guarantees beyond the shared contract: rate-limit headers, token endpoint rules, text weighting. */

const t = useTestHome();
const redirectUri = "https://app.amplify.test/oauth/callback";
let adapter: PlatformAdapter;
let tokens: OAuthTokens;
let account: AccountInfo;

const api = (path: string) => `${t.home.url}/sandbox/twitter${path}`;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

async function connect(user: string) {
  const pkce = createPkcePair();
  const url = adapter.authorizeUrl({ state: "s", codeChallenge: pkce.challenge, redirectUri, scopes: catalog.twitter.scopes });
  const { code } = await followSandboxConsent(url, { user });
  const issued = await adapter.exchangeCode({ code: code!, codeVerifier: pkce.verifier, redirectUri });
  return { tokens: issued, account: await adapter.getAccount(issued.accessToken) };
}

beforeAll(async () => {
  adapter = await getAdapter("twitter");
  ({ tokens, account } = await connect("x_specific"));
});

describe("X sandbox and adapter", () => {
  it("sends consent to x.com with PKCE S256 and the requested scopes", () => {
    const real = createTwitterAdapter({ ...twitterHosts, clientId: "cid", clientSecret: "secret" });
    const url = new URL(real.authorizeUrl({ state: "st", codeChallenge: "ch", redirectUri, scopes: ["tweet.read", "tweet.write"] }));
    expect(`${url.origin}${url.pathname}`).toBe("https://x.com/i/oauth2/authorize");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: "code",
      client_id: "cid",
      redirect_uri: redirectUri,
      scope: "tweet.read tweet.write",
      state: "st",
      code_challenge: "ch",
      code_challenge_method: "S256",
    });
  });

  it("every API answer carries the endpoint's rate-limit window, authenticated or not", async () => {
    const before = Math.floor(Date.now() / 1000);
    const first = await fetch(api("/2/users/me"), { headers: { authorization: `Bearer ${tokens.accessToken}` } });
    const second = await fetch(api("/2/users/me"), { headers: { authorization: `Bearer ${tokens.accessToken}` } });
    expect(first.status).toBe(200);
    expect(first.headers.get("x-rate-limit-limit")).toBe("75");
    expect(Number(second.headers.get("x-rate-limit-remaining"))).toBe(Number(first.headers.get("x-rate-limit-remaining")) - 1);
    const reset = Number(first.headers.get("x-rate-limit-reset"));
    expect(reset).toBeGreaterThan(before);
    expect(reset).toBeLessThanOrEqual(before + 900);

    const anonymous = await fetch(api("/2/tweets"), { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ title: "Unauthorized", type: "about:blank", status: 401, detail: "Unauthorized" });
    expect(anonymous.headers.get("x-rate-limit-limit")).toBe("100");
  });

  it("a spent window is X's 429, which the adapter reports with the window's reset", async () => {
    const conn = await connect("x_spender");
    // getAccount above counted one call; spend the rest of the 75 in parallel batches.
    for (let batch = 0; batch < 5; batch++) {
      await Promise.all(
        Array.from({ length: 15 }, async () => {
          const res = await fetch(api("/2/users/me"), { headers: { authorization: `Bearer ${conn.tokens.accessToken}` } });
          await res.arrayBuffer();
        }),
      );
    }
    const error = await failure(adapter.getAccount(conn.tokens.accessToken));
    expect(error.category).toBe("rate_limited");
    expect(error.details.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(error.details.retryAfterSeconds).toBeLessThanOrEqual(900);
  });

  it("the token endpoint wants the confidential client's Basic credentials", async () => {
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refreshToken!, client_id: "amplify-local-twitter" });
    const withoutBasic = await fetch(api("/2/oauth2/token"), { method: "POST", body: form });
    expect(withoutBasic.status).toBe(401);
    expect(await withoutBasic.json()).toEqual({ error: "unauthorized_client", error_description: "Missing valid authorization header" });
    const wrongSecret = await fetch(api("/2/oauth2/token"), { method: "POST", body: form, headers: { authorization: basic("amplify-local-twitter", "nope") } });
    expect(wrongSecret.status).toBe(401);
  });

  it("a rotated-out refresh token is answered with X's 400 body", async () => {
    const conn = await connect("x_rotator");
    await adapter.refresh(conn.tokens.refreshToken!);
    const res = await fetch(api("/2/oauth2/token"), {
      method: "POST",
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: conn.tokens.refreshToken! }),
      headers: { authorization: basic("amplify-local-twitter", "amplify-local-twitter-secret") },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "invalid_request", error_description: "Value passed for the token was invalid." });
  });

  it("without offline.access there is no refresh token", async () => {
    const pkce = createPkcePair();
    const url = adapter.authorizeUrl({ state: "s", codeChallenge: pkce.challenge, redirectUri, scopes: ["tweet.read", "users.read"] });
    const { code } = await followSandboxConsent(url, { user: "x_online_only" });
    const issued = await adapter.exchangeCode({ code: code!, codeVerifier: pkce.verifier, redirectUri });
    expect(issued.refreshToken).toBeUndefined();
    expect(issued.scopes).toEqual(["tweet.read", "users.read"]);
  });

  it("weighs text as X does: 280 weighted characters, emoji and CJK double, URLs 23", async () => {
    expect(weightedLength("héllo")).toBe(5);
    expect(weightedLength("日本")).toBe(4);
    expect(weightedLength("see https://example.com/a/very/long/path/indeed")).toBe(4 + 23);
    const tag = randomUUID().slice(0, 6);
    const fits = `${tag}${"😀".repeat(137)}`;
    expect(weightedLength(fits)).toBe(280);
    expect((await adapter.publish({ accessToken: tokens.accessToken, account, text: fits, media: [], settings: {} })).status).toBe("published");
    const error = await failure(adapter.publish({ accessToken: tokens.accessToken, account, text: `${fits}!`, media: [], settings: {} }));
    expect(error).toMatchObject({ category: "unknown", details: { status: 403 } });
  });

  it("keeps issued tokens and posts across a restart (state is in Postgres)", async () => {
    const text = `Durable ${randomUUID()}`;
    const outcome = await adapter.publish({ accessToken: tokens.accessToken, account, text, media: [], settings: {} });
    // A second sandbox over the same database, as after a restart of the local home.
    const restarted = await createSandboxPlatforms({ sql: t.sql, baseUrl: `${t.home.url}/sandbox` });
    const me = await restarted(new Request(api("/2/users/me"), { headers: { authorization: `Bearer ${tokens.accessToken}` } }));
    expect(me.status).toBe(200);
    expect(((await me.json()) as { data: { id: string } }).data.id).toBe(account.externalAccountId);
    const posts = await restarted(new Request(api(`/__sandbox/posts?account_id=${account.externalAccountId}`)));
    const listed = ((await posts.json()) as { posts: { id: string; text: string }[] }).posts;
    expect(listed).toContainEqual(expect.objectContaining({ id: outcome.status === "published" ? outcome.externalPostId : "", text }));
  });

  it("classifies X's other error shapes from their fields", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const epoch = now.getTime() / 1000;
    const res = (status: number, body: string, headers: Record<string, string> = {}): HttpResponse => ({
      status,
      ok: status < 300,
      headers: new Headers(headers),
      text: body,
      json: parseJson(body),
    });
    const v1RateLimit = classifyXError(res(429, '{"errors":[{"code":88,"message":"Rate limit exceeded"}]}', { "x-rate-limit-reset": String(epoch + 60) }), "api", now);
    expect(v1RateLimit).toMatchObject({ category: "rate_limited", details: { retryAfterSeconds: 60 } });
    const dailyCap = classifyXError(
      res(429, "{}", { "x-rate-limit-remaining": "5", "x-rate-limit-reset": String(epoch + 60), "x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": String(epoch + 3600) }),
      "api",
      now,
    );
    expect(dailyCap.details.retryAfterSeconds).toBe(3600);
    expect(classifyXError(res(403, '{"errors":[{"code":187,"message":"Status is a duplicate."}]}'), "api", now).category).toBe("duplicate");
    expect(classifyXError(res(403, JSON.stringify({ title: "Forbidden", status: 403, detail: X_DUPLICATE_DETAIL })), "api", now).category).toBe("duplicate");
    // The duplicate detail is compared whole: a message that merely mentions duplicates is not one.
    expect(classifyXError(res(403, JSON.stringify({ detail: `Note: ${X_DUPLICATE_DETAIL}` })), "api", now).category).toBe("unknown");
    const unsupportedAuth = JSON.stringify({ type: "https://api.x.com/2/problems/unsupported-authentication", status: 403 });
    expect(classifyXError(res(403, unsupportedAuth), "api", now).category).toBe("auth_error");
    expect(classifyXError(res(502, "<html>Bad Gateway</html>"), "api", now).category).toBe("network_error");
    expect(classifyXError(res(400, '{"title":"Invalid Request"}'), "media", now).category).toBe("media_error");
  });
});
