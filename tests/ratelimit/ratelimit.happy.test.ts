import { describe, expect, it } from "vitest";
import { resolvePolicies } from "../../src/core/ratelimit/policies.js";
import { services } from "../../src/core/services.js";

const enforceRateLimit = (name: "posts" | "media_uploads", identifier: string) => services().limiter.enforce(name, identifier);
const rateLimitPolicy = (name: "api_requests" | "posts") => services().limiter.policy(name);
import { AppError } from "../../src/core/errors.js";
import { useTestHome } from "../helpers/home.js";
import { freshWindow } from "../helpers/limiter-contract.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, paidUserWithKey, subscribe } from "../helpers/users.js";

/**
 * The per-key API request limit through the front door, on the Postgres limiter (the local home's), with a small
 * limit configured the way a local demo would: RATE_LIMIT_OVERRIDES.
 */
const t = useTestHome({ env: { RATE_LIMIT_OVERRIDES: "api_requests=5/2s, posts=2/1h" } });
const WINDOW_MS = 2_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const usageOf = async (userId: string) =>
  (await t.sql<{ used: number }[]>`select used from public.usage_counters where user_id = ${userId} and metric = 'api_requests'`)[0]?.used ?? 0;

describe("API request rate limit: headers", () => {
  it("puts X-RateLimit-* on every API-key response, errors included", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await freshWindow(WINDOW_MS, 1_500);
    const windowEnd = (Math.floor(Date.now() / WINDOW_MS) + 1) * WINDOW_MS;
    const ok = await t.call("GET", "/api/v1/profiles", { apiKey });
    const notFound = await t.call("GET", "/api/v1/profiles/00000000-0000-4000-8000-000000000000", { apiKey });
    const invalid = await t.call("PATCH", "/api/v1/profiles/00000000-0000-4000-8000-000000000000", { apiKey, body: { name: "" } });
    expect([ok.status, notFound.status, invalid.status]).toEqual([200, 404, 400]);
    expect([ok, notFound, invalid].map((r) => r.headers.get("x-ratelimit-remaining"))).toEqual(["4", "3", "2"]);
    for (const r of [ok, notFound, invalid]) {
      expect(r.headers.get("x-ratelimit-limit")).toBe("5");
      expect(r.headers.get("x-ratelimit-reset")).toBe(String(windowEnd / 1000));
    }
  });

  it("puts none on browser-session or anonymous responses, nor for unknown keys; a known key refused for its plan gets them (402)", async () => {
    const { user, profileId } = await paidUserWithKey(t);
    const session = await t.call("GET", "/api/v1/profiles", { token: user.token });
    const anonymous = await t.call("GET", "/api/v1");
    const unknownKey = await t.call("GET", "/api/v1/profiles", { apiKey: `ak_${"x".repeat(43)}` });
    const lapsedKey = (await createApiKey(t, user, profileId, "lapsing")).key;
    await subscribe(t, user, "starter", "canceled");
    const lapsed = await t.call("GET", "/api/v1/profiles", { apiKey: lapsedKey });
    expect([session.status, anonymous.status, unknownKey.status, lapsed.status]).toEqual([200, 200, 401, 402]);
    for (const r of [session, anonymous, unknownKey]) expect(r.headers.get("x-ratelimit-limit")).toBeNull();
    // Issue 17: every answer to a known key carries the headers, the billing gate's 402 included.
    expect(lapsed.headers.get("x-ratelimit-limit")).toBe("5");
  });
});

