import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../src/platforms/catalog.js";
import {
  classifyFacebookError,
  createFacebookAdapter,
  decodePageCredential,
  facebookHosts,
  FACEBOOK_GRAPH_VERSION,
  type FacebookPageInfo,
} from "../../src/platforms/facebook.js";
import { parseJson, type HttpResponse } from "../../src/platforms/http.js";
import { adapterConfig, getAdapter } from "../../src/platforms/registry.js";
import { PlatformError, type AccountInfo, type MediaItem, type OAuthTokens, type PlatformAdapter, type PublishOutcome } from "../../src/platforms/types.js";
import { MAX_PROCESSING_SECONDS } from "../../src/publishing/executor.js";
import { sandboxClients } from "../../src/sandbox/clients.js";
import { followSandboxConsent } from "../../src/sandbox/consent.js";
import { connectAccount, eventually } from "../helpers/connect.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome, type TestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Facebook Pages beyond the shared contract: the Page credential (every granted Page's token, switching Pages without
 * a new consent), readiness when no Page or no pages_manage_posts was granted, Meta's usage headers and throttling,
 * video processing (fails, never finishes), the error classification, and the whole pipeline: a photo and a video
 * published through POST /api/v1/post, the video after `processing` through the queue.
 */

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });
const redirectUri = "https://app.amplify.test/oauth/callback";
const graph = (path: string) => `${t.home.url}/sandbox/facebook/${FACEBOOK_GRAPH_VERSION}${path}`;
const control = (path: string) => `${t.home.url}/sandbox/facebook/__sandbox${path}`;

const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);
const MP4 = fakeMp4({ durationSeconds: 4 });
let mediaHost: Server;
let mediaBase: string;
const media = {
  png: (): MediaItem => ({ url: `${mediaBase}/pixel.png`, mimeType: "image/png", fileName: "pixel.png", sizeBytes: PNG.length }),
  mp4: (): MediaItem => ({ url: `${mediaBase}/clip.mp4`, mimeType: "video/mp4", fileName: "clip.mp4", sizeBytes: MP4.length }),
  /** Served as video/mp4 but not a video container. */
  notVideo: (): MediaItem => ({ url: `${mediaBase}/fake.mp4`, mimeType: "video/mp4", fileName: "fake.mp4" }),
  missing: (): MediaItem => ({ url: `${mediaBase}/missing.mp4`, mimeType: "video/mp4", fileName: "missing.mp4" }),
};

let adapter: PlatformAdapter;

