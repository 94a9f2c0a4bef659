import { describe, expect, it } from "vitest";
import { flushApiUsage } from "../../src/core/ratelimit/api-usage.js";
import type { TestHome } from "../helpers/home.js";
import { freshWindow } from "../helpers/limiter-contract.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, paidUserWithKey, subscribe } from "../helpers/users.js";

/** The RATE_LIMIT_OVERRIDES a home running `apiRequestLimitThroughTheFrontDoor` must be started with. */
export const FRONT_DOOR_OVERRIDES = "api_requests=5/2s, posts=2/1h";
const WINDOW_MS = 2_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The per-key API request limit through the front door (window, headers, 429 with Retry-After, exactness under a
 * burst, and that refused requests are not counted against the month), for whichever limiter the home selects:
 * run by ratelimit.happy.test.ts on the local home's in-process limiter and by ratelimit.postgres-front-door.test.ts
 * on the Postgres one.
 */
export function apiRequestLimitThroughTheFrontDoor(t: TestHome, store: string) {
  /** The owner's monthly counter once this process has written what it counted (src/core/ratelimit/api-usage.ts). */
  const usageOf = async (userId: string) => {
    await flushApiUsage();
    const [row] = await t.sql<{ used: number }[]>`select used from public.usage_counters where user_id = ${userId} and metric = 'api_requests'`;
    return row?.used ?? 0;
  };

  describe(`API request rate limit (${store}): headers`, () => {
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

  describe(`API request rate limit (${store}): refusals`, () => {
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
}
