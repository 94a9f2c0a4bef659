import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../src/platforms/catalog.js";
import { parseJson, type HttpResponse } from "../../src/platforms/http.js";
import { classifyLinkedInError, createLinkedInAdapter, escapeLittleText, LINKEDIN_VERSION, linkedinHosts } from "../../src/platforms/linkedin.js";
import { createPkcePair } from "../../src/platforms/oauth.js";
import { adapterConfig, getAdapter } from "../../src/platforms/registry.js";
import { PlatformError, type AccountInfo, type OAuthTokens, type PlatformAdapter } from "../../src/platforms/types.js";
import { followSandboxConsent } from "../../src/sandbox/consent.js";
import { isActiveVersion, renderLittleText } from "../../src/sandbox/linkedin.js";
import { useTestHome } from "../helpers/home.js";

/** LinkedIn-specific guarantees beyond the shared contract: versioned headers, the web flow, little text, refresh. */

const t = useTestHome();
const redirectUri = "https://app.amplify.test/oauth/callback";
let adapter: PlatformAdapter;
let tokens: OAuthTokens;
let account: AccountInfo;

const api = (path: string) => `${t.home.url}/sandbox/linkedin${path}`;

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

async function consentCode(user: string): Promise<string> {
  const url = adapter.authorizeUrl({ state: "s", codeChallenge: createPkcePair().challenge, redirectUri, scopes: catalog.linkedin.scopes });
  const { code } = await followSandboxConsent(url, { user });
  return code!;
}

async function connect(user: string) {
  const issued = await adapter.exchangeCode({ code: await consentCode(user), codeVerifier: "unused", redirectUri });
  return { tokens: issued, account: await adapter.getAccount(issued.accessToken) };
}

beforeAll(async () => {
  adapter = await getAdapter("linkedin");
  ({ tokens, account } = await connect("li_specific"));
});