beforeAll(async () => {
  const files: Record<string, [string, Buffer]> = {
    "/pixel.png": ["image/png", PNG],
    "/clip.mp4": ["video/mp4", MP4],
    "/fake.mp4": ["video/mp4", Buffer.from("this is not a video at all")],
  };
  mediaHost = createServer((req, res) => {
    const file = files[req.url ?? ""];
    if (file) res.writeHead(200, { "content-type": file[0], "content-length": file[1].length }).end(file[1]);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  mediaBase = `http://127.0.0.1:${(mediaHost.address() as AddressInfo).port}`;
  adapter = await getAdapter("facebook");
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

const unique = (label: string) => `${label} ${randomUUID().slice(0, 8)}`;

/** Consent with the sandbox's Facebook-only parameters, the code exchange and the account. */
async function connect(consentParams: Record<string, string> = {}): Promise<{ tokens: OAuthTokens; account: AccountInfo }> {
  const url = new URL(adapter.authorizeUrl({ state: "s", codeChallenge: "unused", redirectUri, scopes: catalog.facebook.scopes }));
  for (const [key, value] of Object.entries(consentParams)) url.searchParams.set(key, value);
  const { code } = await followSandboxConsent(url.toString(), { user: unique("fb").replace(" ", "_") });
  const tokens = await adapter.exchangeCode({ code: code!, codeVerifier: "unused", redirectUri });
  return { tokens, account: await adapter.getAccount(tokens.accessToken) };
}

const pagesOf = (account: AccountInfo) => account.metadata!.pages as FacebookPageInfo[];

async function sandboxPosts(accountId: string): Promise<{ id: string; text: string; media: { mimeType: string; sizeBytes: number }[] }[]> {
  const res = await fetch(control(`/posts?account_id=${accountId}`));
  return ((await res.json()) as { posts: never[] }).posts;
}

/** publish, then checkStatus while processing (the sandbox moves a video along per status read, not per second). */
async function publishToEnd(request: Parameters<PlatformAdapter["publish"]>[0], checks = 6): Promise<PublishOutcome> {
  let outcome = await adapter.publish(request);
  for (let i = 0; i < checks && outcome.status === "processing"; i++) outcome = await adapter.checkStatus(request, outcome.state);
  return outcome;
}

/** connect/init → consent (with Facebook sandbox parameters) → callback, as connectAccount does. */
async function connectThroughApi(home: TestHome, apiKey: string, consentParams: Record<string, string>): Promise<string> {
  const init = await home.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "facebook", returnUrl: new URL("/connected", home.home.url).toString() } });
  expect(init.status).toBe(200);
  const consentUrl = new URL(init.body.url);
  consentUrl.searchParams.set("sandbox_user", unique("api").replace(" ", "_"));
  for (const [key, value] of Object.entries(consentParams)) consentUrl.searchParams.set(key, value);
  const consent = await fetch(consentUrl, { redirect: "manual" });
  const callback = await fetch(consent.headers.get("location")!, { redirect: "manual" });
  const back = new URL(callback.headers.get("location")!);
  expect(back.searchParams.get("error"), back.toString()).toBeNull();
  return back.searchParams.get("connectionId")!;
}

describe("Facebook adapter: consent, Pages and the Page credential", () => {
  it("sends consent to www.facebook.com's versioned dialog with comma-separated scopes and no PKCE", () => {
    const real = createFacebookAdapter({ ...facebookHosts, clientId: "app-id", clientSecret: "secret" });
    const url = new URL(real.authorizeUrl({ state: "st", codeChallenge: "ch", redirectUri, scopes: ["pages_show_list", "pages_manage_posts"] }));
    expect(`${url.origin}${url.pathname}`).toBe(`https://www.facebook.com/${FACEBOOK_GRAPH_VERSION}/dialog/oauth`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: "app-id",
      redirect_uri: redirectUri,
      state: "st",
      response_type: "code",
      scope: "pages_show_list,pages_manage_posts",
    });
  });

  it("stores every granted Page's token with the long-lived user token, and only Page facts in the metadata", async () => {
    const { tokens, account } = await connect({ sandbox_pages: "2" });
    const credential = decodePageCredential(tokens.accessToken)!;
    expect(credential.userToken).toBe(tokens.refreshToken);
    expect(credential.pages).toHaveLength(2);
    expect(tokens.expiresAt).toBeUndefined();
    expect(tokens.refreshTokenExpiresAt!.getTime() - Date.now()).toBeGreaterThan(59 * 24 * 3600 * 1000);
    expect(tokens.scopes.sort()).toEqual([...catalog.facebook.scopes].sort());

    expect(account.externalAccountId).toBe(credential.pages[0]!.id);
    expect(account.metadata).toMatchObject({ kind: "page", pageId: account.externalAccountId, grantedPermissions: expect.any(Array), declinedPermissions: [] });
    expect(pagesOf(account)).toEqual([
      expect.objectContaining({ id: credential.pages[0]!.id, canPublish: true, tasks: expect.arrayContaining(["CREATE_CONTENT"]) }),
      expect.objectContaining({ id: credential.pages[1]!.id, canPublish: true }),
    ]);
    // The metadata is stored in clear: no token may end up there.
    const metadata = JSON.stringify(account.metadata);
    for (const secret of [credential.userToken, ...credential.pages.map((p) => p.token)]) expect(metadata).not.toContain(secret);
  });

  it("follows /me/accounts paging to collect every Page", async () => {
    // Ask the sandbox for two Pages per answer instead of a hundred, so that five Pages take three.
    const pagesAsked: string[] = [];
    const paging = createFacebookAdapter(
      {
        apiBaseUrl: `${t.home.url}/sandbox/facebook`,
        authBaseUrl: `${t.home.url}/sandbox/facebook`,
        clientId: "amplify-local-facebook",
        clientSecret: "amplify-local-facebook-secret",
        fetch: (input, init) => {
          const url = new URL(input instanceof Request ? input.url : String(input));
          if (url.pathname.endsWith("/me/accounts")) {
            if (url.searchParams.get("limit") === "100") url.searchParams.set("limit", "2");
            pagesAsked.push(url.searchParams.get("after") ?? "first");
          }
          return fetch(url, init);
        },
      },
    );
    const url = paging.authorizeUrl({ state: "s", codeChallenge: "unused", redirectUri, scopes: catalog.facebook.scopes });
    const { code } = await followSandboxConsent(`${url}&sandbox_pages=5`, { user: unique("many").replace(" ", "_") });
    const tokens = await paging.exchangeCode({ code: code!, codeVerifier: "unused", redirectUri });
    expect(decodePageCredential(tokens.accessToken)!.pages).toHaveLength(5);
    expect(pagesAsked).toHaveLength(3);
    expect(pagesOf(await paging.getAccount(tokens.accessToken))).toHaveLength(5);
  });

  it("publishes as another granted Page chosen in the settings, without a new consent, and refuses a Page not granted", async () => {
    const { tokens, account } = await connect({ sandbox_pages: "2" });
    const second = pagesOf(account)[1]!;
    expect(adapter.checkSettings!({ pageId: second.id }, { metadata: account.metadata! })).toEqual([]);
    expect(adapter.checkSettings!({ pageId: "123" }, { metadata: account.metadata! })).toEqual([
      { field: "pageId", message: expect.stringContaining("was not granted") },
    ]);
    const text = unique("As the second Page");
    const outcome = await adapter.publish({ accessToken: tokens.accessToken, account, text, media: [], settings: { pageId: second.id } });
    expect(outcome).toMatchObject({ status: "published", externalPostId: expect.stringMatching(new RegExp(`^${second.id}_\\d+$`)) });
    expect((await sandboxPosts(second.id)).map((p) => p.text)).toEqual([text]);
    expect(await sandboxPosts(account.externalAccountId)).toEqual([]);

    const foreign = await failure(adapter.publish({ accessToken: tokens.accessToken, account, text: unique("Nope"), media: [], settings: { pageId: "999" } }));
    expect(foreign.category).toBe("auth_error");
  });

  it("a user without Pages connects as the user, and readiness-relevant facts say so; a declined permission is listed", async () => {
    const none = await connect({ sandbox_pages: "0" });
    expect(decodePageCredential(none.tokens.accessToken)!.pages).toEqual([]);
    expect(none.account.metadata).toMatchObject({ kind: "user", pageId: null, pages: [] });
    expect((await failure(adapter.publish({ accessToken: none.tokens.accessToken, account: none.account, text: "x", media: [], settings: {} }))).category).toBe(
      "auth_error",
    );

    const declined = await connect({ sandbox_decline: "pages_manage_posts" });
    expect(declined.tokens.scopes).not.toContain("pages_manage_posts");
    expect(declined.account.metadata).toMatchObject({ declinedPermissions: ["pages_manage_posts"] });
    // Meta refuses the Page post with (#200): reconnecting with the permission is what fixes it.
    const refused = await failure(
      adapter.publish({ accessToken: declined.tokens.accessToken, account: declined.account, text: unique("No permission"), media: [], settings: {} }),
    );
    expect(refused).toMatchObject({ category: "auth_error", details: { status: 403, platformCode: "200" } });
  });
});

