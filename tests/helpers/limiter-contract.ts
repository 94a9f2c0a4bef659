import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Limiter } from "../../src/core/ratelimit/limiter.js";
import type { RateLimitPolicy } from "../../src/core/ratelimit/policies.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits, if needed, for the next fixed window (windows are aligned to the epoch), so that at least `needMs` of the
 * current window remain: a test's burst then lands in one window whatever the time of day.
 */
export async function freshWindow(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await sleep(left + 20);
}

export const policy = (name: string, limit: number, windowMs: number): RateLimitPolicy => ({
  name,
  limit,
  windowMs,
  counts: "test requests",
  per: "test identifier",
});

/**
 * The limiter port's contract, run against every implementation (Postgres, Upstash): the same fixed-window semantics,
 * the same numbers, exactness under concurrency.
 */
export function limiterContract(name: string, make: () => Limiter) {
  describe(`${name} limiter: the port's contract`, () => {
    it("lets the limit through in a window, then refuses, reporting limit, remaining and the window's end", async () => {
      const limiter = make();
      const p = policy("contract_basic", 3, 60_000);
      const id = randomUUID();
      await freshWindow(p.windowMs, 5_000);
      const windowEnd = (Math.floor(Date.now() / p.windowMs) + 1) * p.windowMs;
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await limiter.limit(p, id));
      expect(results.map((r) => [r.success, r.limit, r.remaining])).toEqual([
        [true, 3, 2],
        [true, 3, 1],
        [true, 3, 0],
        [false, 3, 0],
        [false, 3, 0],
      ]);
      for (const r of results) expect(r.resetAt.getTime()).toBe(windowEnd);
    });

    it("counts a cost above 1, and refuses a cost that does not fit", async () => {
      const limiter = make();
      const p = policy("contract_cost", 10, 60_000);
      const id = randomUUID();
      await freshWindow(p.windowMs, 5_000);
      expect(await limiter.limit(p, id, 4)).toMatchObject({ success: true, remaining: 6 });
      expect(await limiter.limit(p, id, 6)).toMatchObject({ success: true, remaining: 0 });
      expect(await limiter.limit(p, id, 1)).toMatchObject({ success: false, remaining: 0 });
    });

    it("keeps identifiers and policies apart", async () => {
      const limiter = make();
      const a = policy("contract_apart_a", 1, 60_000);
      const b = policy("contract_apart_b", 1, 60_000);
      const id = randomUUID();
      await freshWindow(a.windowMs, 5_000);
      expect((await limiter.limit(a, id)).success).toBe(true);
      expect((await limiter.limit(a, id)).success).toBe(false);
      expect((await limiter.limit(a, randomUUID())).success).toBe(true);
      expect((await limiter.limit(b, id)).success).toBe(true);
    });

    it("starts afresh when the window ends", async () => {
      const limiter = make();
      const p = policy("contract_reset", 2, 1_000);
      const id = randomUUID();
      await freshWindow(p.windowMs, 600);
      await limiter.limit(p, id);
      await limiter.limit(p, id);
      const refused = await limiter.limit(p, id);
      expect(refused.success).toBe(false);
      await sleep(refused.resetAt.getTime() - Date.now() + 20);
      expect(await limiter.limit(p, id)).toMatchObject({ success: true, remaining: 1 });
    });

    it("lets exactly the limit through when many requests arrive at once", async () => {
      const limiter = make();
      const p = policy("contract_burst", 10, 60_000);
      const id = randomUUID();
      await freshWindow(p.windowMs, 10_000);
      const results = await Promise.all(Array.from({ length: 40 }, () => limiter.limit(p, id)));
      expect(results.filter((r) => r.success)).toHaveLength(10);
      expect(results.filter((r) => r.success).map((r) => r.remaining).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  });
}
