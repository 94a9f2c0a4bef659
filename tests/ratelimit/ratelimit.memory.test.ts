import { describe, expect, it } from "vitest";
import { limiterBackend } from "../../src/core/ratelimit/limiter.js";
import { createMemoryLimiter } from "../../src/core/ratelimit/memory.js";
import { services } from "../../src/core/services.js";
import { useTestHome } from "../helpers/home.js";
import { limiterContract, policy } from "../helpers/limiter-contract.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * The in-process limiter (the local home's: one process serves everything, so counting in it is exact). Its
 * front-door behaviour (window, headers, 429 with Retry-After, bursts) is ratelimit.happy.test.ts.
 */
const t = useTestHome();

limiterContract("In-process", () => createMemoryLimiter());

describe("in-process limiter: selection", () => {
  it("is what the local home selects, and a key's request writes no rate-limit row", async () => {
    expect((await services().limiter.port()).backend).toBe("memory");
    const { apiKey, keyId } = await paidUserWithKey(t);
    const res = await t.call("GET", "/api/v1/profiles", { apiKey });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ratelimit-remaining")).toBe("999");
    expect(await t.sql`select used from public.rate_limit_counters where bucket = ${`api_requests:${keyId}`}`).toEqual([]);
  });

  it("Upstash wins where it is configured; memory only when asked for; Postgres otherwise", () => {
    const upstash = { UPSTASH_REDIS_REST_URL: "https://x.upstash.io", UPSTASH_REDIS_REST_TOKEN: "t" };
    expect(limiterBackend({ ...upstash, RATE_LIMIT_STORE: "memory" })).toBe("upstash");
    expect(limiterBackend({ RATE_LIMIT_STORE: "memory" })).toBe("memory");
    expect(limiterBackend({ RATE_LIMIT_STORE: "postgres" })).toBe("postgres");
    expect(limiterBackend({})).toBe("postgres");
  });
});

describe("in-process limiter: memory", () => {
  it("drops windows that have ended, so it holds only the identifiers of the current windows", async () => {
    let now = 1_000_000_000_000;
    const limiter = createMemoryLimiter({ now: () => now, sweepEveryMs: 1_000 });
    const p = policy("memory_sweep", 2, 10_000);
    for (let i = 0; i < 500; i++) await limiter.limit(p, `id-${i}`);
    expect(limiter.size()).toBe(500);
    now += 10_000; // every one of those windows has ended
    expect(await limiter.limit(p, "fresh")).toMatchObject({ success: true, remaining: 1 });
    expect(limiter.size()).toBe(1);
  });

  it("counts a call that read the clock just before the window turned over in the newer window, never back", async () => {
    let now = 1_000_000_005_000;
    const limiter = createMemoryLimiter({ now: () => now });
    const p = policy("memory_turnover", 3, 10_000);
    await limiter.limit(p, "a");
    now = 1_000_000_010_001; // next window
    expect(await limiter.limit(p, "a")).toMatchObject({ remaining: 2 });
    now = 1_000_000_009_999; // a clock read a moment earlier
    const late = await limiter.limit(p, "a");
    expect(late).toMatchObject({ success: true, remaining: 1 });
    expect(late.resetAt.getTime()).toBe(1_000_000_020_000);
  });
});