describe("Facebook Login for Business: a configuration in place of scopes", () => {
  /** Registers a configuration of an app on the sandbox's developer portal. */
  async function configure(clientId: string, permissions: string[]): Promise<Response> {
    return fetch(control("/configurations"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ clientId, permissions, name: "Publishing" }),
    });
  }
  const ourClient = sandboxClients.facebook.clientId;

  it("names the configuration (config_id) in the consent URL and asks for no scopes", () => {
    const real = createFacebookAdapter({ ...facebookHosts, clientId: "app-id", clientSecret: "secret", configId: "1234567890" });
    const url = new URL(real.authorizeUrl({ state: "st", codeChallenge: "ch", redirectUri, scopes: ["pages_show_list", "pages_manage_posts"] }));
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: "app-id",
      redirect_uri: redirectUri,
      state: "st",
      response_type: "code",
      config_id: "1234567890",
    });
  });

  it("grants the configuration's permissions: a Page that can publish, or, without pages_manage_posts, one that says so", async () => {
    const created = await configure(ourClient, ["pages_show_list", "pages_read_engagement", "pages_manage_posts"]);
    expect(created.status).toBe(201);
    const { configId, permissions } = (await created.json()) as { configId: string; permissions: string[] };
    expect(configId).toMatch(/^\d+$/);
    expect(permissions).toEqual(["pages_show_list", "pages_read_engagement", "pages_manage_posts"]);
    const business = createFacebookAdapter({ ...adapterConfig("facebook"), configId });

    const url = new URL(business.authorizeUrl({ state: "s", codeChallenge: "unused", redirectUri, scopes: catalog.facebook.scopes }));
    const { code } = await followSandboxConsent(url.toString(), { user: unique("fbb").replace(" ", "_") });
    const tokens = await business.exchangeCode({ code: code!, codeVerifier: "unused", redirectUri });
    expect([...tokens.scopes].sort()).toEqual(["pages_manage_posts", "pages_read_engagement", "pages_show_list"]);
    const account = await business.getAccount(tokens.accessToken);
    const text = unique("Through a configuration");
    const outcome = await business.publish({ accessToken: tokens.accessToken, account, text, media: [], settings: {} });
    expect(outcome.status).toBe("published");
    expect((await sandboxPosts(account.externalAccountId)).map((p) => p.text)).toContain(text);

    // A configuration that leaves pages_manage_posts out grants a Page that cannot publish, and the account says so.
    const readOnly = (await (await configure(ourClient, ["pages_show_list", "pages_read_engagement"])).json()) as { configId: string };
    const viewer = createFacebookAdapter({ ...adapterConfig("facebook"), configId: readOnly.configId });
    const viewerUrl = viewer.authorizeUrl({ state: "s", codeChallenge: "unused", redirectUri, scopes: catalog.facebook.scopes });
    const viewerCode = (await followSandboxConsent(viewerUrl, { user: unique("fbv").replace(" ", "_") })).code;
    const viewerTokens = await viewer.exchangeCode({ code: viewerCode!, codeVerifier: "unused", redirectUri });
    expect(viewerTokens.scopes).not.toContain("pages_manage_posts");
  });

  it("refuses, on the dialog, a configuration of another app or one that does not exist; the portal refuses bad ones", async () => {
    const other = (await (
      await fetch(`${t.home.url}/sandbox/facebook/__sandbox/apps`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Other" }) })
    ).json()) as { clientId: string };
    const theirs = (await (await configure(other.clientId, ["pages_show_list", "pages_manage_posts"])).json()) as { configId: string };
    for (const configId of [theirs.configId, "999999999"]) {
      const url = new URL(adapter.authorizeUrl({ state: "s", codeChallenge: "unused", redirectUri, scopes: catalog.facebook.scopes }));
      url.searchParams.set("config_id", configId);
      url.searchParams.set("sandbox_user", "fb_config_refused");
      const dialog = await fetch(url, { redirect: "manual" });
      expect(dialog.status).toBe(400);
      expect(await dialog.text()).toContain("configuration ID is not valid for this app");
    }
    expect((await configure("no-such-app", ["pages_show_list"])).status).toBe(400);
    expect((await configure(ourClient, [])).status).toBe(400);
    const unknown = await configure(ourClient, ["pages_show_list", "publish_everything"]);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ error: "unknown permissions: publish_everything" });
    const listed = (await (await fetch(control(`/configurations?client_id=${other.clientId}`))).json()) as { configurations: { configId: string }[] };
    expect(listed.configurations.map((c) => c.configId)).toEqual([theirs.configId]);
  });
});

