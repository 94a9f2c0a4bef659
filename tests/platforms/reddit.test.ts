import { beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../src/platforms/catalog.js";
import type { HttpResponse } from "../../src/platforms/http.js";
import {
  classifyRedditError,
  classifySubmitErrors,
  createRedditAdapter,
  DEFAULT_REDDIT_USER_AGENT,
  redditHosts,
  redditSettingsSchema,
  splitTitle,
} from "../../src/platforms/reddit.js";
import { adapterConfig, getAdapter } from "../../src/platforms/registry.js";
import { PlatformError, type AccountInfo, type OAuthTokens, type PlatformAdapter } from "../../src/platforms/types.js";
import { followSandboxConsent } from "../../src/sandbox/consent.js";
import { connectAccount, eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Reddit-specific guarantees beyond the shared contract: `duration=permanent`, the mandatory User-Agent, failures
 * inside HTTP 200 bodies (`json.errors`) with RATELIMIT's wait, `X-Ratelimit-*` in seconds, the title/body split of
 * a self post, the subreddit setting, and a text post published end to end through the queue.
 */

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });
const redirectUri = "https://app.amplify.test/oauth/callback";
const now = new Date("2026-01-01T00:00:00Z");
let adapter: PlatformAdapter;
let tokens: OAuthTokens;
let account: AccountInfo;

const api = (path: string) => `${t.home.url}/sandbox/reddit${path}`;
const asAdapter = (headers: Record<string, string> = {}) => ({ authorization: `bearer ${tokens.accessToken}`, "user-agent": DEFAULT_REDDIT_USER_AGENT, ...headers });

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

async function connect(user: string, withAdapter = adapter, scopes = catalog.reddit.scopes) {
  const url = withAdapter.authorizeUrl({ state: "s", codeChallenge: "unused", redirectUri, scopes });
  const { code } = await followSandboxConsent(url, { user });
  const issued = await withAdapter.exchangeCode({ code: code!, codeVerifier: "unused", redirectUri });
  return { tokens: issued, account: await withAdapter.getAccount(issued.accessToken) };
}

const response = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({
  status,
  ok: status < 300,
  headers: new Headers(headers),
  text: JSON.stringify(body),
  json: body,
});

beforeAll(async () => {
  adapter = await getAdapter("reddit");
  ({ tokens, account } = await connect("reddit_specific"));
});