describe("LinkedIn sandbox and adapter", () => {
  it("sends consent to www.linkedin.com without PKCE parameters", () => {
    const real = createLinkedInAdapter({ ...linkedinHosts, clientId: "cid", clientSecret: "secret" });
    const url = new URL(real.authorizeUrl({ state: "st", codeChallenge: "ch", redirectUri, scopes: ["openid", "w_member_social"] }));
    expect(`${url.origin}${url.pathname}`).toBe("https://www.linkedin.com/oauth/v2/authorization");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: "code",
      client_id: "cid",
      redirect_uri: redirectUri,
      state: "st",
      scope: "openid w_member_social",
    });
  });

  it("the member is urn:li:person:<sub> from userinfo, and comma-separated scopes are read", () => {
    expect(account.externalAccountId).toMatch(/^urn:li:person:[A-Za-z0-9]+$/);
    expect(account.metadata).toMatchObject({ sub: account.externalAccountId.slice("urn:li:person:".length) });
    expect(tokens.scopes).toEqual(catalog.linkedin.scopes);
    expect(tokens.refreshTokenExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 364 * 24 * 3600 * 1000);
  });

  it("/rest calls need LinkedIn-Version (400 missing, 426 retired) and the Rest.li 2.0 header", async () => {
    const post = (headers: Record<string, string>) =>
      fetch(api("/rest/posts"), { method: "POST", headers: { authorization: `Bearer ${tokens.accessToken}`, ...headers }, body: "{}" });
    const missing = await post({ "x-restli-protocol-version": "2.0.0" });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ status: 400, code: "VERSION_MISSING" });
    const retired = await post({ "linkedin-version": "202401", "x-restli-protocol-version": "2.0.0" });
    expect(retired.status).toBe(426);
    expect(await retired.json()).toEqual({ status: 426, code: "NONEXISTENT_VERSION", message: "Requested version 202401 is not active" });
    const noRestli = await post({ "linkedin-version": LINKEDIN_VERSION });
    expect(noRestli.status).toBe(400);
    const retiredError = classifyLinkedInError({ ...response(426, ""), json: { status: 426, code: "NONEXISTENT_VERSION" } }, "api", new Date());
    expect(retiredError).toMatchObject({ category: "unknown", details: { platformCode: "NONEXISTENT_VERSION" } });
  });

  it("the configured LinkedIn-Version is still an active one (bump LINKEDIN_VERSION when this fails)", () => {
    expect(isActiveVersion(LINKEDIN_VERSION, new Date())).toBe(true);
  });

  it("the web flow refuses a code_verifier at the token endpoint, so the adapter never sends one", async () => {
    const { clientId, clientSecret } = adapterConfig("linkedin");
    const res = await fetch(api("/oauth/v2/accessToken"), {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: await consentCode("li_pkce"),
        redirect_uri: redirectUri,
        client_id: clientId,
        client_secret: clientSecret,
        code_verifier: createPkcePair().verifier,
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_request", error_description: expect.stringContaining("code verifier does not match") });
  });

  it("refresh keeps the refresh token, whose lifetime still counts from the first consent", async () => {
    const conn = await connect("li_refresh");
    const refreshed = await adapter.refresh(conn.tokens.refreshToken!);
    expect(refreshed.refreshToken).toBe(conn.tokens.refreshToken);
    expect(refreshed.refreshTokenExpiresAt!.getTime()).toBeLessThanOrEqual(conn.tokens.refreshTokenExpiresAt!.getTime() + 1000);
  });

  it("escapes commentary as little text, and the post reads back exactly as written", async () => {
    const text = `Reserved (a) [b] {c} <d> #tag @someone *bold* _it_ ~s~ a|b back\\slash ${randomUUID().slice(0, 6)}`;
    expect(renderLittleText(escapeLittleText(text))).toBe(text);
    const outcome = await adapter.publish({ accessToken: tokens.accessToken, account, text, media: [], settings: {} });
    expect(outcome).toMatchObject({ status: "published", externalPostId: expect.stringMatching(/^urn:li:share:\d+$/) });
    const res = await fetch(api(`/__sandbox/posts?account_id=${encodeURIComponent(account.externalAccountId)}`));
    const posts = ((await res.json()) as { posts: { id: string; text: string }[] }).posts;
    expect(posts.find((p) => outcome.status === "published" && p.id === outcome.externalPostId)?.text).toBe(text);
  });

  it("posting as another member is LinkedIn's 403 ACCESS_DENIED, which needs a reconnect", async () => {
    const error = await failure(
      adapter.publish({ accessToken: tokens.accessToken, account: { externalAccountId: "urn:li:person:someoneElse", username: "x" }, text: "hi", media: [], settings: {} }),
    );
    expect(error).toMatchObject({ category: "auth_error", details: { status: 403, platformCode: "100" } });
  });

  it("sends the member's token only to LinkedIn's own upload hosts", async () => {
    const { apiBaseUrl, authBaseUrl, clientId, clientSecret } = adapterConfig("linkedin");
    const contacted: string[] = [];
    const redirectedUploads = createLinkedInAdapter({
      apiBaseUrl,
      authBaseUrl,
      clientId,
      clientSecret,
      fetch: async (input, init) => {
        const url = new URL(input instanceof Request ? input.url : input);
        contacted.push(url.host);
        if (url.pathname.endsWith("/rest/images")) {
          return Response.json({ value: { uploadUrl: "https://uploads.example.com/put", image: "urn:li:image:abc" } });
        }
        if (url.pathname === "/pixel.png") return new Response(new Uint8Array([137, 80, 78, 71]), { headers: { "content-type": "image/png" } });
        return fetch(input, init);
      },
    });
    const image = { url: "https://media.example.com/pixel.png", mimeType: "image/png" };
    const error = await failure(redirectedUploads.publish({ accessToken: tokens.accessToken, account, text: "img", media: [image], settings: {} }));
    expect(error.category).toBe("media_error");
    expect(contacted).not.toContain("uploads.example.com");
  });

  it("classifies LinkedIn's other error shapes from their fields", () => {
    const now = new Date();
    const classify = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      classifyLinkedInError({ ...response(status, JSON.stringify(body), headers) }, "api", now);
    expect(classify(401, { status: 401, serviceErrorCode: 65602, code: "EXPIRED_ACCESS_TOKEN" }).category).toBe("auth_error");
    expect(classify(400, { status: 400, serviceErrorCode: 65601 }).category).toBe("auth_error");
    const throttled = classify(429, { serviceErrorCode: 101, status: 429 });
    expect(throttled).toMatchObject({ category: "rate_limited", details: { platformCode: "101" } });
    expect(throttled.details.retryAfterSeconds).toBeUndefined();
    expect(classify(429, {}, { "retry-after": "120" }).details.retryAfterSeconds).toBe(120);
    const duplicate = { status: 422, errorDetails: { inputErrors: [{ code: "DUPLICATE_POST", input: {} }] } };
    expect(classify(422, duplicate).category).toBe("duplicate");
    // A message that mentions a duplicate is not one: only the input-error code counts.
    expect(classify(422, { status: 422, message: "Content is a duplicate of urn:li:share:1" }).category).toBe("unknown");
    expect(classifyLinkedInError(response(503, "<html>Service Unavailable</html>"), "api", now).category).toBe("network_error");
  });
});

function response(status: number, text: string, headers: Record<string, string> = {}): HttpResponse {
  return { status, ok: status < 300, headers: new Headers(headers), text, json: parseJson(text) };
}