describe("Facebook sandbox: Meta's wire details", () => {
  it("answers with usage headers; a spent Page window is code 80001 with the time to regain access", async () => {
    const { tokens, account } = await connect();
    const credential = decodePageCredential(tokens.accessToken)!;
    const asUser = await fetch(graph("/me"), { headers: { authorization: `Bearer ${credential.userToken}` } });
    expect(JSON.parse(asUser.headers.get("x-app-usage")!)).toEqual({ call_count: expect.any(Number), total_cputime: expect.any(Number), total_time: expect.any(Number) });
    expect(asUser.headers.get("x-business-use-case-usage")).toBeNull();
    const asPage = await fetch(graph("/me"), { headers: { authorization: `OAuth ${credential.pages[0]!.token}` } });
    expect(await asPage.json()).toEqual({ id: account.externalAccountId, name: account.displayName });
    const buc = JSON.parse(asPage.headers.get("x-business-use-case-usage")!);
    expect(buc[account.externalAccountId]).toEqual([expect.objectContaining({ type: "pages", call_count: expect.any(Number), estimated_time_to_regain_access: 0 })]);

    expect((await fetch(control(`/accounts/${account.externalAccountId}/exhaust-page-quota`), { method: "POST" })).status).toBe(200);
    const error = await failure(adapter.publish({ accessToken: tokens.accessToken, account, text: unique("Too many"), media: [], settings: {} }));
    expect(error).toMatchObject({ category: "rate_limited", details: { platformCode: "80001" } });
    expect(error.details.retryAfterSeconds).toBeGreaterThanOrEqual(60);
    expect(error.details.retryAfterSeconds).toBeLessThanOrEqual(3600);
  });

  it("token failures use Meta's envelope and WWW-Authenticate header", async () => {
    const { tokens, account } = await connect();
    const pageToken = decodePageCredential(tokens.accessToken)!.pages[0]!.token;
    await fetch(control(`/accounts/${account.externalAccountId}/expire-access-tokens`), { method: "POST" });
    const post = (token: string) =>
      fetch(graph(`/${account.externalAccountId}/feed`), {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-www-form-urlencoded" },
        body: "message=hi",
      });
    const expired = await post(pageToken);
    expect(expired.status).toBe(400);
    expect(await expired.json()).toEqual({
      error: {
        message: expect.stringMatching(/^Error validating access token: Session has expired on /),
        type: "OAuthException",
        code: 190,
        error_subcode: 463,
        is_transient: false,
        fbtrace_id: expect.any(String),
      },
    });
    expect(expired.headers.get("www-authenticate")).toMatch(/^OAuth "Facebook Platform" "invalid_token"/);
    expect(((await (await post("EAAPnot-a-token")).json()) as { error: { code: number } }).error.code).toBe(190);
    expect(((await (await fetch(graph("/me"))).json()) as { error: { code: number } }).error.code).toBe(2500);
  });

  it("a video that fails processing is a media_error from checkStatus; bytes that are no video or a URL that is not there, at once", async () => {
    const { tokens, account } = await connect();
    const request = (text: string, item: MediaItem) => ({ accessToken: tokens.accessToken, account, text, media: [item], settings: {} });
    const failed = await failure(publishToEnd(request(unique("Broken [sandbox:media_error]"), media.mp4())));
    expect(failed).toMatchObject({ category: "media_error", details: { platformCode: "1363008" } });
    expect((await failure(adapter.publish(request(unique("Not a video"), media.notVideo())))).details.platformCode).toBe("352");
    expect((await failure(adapter.publish(request(unique("Gone"), media.missing())))).details.platformCode).toBe("389");
    expect(await sandboxPosts(account.externalAccountId)).toEqual([]);
  });

  it("a video the network never finishes stays processing on every check, with longer waits between checks", async () => {
    const { tokens, account } = await connect();
    const request = { accessToken: tokens.accessToken, account, text: unique("Forever [sandbox:media_processing]"), media: [media.mp4()], settings: {} };
    let outcome = await adapter.publish(request);
    const waits: number[] = [];
    for (let i = 0; i < 5 && outcome.status === "processing"; i++) {
      waits.push(outcome.checkAfterSeconds);
      outcome = await adapter.checkStatus(request, outcome.state);
    }
    expect(outcome.status).toBe("processing");
    expect(waits).toEqual([...waits].sort((a, b) => a - b));
    expect(waits.at(-1)).toBeGreaterThan(waits[0]!);
    expect(await sandboxPosts(account.externalAccountId)).toEqual([]);
  });
});