describe("Reddit adapter and sandbox", () => {
  it("asks for a permanent grant on www.reddit.com, scopes separated by spaces", () => {
    const real = createRedditAdapter({ ...redditHosts, clientId: "cid", clientSecret: "secret" });
    const url = new URL(real.authorizeUrl({ state: "st", codeChallenge: "ch", redirectUri, scopes: ["identity", "submit"] }));
    expect(`${url.origin}${url.pathname}`).toBe("https://www.reddit.com/api/v1/authorize");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: "cid",
      response_type: "code",
      state: "st",
      redirect_uri: redirectUri,
      duration: "permanent",
      scope: "identity submit",
    });
  });

  it("only a permanent grant comes with a refresh token, and refreshing keeps it", async () => {
    expect(tokens.refreshToken).toEqual(expect.any(String));
    const temporary = new URL(adapter.authorizeUrl({ state: "s", codeChallenge: "x", redirectUri, scopes: ["identity"] }));
    temporary.searchParams.set("duration", "temporary");
    const { code } = await followSandboxConsent(temporary.toString(), { user: "reddit_temporary" });
    expect((await adapter.exchangeCode({ code: code!, codeVerifier: "x", redirectUri })).refreshToken).toBeUndefined();
    const refreshed = await adapter.refresh(tokens.refreshToken!);
    expect(refreshed.refreshToken).toBe(tokens.refreshToken);
  });

  it("sends its descriptive User-Agent on every call; Reddit throttles a missing or library-default one", async () => {
    const agents: string[] = [];
    const observed = createRedditAdapter({
      ...adapterConfig("reddit"),
      userAgent: "web:amplify-test:1.0 (by /u/amplify-tester)",
      fetch: (input, init) => {
        agents.push(new Headers(init?.headers).get("user-agent") ?? "");
        return fetch(input, init);
      },
    });
    const conn = await connect("reddit_agent", observed);
    await observed.refresh(conn.tokens.refreshToken!);
    await observed.publish({ accessToken: conn.tokens.accessToken, account: conn.account, text: "UA check", media: [], settings: { subreddit: "test" } });
    expect(agents.length).toBe(4);
    expect(new Set(agents)).toEqual(new Set(["web:amplify-test:1.0 (by /u/amplify-tester)"]));

    for (const agent of [undefined, "node", "python-requests/2.31"]) {
      const headers: Record<string, string> = { authorization: `bearer ${tokens.accessToken}` };
      if (agent) headers["user-agent"] = agent;
      const res = await fetch(api("/api/v1/me"), { headers: agent ? headers : { ...headers, "user-agent": "" } });
      expect(res.status).toBe(429);
      expect(await res.json()).toEqual({ message: "Too Many Requests", error: 429 });
    }
  });

  it("every API answer carries X-Ratelimit-Used/-Remaining/-Reset, the reset in seconds from now", async () => {
    const first = await fetch(api("/api/v1/me"), { headers: asAdapter() });
    const second = await fetch(api("/api/v1/me"), { headers: asAdapter() });
    expect(first.status).toBe(200);
    expect(Number(second.headers.get("x-ratelimit-used"))).toBe(Number(first.headers.get("x-ratelimit-used")) + 1);
    expect(second.headers.get("x-ratelimit-remaining")).toMatch(/^\d+\.0$/);
    const reset = Number(first.headers.get("x-ratelimit-reset"));
    expect(reset).toBeGreaterThanOrEqual(0);
    expect(reset).toBeLessThanOrEqual(600);
  });

  it("submits a self post: the first line is the title, the rest the body, to the subreddit in the settings", async () => {
    const reader = await connect("reddit_reader", adapter, [...catalog.reddit.scopes, "read"]);
    const text = "Release notes\n\nWe shipped **markdown** bodies.\nSecond line.";
    const settings = { subreddit: "amplify_dev", spoiler: true, flairId: "flair-1" };
    const outcome = await adapter.publish({ accessToken: reader.tokens.accessToken, account: reader.account, text, media: [], settings });
    expect(outcome).toEqual({
      status: "published",
      externalPostId: expect.stringMatching(/^t3_[a-z0-9]+$/),
      url: expect.stringMatching(/^https:\/\/www\.reddit\.com\/r\/amplify_dev\/comments\/[a-z0-9]+\/release_notes\/$/),
    });
    const id = outcome.status === "published" ? outcome.externalPostId : "";
    const info = await fetch(api(`/api/info?id=${id}`), { headers: { ...asAdapter(), authorization: `bearer ${reader.tokens.accessToken}` } });
    const [child] = ((await info.json()) as { data: { children: { data: Record<string, unknown> }[] } }).data.children;
    expect(child!.data).toMatchObject({
      name: id,
      subreddit: "amplify_dev",
      title: "Release notes",
      selftext: "We shipped **markdown** bodies.\nSecond line.",
      is_self: true,
      spoiler: true,
      over_18: false,
      link_flair_template_id: "flair-1",
    });
    // Without the `read` scope, Reddit answers 403 and names the missing scope.
    const denied = await fetch(api(`/api/info?id=${id}`), { headers: asAdapter() });
    expect(denied.status).toBe(403);
    expect(denied.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
  });

  it("refuses to send a post without a subreddit, or with media (self posts only)", async () => {
    const noSub = await failure(adapter.publish({ accessToken: tokens.accessToken, account, text: "x", media: [], settings: {} }));
    expect(noSub).toMatchObject({ category: "unknown", message: expect.stringContaining("No subreddit") });
    const withMedia = await failure(
      adapter.publish({ accessToken: tokens.accessToken, account, text: "x", media: [{ url: "https://cdn.example/a.png", mimeType: "image/png" }], settings: { subreddit: "test" } }),
    );
    expect(withMedia.category).toBe("media_error");
  });

  it("reads failures from the 200 body: RATELIMIT waits what Reddit says, ALREADY_SUB is a duplicate, the rest unknown", async () => {
    const limited = await failure(
      adapter.publish({ accessToken: tokens.accessToken, account, text: "Slow down [sandbox:rate_limited]", media: [], settings: { subreddit: "test" } }),
    );
    expect(limited).toMatchObject({ category: "rate_limited", details: { status: 200, platformCode: "RATELIMIT", retryAfterSeconds: 3 } });

    const body = (errors: unknown[][], extra: Record<string, unknown> = {}) => ({ json: { errors, ...extra } });
    const classify = (b: ReturnType<typeof body>) => classifySubmitErrors(b.json as never, 200);
    expect(classify(body([["RATELIMIT", "you are doing that too much. try again in 9 minutes.", "ratelimit"]], { ratelimit: 533.2 }))).toMatchObject({
      category: "rate_limited",
      details: { retryAfterSeconds: 534 },
    });
    expect(classify(body([["RATELIMIT", "Looks like you've been doing that a lot. Take a break for 14 minutes before trying again.", "ratelimit"]]))).toMatchObject({
      details: { retryAfterSeconds: 840 },
    });
    expect(classify(body([["QUOTA_FILLED", "You've submitted too many links recently. Please try again in an hour.", null]]))).toMatchObject({
      category: "rate_limited",
      details: { retryAfterSeconds: 3600 },
    });
    expect(classify(body([["ALREADY_SUB", "that link has already been submitted", "url"]])).category).toBe("duplicate");
    for (const code of ["SUBREDDIT_NOEXIST", "NO_SELFS", "SUBMIT_VALIDATION_FLAIR_REQUIRED", "TOO_LONG"]) {
      expect(classify(body([[code, "whatever the text says, even 'try again in 3 minutes'", "sr"]]))).toMatchObject({ category: "unknown", details: { platformCode: code } });
    }
  });

  it("the sandbox validates like Reddit: title too long, empty title, invalid subreddit", async () => {
    const submit = (form: Record<string, string>) =>
      fetch(api("/api/submit"), { method: "POST", headers: asAdapter(), body: new URLSearchParams({ api_type: "json", kind: "self", ...form }) }).then(
        async (r) => ({ status: r.status, body: (await r.json()) as { json: { errors: unknown[][] } } }),
      );
    const long = await submit({ sr: "test", title: "x".repeat(301) });
    expect(long).toEqual({ status: 200, body: { json: { errors: [["TOO_LONG", "this is too long (max: 300)", "title"]] } } });
    expect((await submit({ sr: "test", title: " " })).body.json.errors[0]![0]).toBe("NO_TEXT");
    expect((await submit({ sr: "no such sub!", title: "t" })).body.json.errors[0]![0]).toBe("SUBREDDIT_NOEXIST");
  });

  it("classifies HTTP-level answers: 401, a 403 naming its OAuth error, 429 with the reset in seconds, 5xx", () => {
    expect(classifyRedditError(response(401, { message: "Unauthorized", error: 401 }), now).category).toBe("auth_error");
    expect(classifyRedditError(response(403, { message: "Forbidden", error: 403 }, { "www-authenticate": 'Bearer realm="reddit", error="insufficient_scope"' }), now).category).toBe(
      "auth_error",
    );
    expect(classifyRedditError(response(403, { message: "Forbidden", error: 403 }), now).category).toBe("unknown");
    expect(classifyRedditError(response(429, { message: "Too Many Requests", error: 429 }, { "x-ratelimit-reset": "42", "x-ratelimit-remaining": "0.0" }), now)).toMatchObject({
      category: "rate_limited",
      details: { retryAfterSeconds: 42 },
    });
    expect(classifyRedditError(response(503, "<html>Our CDN was unable to reach our servers</html>"), now).category).toBe("network_error");
  });

  it("splits long first lines at a word, keeping the whole text as the body", () => {
    expect(splitTitle("  Title only  ")).toEqual({ title: "Title only", body: "" });
    const long = `${"word ".repeat(80)}end`;
    const split = splitTitle(long);
    expect([...split.title].length).toBeLessThanOrEqual(300);
    expect(split.title.endsWith("…")).toBe(true);
    expect(split.body).toBe(long);
  });

  it("takes a subreddit as `name` or `r/name`, refuses anything else and unknown settings", () => {
    expect(redditSettingsSchema.parse({ subreddit: "r/AskScience" })).toEqual({ subreddit: "AskScience" });
    expect(redditSettingsSchema.parse({ subreddit: "/r/test_123" })).toEqual({ subreddit: "test_123" });
    expect(redditSettingsSchema.safeParse({ subreddit: "ab" }).success).toBe(false);
    expect(redditSettingsSchema.safeParse({ subreddit: "has space" }).success).toBe(false);
    expect(redditSettingsSchema.safeParse({ sub: "test" }).success).toBe(false);
  });
});

