import { afterAll, describe, expect, it } from "vitest";
import { setLogSink, type LogEntry } from "../../src/core/log.js";
import { services } from "../../src/core/services.js";
import { flushApiUsage } from "../../src/core/ratelimit/api-usage.js";
import { useTestHome } from "../helpers/home.js";
import { freshWindow } from "../helpers/limiter-contract.js";
import { assertEnvelope } from "../helpers/security.js";
import { startUpstashShim } from "../helpers/upstash-shim.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Issue 9, finding 12 (the limiter part): with Upstash configured and failing, the limits still hold. The shim here
 * has no Redis behind it and answers every command with Upstash's outage reply (HTTP 503), so this needs no Redis;
 * tests/ratelimit.upstash.test.ts takes a working Upstash down and up again.
 */
const LIMIT = 3;
const shim = await startUpstashShim(null);
const t = useTestHome({
  env: { RATE_LIMIT_OVERRIDES: `api_requests=${LIMIT}/1h`, UPSTASH_REDIS_REST_URL: shim.url, UPSTASH_REDIS_REST_TOKEN: shim.token },
});
afterAll(async () => {
  await shim.close();
});

// Finding 12.
describe("an Upstash failure falls back to the Postgres limiter, which still limits", () => {
  it("counts each request in Postgres, refuses past the limit with 429, and warns once a minute at most", async () => {
    expect((await services().limiter.port()).backend).toBe("upstash");
    const { apiKey, keyId, user } = await paidUserWithKey(t);
    await freshWindow(3_600_000, 30_000);
    const warnings: LogEntry[] = [];
    const restore = setLogSink((entry) => entry.level === "warn" && warnings.push(entry), { level: "warn" });
    const statuses: number[] = [];
    const remaining: (string | null)[] = [];
    try {
      for (let i = 0; i < LIMIT + 3; i++) {
        const res = await t.call("GET", "/api/v1/profiles", { apiKey });
        statuses.push(res.status);
        remaining.push(res.headers.get("x-ratelimit-remaining"));
        if (res.status === 429) assertEnvelope(res, 429, "rate_limited");
      }
    } finally {
      restore();
    }
    expect(shim.refused).toBeGreaterThanOrEqual(LIMIT + 3);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    expect(remaining).toEqual(["2", "1", "0", "0", "0", "0"]);
    const [bucket] = await t.sql`select used from public.rate_limit_counters where bucket = ${`api_requests:${keyId}`}`;
    expect(bucket).toEqual({ used: LIMIT + 3 });
    // The refused requests were not counted against the month, as with a working limiter.
    await flushApiUsage();
    const [usage] = await t.sql`select used from public.usage_counters where user_id = ${user.id} and metric = 'api_requests'`;
    expect(usage).toEqual({ used: LIMIT });
    const fallbackWarnings = warnings.filter((w) => /deciding in Postgres instead/.test(w.message));
    expect(fallbackWarnings).toHaveLength(1);
    expect(fallbackWarnings[0]).toMatchObject({ policy: "api_requests" });
  });
});