describe("Facebook error classification", () => {
  const now = new Date("2026-08-01T12:00:00Z");
  const graphAnswer = (status: number, error: Record<string, unknown>, headers: Record<string, string> = {}): HttpResponse => {
    const text = JSON.stringify({ error: { type: "OAuthException", fbtrace_id: "x", ...error } });
    return { status, ok: false, headers: new Headers(headers), text, json: parseJson(text) };
  };
  const classify = (status: number, error: Record<string, unknown>, headers?: Record<string, string>, context: "api" | "media" | "token" = "api") =>
    classifyFacebookError(graphAnswer(status, error, headers), context, now);

  it("classifies from error.code and error_subcode, never from the message", () => {
    expect(classify(400, { code: 190, error_subcode: 463, message: "Session has expired" }).category).toBe("auth_error");
    expect(classify(403, { code: 200, message: "(#200) permission" }).category).toBe("auth_error");
    expect(classify(400, { code: 368, error_subcode: 4854002 }).category).toBe("auth_error");
    expect(classify(400, { code: 4, message: "(#4) Application request limit reached" })).toMatchObject({
      category: "rate_limited",
      details: { retryAfterSeconds: undefined },
    });
    const buc = { "x-business-use-case-usage": JSON.stringify({ "123": [{ type: "pages", call_count: 100, estimated_time_to_regain_access: 7 }] }) };
    expect(classify(400, { code: 80001 }, buc).details.retryAfterSeconds).toBe(420);
    expect(classify(400, { code: 32 }).category).toBe("rate_limited");
    expect(classify(400, { code: 506, message: "(#506) Duplicate status message" }).category).toBe("duplicate");
    expect(classify(400, { code: 368, message: "You've already posted this." }).category).toBe("duplicate");
    expect(classify(400, { code: 100, error_subcode: 1366051 }).category).toBe("duplicate");
    expect(classify(400, { code: 324, message: "(#324) Missing or invalid image file" }, {}, "media").category).toBe("media_error");
    expect(classify(400, { code: 389 }, {}, "media").category).toBe("media_error");
    expect(classify(400, { code: 100, error_subcode: 1366046 }, {}, "media").category).toBe("media_error");
    expect(classify(500, { code: 2, is_transient: true }).category).toBe("network_error");
    expect(classify(400, { code: 1, error_subcode: 1363047 }).category).toBe("network_error");
    // A message that says "duplicate" is not a duplicate: only the code counts.
    expect(classify(400, { code: 100, message: "(#100) Duplicate parameter" }).category).toBe("unknown");
    expect(classify(400, { code: 100, error_subcode: 36009, message: "This authorization code has been used." }, {}, "token").category).toBe("auth_error");
    const gateway: HttpResponse = { status: 502, ok: false, headers: new Headers(), text: "<html>Bad Gateway</html>", json: undefined };
    expect(classifyFacebookError(gateway, "api", now).category).toBe("network_error");
  });
});

