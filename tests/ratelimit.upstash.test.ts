import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUpstashLimiter } from "../src/core/ratelimit/upstash.js";
import { useTestHome } from "./helpers/home.js";
import { freshWindow, limiterContract, policy } from "./helpers/limiter-contract.js";
import { assertEnvelope } from "./helpers/security.js";
import { startUpstashShim, redisAnswers, TEST_REDIS_URL, type UpstashShim } from "./helpers/upstash-shim.js";
import { paidUserWithKey } from "./helpers/users.js";

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
    const limiter = createUpstashLimiter({ url: shim.url, token: shim.token, prefix: runPrefix });
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

  limiterContract("Upstash", () => createUpstashLimiter({ url: shim.url, token: shim.token, prefix: runPrefix }));

  it("lets requests through when Upstash does not answer in time or cannot be reached, with the policy's numbers", async () => {
    const silent = http.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    try {
      const p = policy("fail_open", 3, 60_000);
      for (const url of [silentUrl, closedUrl]) {
        const limiter = createUpstashLimiter({ url, token: "x", prefix: runPrefix, timeoutMs: 200 });
        expect(await limiter.limit(p, "a")).toMatchObject({ success: true, limit: 3, remaining: 3 });
      }
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
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

  it("puts X-RateLimit-* on API-key responses, refuses with 429 + Retry-After, and gives the quota its count back", async () => {
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
    const [usage] = await t.sql`select used from public.usage_counters where user_id = ${user.id} and metric = 'api_requests'`;
    expect(usage).toEqual({ used: 3 });

    await new Promise((resolve) => setTimeout(resolve, Number(refused.headers.get("x-ratelimit-reset")) * 1000 - Date.now() + 20));
    const again = await t.call("GET", "/api/v1/profiles", { apiKey });
    expect(again.status).toBe(200);
    expect(again.headers.get("x-ratelimit-remaining")).toBe("2");
  });

  it("lets exactly the limit through when requests for one key arrive at once", async () => {
    const { apiKey, user } = await paidUserWithKey(t);
    await freshWindow(2_000, 1_500);
    const responses = await Promise.all(Array.from({ length: 10 }, () => t.call("GET", "/api/v1/profiles", { apiKey })));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(3);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(7);
    const [usage] = await t.sql`select used from public.usage_counters where user_id = ${user.id} and metric = 'api_requests'`;
    expect(usage).toEqual({ used: 3 });
  });
});