describe("API request rate limit: refusals", () => {
  it("answers 429 rate_limited with Retry-After and the limit named once the window is used up, and again after it", async () => {
    const { apiKey, user } = await paidUserWithKey(t);
    await freshWindow(WINDOW_MS, 1_500);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await t.call("GET", "/api/v1/profiles", { apiKey })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const refused = await t.call("GET", "/api/v1/profiles", { apiKey });
    assertEnvelope(refused, 429, "rate_limited");
    expect(refused.body.error).toMatch(/^Rate limit exceeded: 5 API requests per 2 seconds per API key\. Retry in [12] s\.$/);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    const reset = Number(refused.headers.get("x-ratelimit-reset"));
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(refused.body.details).toEqual({
      limit: "api_requests",
      max: 5,
      window: "2 seconds",
      per: "API key",
      resetAt: new Date(reset * 1000).toISOString(),
      retryAfterSeconds: retryAfter,
    });
    // A refused request is not counted against the month.
    expect(await usageOf(user.id)).toBe(5);

    await sleep(reset * 1000 - Date.now() + 20);
    const again = await t.call("GET", "/api/v1/profiles", { apiKey });
    expect(again.status).toBe(200);
    expect(again.headers.get("x-ratelimit-remaining")).toBe("4");
    expect(Number(again.headers.get("x-ratelimit-reset"))).toBe(reset + WINDOW_MS / 1000);
  });

  it("counts each key on its own", async () => {
    const { apiKey, user, profileId } = await paidUserWithKey(t);
    const second = await createApiKey(t, user, profileId, "second");
    await freshWindow(WINDOW_MS, 1_500);
    for (let i = 0; i < 5; i++) await t.call("GET", "/api/v1/profiles", { apiKey });
    expect((await t.call("GET", "/api/v1/profiles", { apiKey })).status).toBe(429);
    const other = await t.call("GET", "/api/v1/profiles", { apiKey: second.key });
    expect(other.status).toBe(200);
    expect(other.headers.get("x-ratelimit-remaining")).toBe("4");
  });

  it("lets exactly the limit through when a burst for one key arrives at once, and counts only those", async () => {
    const { apiKey, user } = await paidUserWithKey(t);
    await freshWindow(WINDOW_MS, 1_500);
    const responses = await Promise.all(Array.from({ length: 15 }, () => t.call("GET", "/api/v1/profiles", { apiKey })));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(5);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(10);
    for (const r of responses.filter((x) => x.status === 429)) assertEnvelope(r, 429, "rate_limited");
    const remaining = responses.filter((r) => r.status === 200).map((r) => Number(r.headers.get("x-ratelimit-remaining")));
    expect(remaining.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(await usageOf(user.id)).toBe(5);
  });
});

describe("rate limit policies for features", () => {
  it("the limiter counts a named policy per identifier and throws the 429 with its headers", async () => {
    const profileId = crypto.randomUUID();
    expect(await enforceRateLimit("posts", profileId)).toMatchObject({ success: true, limit: 2, remaining: 1 });
    expect(await enforceRateLimit("posts", profileId)).toMatchObject({ success: true, remaining: 0 });
    const error = await enforceRateLimit("posts", profileId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: "rate_limited", status: 429 });
    expect((error as AppError).message).toMatch(/^Rate limit exceeded: 2 posts per 1 hour per profile\./);
    expect((error as AppError).headers).toMatchObject({ "x-ratelimit-limit": "2", "x-ratelimit-remaining": "0", "retry-after": expect.any(String) });
    expect(await enforceRateLimit("media_uploads", profileId)).toMatchObject({ success: true, limit: 50, remaining: 49 });
  });

  it("holds the contract's limits, and overrides only what RATE_LIMIT_OVERRIDES names", () => {
    const table = resolvePolicies(undefined);
    expect([table.api_requests, table.posts, table.media_uploads].map((p) => [p.name, p.limit, p.windowMs])).toEqual([
      ["api_requests", 1000, 3_600_000],
      ["posts", 100, 3_600_000],
      ["media_uploads", 50, 3_600_000],
    ]);
    expect(rateLimitPolicy("api_requests")).toMatchObject({ limit: 5, windowMs: 2_000 });
    expect(rateLimitPolicy("posts")).toMatchObject({ limit: 2, windowMs: 3_600_000 });
    expect(resolvePolicies("media_uploads=7").media_uploads).toMatchObject({ limit: 7, windowMs: 3_600_000 });
    expect(() => resolvePolicies("uploads=5/1m")).toThrow(/RATE_LIMIT_OVERRIDES entry 'uploads=5\/1m'/);
    expect(() => resolvePolicies("posts=0/1m")).toThrow(/RATE_LIMIT_OVERRIDES/);
    expect(() => resolvePolicies("posts=5/1 fortnight")).toThrow(/RATE_LIMIT_OVERRIDES/);
  });
});