describe("Facebook through the whole pipeline", () => {
  let apiKey: string;
  let connectionId: string;
  let pageId: string;

  beforeAll(async () => {
    ({ apiKey } = await paidUserWithKey(t));
    connectionId = await connectAccount(t, { apiKey }, "facebook");
    const [row] = await t.sql<{ external_account_id: string }[]>`select external_account_id from public.connections where id = ${connectionId}`;
    pageId = row!.external_account_id;
  });

  const targetOf = async (postId: string) => {
    const [row] = await t.sql<{ status: string; external_post_id: string | null; error_category: string | null; processing_state: unknown }[]>`
      select status, external_post_id, error_category, processing_state from public.post_targets where post_id = ${postId}`;
    return row!;
  };

  it("connects ready, and publishes a photo by public_url at once", async () => {
    const list = await t.call("GET", "/api/v1/connections?platform=facebook", { apiKey });
    expect(list.body.connections[0]).toMatchObject({
      id: connectionId,
      externalAccountId: pageId,
      readiness: { status: "ready", canPublish: true, missingRequirements: [], warnings: [] },
    });
    const content = unique("A photo for the Page");
    const res = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "facebook", content, media: [{ public_url: media.png().url, mime_type: "image/png", file_size: PNG.length, file_name: "pixel.png" }] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      status: "published",
      targets: [{ platform: "facebook", status: "published", external_post_id: expect.stringMatching(new RegExp(`^${pageId}_\\d+$`)), url: expect.stringMatching(/^https:\/\/www\.facebook\.com\//) }],
    });
    const posts = await sandboxPosts(pageId);
    expect(posts.find((p) => p.id === res.body.targets[0].external_post_id)).toMatchObject({ text: content, media: [{ mimeType: "image/png", sizeBytes: PNG.length }] });
  });

  it("publishes a video after processing, checked again through the queue", async () => {
    const content = unique("A video for the Page");
    const res = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "facebook", content, media: [{ public_url: media.mp4().url, mime_type: "video/mp4", file_size: MP4.length, file_name: "clip.mp4" }] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const postId = res.body.postId as string;
    const target = await eventually(async () => {
      const row = await targetOf(postId);
      return row.status === "published" ? row : undefined;
    }, 15_000, "the video to be published");
    const posts = await sandboxPosts(pageId);
    expect(posts.find((p) => p.id === target.external_post_id)).toMatchObject({ text: content, media: [{ mimeType: "video/mp4", sizeBytes: MP4.length }] });
    const logs = await t.sql<{ job_type: string; status: string }[]>`
      select job_type, status from public.job_logs where post_id = ${postId} order by started_at`;
    expect(logs.at(-1)).toEqual({ job_type: "status_check", status: "success" });
    expect(logs.length).toBeGreaterThanOrEqual(1);
  });

  it("a video the network never finishes is failed with media_processing once the bounded wait is over", async () => {
    const content = unique("Stuck [sandbox:media_processing]");
    // Scheduled a moment ahead, so that the answer does not wait for a target that cannot settle.
    const scheduleDate = new Date(Date.now() + 1000).toISOString();
    const body = { platform: "facebook", content, scheduleDate, media: [{ public_url: media.mp4().url, mime_type: "video/mp4" }] };
    const res = await t.call("POST", "/api/v1/post", { apiKey, body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const postId = res.body.postId as string;
    await eventually(async () => ((await targetOf(postId)).processing_state ? true : undefined), 10_000, "the video to be processing");
    // The wait started long ago, as far as the executor can tell, and the next check is due now.
    await t.sql`
      update public.post_targets set processing_started_at = now() - make_interval(secs => ${MAX_PROCESSING_SECONDS + 60}), due_at = now()
      where post_id = ${postId}`;
    const log = await eventually(async () => {
      const [row] = await t.sql<{ job_type: string; status: string; error_category: string }[]>`
        select job_type, status, error_category from public.job_logs where post_id = ${postId} and status = 'failed' limit 1`;
      return row;
    }, 10_000, "the check after the bounded wait");
    expect(log).toEqual({ job_type: "status_check", status: "failed", error_category: "media_processing" });
    expect(await targetOf(postId)).toMatchObject({ error_category: "media_processing", external_post_id: null });
    expect((await sandboxPosts(pageId)).some((p) => p.text === content)).toBe(false);
    // Whether the target then ends `failed` is the executor's part (it re-checks a media_processing failure with the
    // processing state kept, so today the target stays pending): see the report of issue 6's Facebook work.
  });

  it("switches the Page with PATCH settings.pageId, and readiness says when a Page or pages_manage_posts is missing", async () => {
    const two = await connectThroughApi(t, apiKey, { sandbox_pages: "2" });
    const [row] = await t.sql<{ metadata: { pages: FacebookPageInfo[] } }[]>`select metadata from public.connections where id = ${two}`;
    const second = row!.metadata.pages[1]!;
    const patched = await t.call("PATCH", `/api/v1/connections/${two}`, { apiKey, body: { settings: { pageId: second.id } } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.connection).toMatchObject({ settings: { pageId: second.id }, readiness: { status: "ready" } });
    const wrong = await t.call("PATCH", `/api/v1/connections/${two}`, { apiKey, body: { settings: { pageId: "42" } } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.details).toEqual([{ field: "settings.pageId", message: expect.stringContaining("was not granted") }]);

    const noPage = await connectThroughApi(t, apiKey, { sandbox_pages: "0" });
    const declined = await connectThroughApi(t, apiKey, { sandbox_decline: "pages_manage_posts" });
    const list = await t.call("GET", "/api/v1/connections?platform=facebook", { apiKey });
    const readiness = (id: string) => list.body.connections.find((c: { id: string }) => c.id === id).readiness;
    expect(readiness(noPage)).toMatchObject({ status: "not_ready", canPublish: false, missingRequirements: [expect.stringMatching(/^No Facebook Page/)] });
    expect(readiness(declined)).toMatchObject({ status: "not_ready", missingRequirements: ["Missing scopes: pages_manage_posts"] });
  });
});
