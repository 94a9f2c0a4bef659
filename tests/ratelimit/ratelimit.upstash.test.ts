import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setLogSink, type LogEntry } from "../../src/core/log.js";
import { flushApiUsage } from "../../src/core/ratelimit/api-usage.js";
import type { Limiter } from "../../src/core/ratelimit/limiter.js";
import { createUpstashLimiter, type UpstashLimiterOptions } from "../../src/core/ratelimit/upstash.js";
import { useTestHome } from "../helpers/home.js";
import { freshWindow, limiterContract, policy } from "../helpers/limiter-contract.js";
import { assertEnvelope } from "../helpers/security.js";
import { startUpstashShim, redisAnswers, TEST_REDIS_URL, type UpstashShim } from "../helpers/upstash-shim.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * The Upstash limiter against a real Redis, through a small Upstash-REST-compatible shim (tests/helpers). Where no
 * Redis answers (TEST_REDIS_URL, default redis://127.0.0.1:6379), these tests say so and are skipped; nothing else in
 * the suite needs Redis.
 */
const redisUp = await redisAnswers();
if (!redisUp) console.warn(`[ratelimit.upstash] no Redis answers at ${TEST_REDIS_URL}: the Upstash limiter tests are skipped`);
const title = (name: string) => (redisUp ? name : `${name} (skipped: no Redis at ${TEST_REDIS_URL})`);

/** Each run keeps its keys under its own prefix, and they expire with their windows. */
const runPrefix = `amplify-test:${randomBytes(6).toString("hex")}`;

/** Where Upstash answers, nothing may be decided by the fallback: these tests are about Upstash itself. */
const noFallback: Limiter = {
  backend: "postgres",
  limit: () => Promise.reject(new Error("the fallback limiter was used while Upstash was up")),
};

/** A fallback that refuses everything and counts its calls, so a test can tell who decided. */
function refusingFallback() {
  const calls: string[] = [];
  const limiter: Limiter = {
    backend: "postgres",
    async limit(p, identifier) {
      calls.push(identifier);
      return { success: false, limit: p.limit, remaining: 0, resetAt: new Date(Date.now() + p.windowMs) };
    },
  };
  return { limiter, calls };
}

const upstash = (options: Omit<UpstashLimiterOptions, "fallback"> & { fallback?: Limiter }) =>
  createUpstashLimiter({ fallback: noFallback, ...options });

describe.skipIf(!redisUp)(title("Upstash REST shim"), () => {
  let shim: UpstashShim;
  beforeAll(async () => {
    shim = await startUpstashShim();
  });
  afterAll(async () => {
    await shim?.close();
  });

  it("speaks the wire format @upstash/redis expects, base64 response encoding included", async () => {
    const key = `${runPrefix}:wire`;
    const encoded = new Redis({ url: shim.url, token: shim.token, enableTelemetry: false });
    const plain = new Redis({ url: shim.url, token: shim.token, enableTelemetry: false, responseEncoding: false });
    expect(await encoded.set(key, "héllo wörld", { px: 60_000 })).toBe("OK");
    expect(await encoded.get(key)).toBe("héllo wörld");
    expect(await plain.get(key)).toBe("héllo wörld");
    const p = encoded.pipeline();
    p.incr(`${key}:n`);
    p.incrby(`${key}:n`, 4);
    p.get(key);
    p.pexpire(`${key}:n`, 60_000);
    expect(await p.exec()).toEqual([1, 5, "héllo wörld", 1]);
    await expect(new Redis({ url: shim.url, token: "wrong", enableTelemetry: false, retry: false }).get(key)).rejects.toThrow(/Unauthorized/);
  });

  it("runs @upstash/ratelimit's scripts: EVALSHA, NOSCRIPT → EVAL once, then EVALSHA again", async () => {
    const limiter = upstash({ url: shim.url, token: shim.token, prefix: runPrefix });
    const p = policy("shim_scripts", 5, 60_000);
    await freshWindow(p.windowMs, 5_000);
    const before = shim.commands.length;
    await limiter.limit(p, "a");
    await limiter.limit(p, "a");
    const sent = shim.commands.slice(before);
    expect(sent[0]).toBe("evalsha");
    expect(sent.filter((c) => c === "eval").length).toBeLessThanOrEqual(1);
    expect(sent.at(-1)).toBe("evalsha");
  });
});

describe.skipIf(!redisUp)(title("Upstash limiter"), () => {
  let shim: UpstashShim;
  beforeAll(async () => {
    shim = await startUpstashShim();
  });
  afterAll(async () => {
    await shim?.close();
  });

  limiterContract("Upstash", () => upstash({ url: shim.url, token: shim.token, prefix: runPrefix }));

  // Finding 12 of issue 9: a Redis outage used to let every request through.
  it("decides with the fallback when Upstash does not answer in time, cannot be reached or fails, warning once a minute", async () => {
    const silent = http.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const warnings: LogEntry[] = [];
    const restore = setLogSink((entry) => entry.level === "warn" && warnings.push(entry), { level: "warn" });
    try {
      const p = policy("fail_closed", 3, 60_000);
      for (const [url, token] of [[silentUrl, "x"], [closedUrl, "x"], [shim.url, shim.token]] as const) {
        if (url === shim.url) shim.down();
        const fallback = refusingFallback();
        const limiter = upstash({ url, token, prefix: runPrefix, timeoutMs: 200, fallback: fallback.limiter });
        warnings.length = 0;
        for (let i = 0; i < 3; i++) expect(await limiter.limit(p, `id-${i}`)).toMatchObject({ success: false, limit: 3, remaining: 0 });
        expect(fallback.calls).toEqual(["id-0", "id-1", "id-2"]);
        expect(warnings).toHaveLength(1);
        expect(warnings[0]!.message).toMatch(/deciding in Postgres instead/);
      }
    } finally {
      restore();
      shim.up();
      silent.closeAllConnections();
      silent.close();
    }
    // Back up: Upstash decides again.
    expect(await upstash({ url: shim.url, token: shim.token, prefix: runPrefix }).limit(policy("back_up", 3, 60_000), randomBytes(4).toString("hex"))).toMatchObject({ success: true, remaining: 2 });
  });
});

/** The front-door shim starts before the home, which reads its URL from the environment it is given. */
const homeShim = redisUp ? await startUpstashShim() : undefined;

describe.skipIf(!redisUp)(title("the API with the Upstash limiter"), () => {
  const shim = homeShim as UpstashShim;
  afterAll(async () => {
    await homeShim?.close();
  });
  const t = useTestHome({
    env: {
      RATE_LIMIT_OVERRIDES: "api_requests=3/2s",
      UPSTASH_REDIS_REST_URL: homeShim?.url ?? "",
      UPSTASH_REDIS_REST_TOKEN: homeShim?.token ?? "",
    },
  });

  it("puts X-RateLimit-* on API-key responses, refuses with 429 + Retry-After, and counts only admitted requests against the quota", async () => {
    const { apiKey, user } = await paidUserWithKey(t);
    const session = await t.call("GET", "/api/v1/profiles", { token: user.token });
    expect(session.headers.get("x-ratelimit-limit")).toBeNull();

    await freshWindow(2_000, 1_500);
    const before = shim.commands.length;
    const responses = [];
    for (let i = 0; i < 5; i++) responses.push(await t.call("GET", "/api/v1/profiles", { apiKey }));
    expect(shim.commands.length).toBeGreaterThan(before);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
    expect(responses.map((r) => r.headers.get("x-ratelimit-remaining"))).toEqual(["2", "1", "0", "0", "0"]);
    for (const r of responses) expect(r.headers.get("x-ratelimit-limit")).toBe("3");
    const refused = responses[3]!;
    assertEnvelope(refused, 429, "rate_limited");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(2);
    expect(refused.body.details).toMatchObject({ limit: "api_requests", max: 3 });

    // Only the three requests that got through count against the month.
    await flushApiUsage();
    const [usage] = await t.sql`select used from public.usage_counters where user_id = ${user.id} and metric = 'api_requests'`;
    expect(usage).toEqual({ used: 3 });

    await new Promise((resolve) => setTimeout(resolve, Number(refused.headers.get("x-ratelimit-reset")) * 1000 - Date.now() + 20));
    const again = await t.call("GET", "/api/v1/profiles", { apiKey });
    expect(again.status).toBe(200);
    expect(again.headers.get("x-ratelimit-remaining")).toBe("2");
  });

  // Finding 12 of issue 9: while Upstash is down, the API keeps its limits, counted in Postgres.
  it("keeps the per-key limit while Upstash is down, counted in Postgres (429 after the limit, not counted against the month)", async () => {
    const { apiKey, user, keyId } = await paidUserWithKey(t);
    await freshWindow(2_000, 1_500);
    shim.down();
    const refusedBefore = shim.refused;
    const responses = [];
    try {
      for (let i = 0; i < 5; i++) responses.push(await t.call("GET", "/api/v1/profiles", { apiKey }));
    } finally {
      shim.up();
    }
    expect(shim.refused).toBeGreaterThan(refusedBefore);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
    expect(responses.map((r) => r.headers.get("x-ratelimit-remaining"))).toEqual(["2", "1", "0", "0", "0"]);
    assertEnvelope(responses[3]!, 429, "rate_limited");
    // Counted in Postgres, in the bucket the local home's limiter keeps for this key.
    const [bucket] = await t.sql`select used from public.rate_limit_counters where bucket = ${`api_requests:${keyId}`}`;
    expect(bucket).toEqual({ used: 5 });
    await flushApiUsage();
    const [usage] = await t.sql`select used from public.usage_counters where user_id = ${user.id} and metric = 'api_requests'`;
    expect(usage).toEqual({ used: 3 });
  });

  it("lets exactly the limit through when requests for one key arrive at once", async () => {
    const { apiKey, user } = await paidUserWithKey(t);
    await freshWindow(2_000, 1_500);
    const responses = await Promise.all(Array.from({ length: 10 }, () => t.call("GET", "/api/v1/profiles", { apiKey })));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(3);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(7);
    await flushApiUsage();
    const [usage] = await t.sql`select used from public.usage_counters where user_id = ${user.id} and metric = 'api_requests'`;
    expect(usage).toEqual({ used: 3 });
  });
});