describe("Reddit through the whole pipeline", () => {
  it("connects, needs a subreddit, then publishes a self post through the queue", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "reddit");
    const listed = (await t.call("GET", "/api/v1/connections", { apiKey })).body.connections[0];
    expect(listed.readiness).toMatchObject({ status: "not_ready", missingRequirements: [expect.stringContaining("choose a subreddit")] });
    const patched = await t.call("PATCH", `/api/v1/connections/${id}`, { apiKey, body: { settings: { subreddit: "r/amplify_e2e" } } });
    expect(patched.body.connection).toMatchObject({ settings: { subreddit: "amplify_e2e" }, readiness: { status: "ready" } });

    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "reddit", content: "Hello Reddit\nFrom the pipeline." } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const published = await eventually(async () => {
      const [row] = await t.sql`select external_post_id, external_url from public.post_targets where post_id = ${res.body.postId} and status = 'published'`;
      return row;
    }, 15_000, "the self post to be published");
    expect(published.external_url).toMatch(/^https:\/\/www\.reddit\.com\/r\/amplify_e2e\/comments\//);
    const [post] = await t.sql`select subreddit, title, selftext from local_sandbox.reddit_posts where name = ${published.external_post_id}`;
    expect(post).toEqual({ subreddit: "amplify_e2e", title: "Hello Reddit", selftext: "From the pipeline." });
  });
});
