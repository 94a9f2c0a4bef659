import { describe, expect, it } from "vitest";
import { ApiUsageMeter, flushApiUsage } from "../../src/core/ratelimit/api-usage.js";
import { servicePool } from "../../src/core/services.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * The monthly API request quota, counted in this process and written in batches (src/core/ratelimit/api-usage.ts).
 * The bound it states: one process never overshoots the quota; N processes overshoot by at most (N − 1) × the batch.
 * Batches of 4 and a flush timer that never fires during a test, so every write here is one a batch filled.
 */
const BATCH = 4;
const STARTER_LIMIT = 10_000;
const t = useTestHome({ env: { USAGE_FLUSH_BATCH: String(BATCH), USAGE_FLUSH_INTERVAL_MS: "60000" } });

async function period(userId: string) {
  const [row] = await t.sql<{ period_start: Date; period_end: Date }[]>`
    select p.period_start, p.period_end
    from public.billing_subscriptions b, public.usage_period(b.current_period_end, now()) p where b.user_id = ${userId}`;
  return row!;
}

async function seedUsage(userId: string, used: number) {
  const { period_start, period_end } = await period(userId);
  await t.sql`
    insert into public.usage_counters (user_id, metric, period_start, period_end, used)
    values (${userId}, 'api_requests', ${period_start}, ${period_end}, ${used})
    on conflict (user_id, metric, period_start) do update set used = excluded.used`;
}

const counterOf = async (userId: string) =>
  (await t.sql<{ used: number }[]>`select used from public.usage_counters where user_id = ${userId} and metric = 'api_requests'`)[0]?.used ?? 0;

describe("API request quota counted in batches: one process (the local home)", () => {
  it("a burst past the quota through the front door: refusals start exactly at the limit, and the counter ends exact", async () => {
    const { apiKey, user } = await paidUserWithKey(t, "starter");
    await seedUsage(user.id, STARTER_LIMIT - 10);
    const responses = await Promise.all(Array.from({ length: 30 }, () => t.call("GET", "/api/v1/profiles", { apiKey })));
    const ok = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 429);
    // One process: overshoot bound 0.
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(20);
    for (const r of refused) {
      assertEnvelope(r, 429, "quota_exceeded");
      expect(r.body.details).toMatchObject({ limit: "api_requests_per_month", max: STARTER_LIMIT, used: STARTER_LIMIT });
    }
    await flushApiUsage();
    expect(await counterOf(user.id)).toBe(STARTER_LIMIT);
  });

  it("one request at a time across several batches: the last one below the limit passes, the next is refused", async () => {
    const { apiKey, user } = await paidUserWithKey(t, "starter");
    await seedUsage(user.id, STARTER_LIMIT - 9);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await t.call("GET", "/api/v1/profiles", { apiKey })).status);
    expect(statuses).toEqual([...Array(9).fill(200), 429, 429, 429]);
    await flushApiUsage();
    expect(await counterOf(user.id)).toBe(STARTER_LIMIT);
  });

  it("sees counts written by others between its batches (another instance, an admin) at the next key lookup", async () => {
    const { apiKey, user } = await paidUserWithKey(t, "starter");
    await seedUsage(user.id, STARTER_LIMIT - 20);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey })).status).toBe(200);
    await flushApiUsage();
    // Someone else used the rest of the month meanwhile.
    await t.sql`update public.usage_counters set used = used + 19 where user_id = ${user.id} and metric = 'api_requests'`;
    assertEnvelope(await t.call("GET", "/api/v1/profiles", { apiKey }), 429, "quota_exceeded");
    await flushApiUsage();
    expect(await counterOf(user.id)).toBe(STARTER_LIMIT);
  });
});

describe("API request quota counted in batches: several instances", () => {
  it("two instances racing past the quota overshoot by at most one batch (and one lookup's worth), and the counter ends exact", async () => {
    const { user } = await paidUserWithKey(t, "starter");
    const limit = STARTER_LIMIT;
    await seedUsage(user.id, limit - 25);
    const { period_start, period_end } = await period(user.id);
    const sql = servicePool();
    const instances = [new ApiUsageMeter(), new ApiUsageMeter()];
    let admitted = 0;
    // Each request: the key lookup's read of the counter, then the meter's decision, as the pipeline does; the two
    // instances take turns, each flushing only when its batch fills.
    for (let round = 0; round < 40; round++) {
      await Promise.all(
        instances.map(async (meter) => {
          const dbUsed = await counterOf(user.id);
          const decision = await meter.count(
            { userId: user.id, periodStart: period_start, periodEnd: period_end, limit, dbUsed },
            sql,
            { intervalMs: 60_000, batch: BATCH },
          );
          if (decision.counted) admitted++;
        }),
      );
    }
    for (const meter of instances) await meter.flushAll();
    expect(admitted).toBeGreaterThanOrEqual(25);
    // The stated bound: (N − 1) × the batch, plus what the others admit while one lookup is in flight (here one
    // request each: a round's reads all happen before its decisions).
    expect(admitted).toBeLessThanOrEqual(25 + (instances.length - 1) * (BATCH + 1));
    expect(await counterOf(user.id)).toBe(limit - 25 + admitted);
  });
});

describe("API request quota counted in batches: memory", () => {
  it("forgets owners with nothing unwritten that it has not counted for in a minute", async () => {
    const { user } = await paidUserWithKey(t, "starter");
    const { period_start, period_end } = await period(user.id);
    let now = Date.now();
    const meter = new ApiUsageMeter(() => now);
    const count = () =>
      meter.count({ userId: user.id, periodStart: period_start, periodEnd: period_end, limit: null, dbUsed: 0 }, servicePool(), {
        intervalMs: 60_000,
        batch: 1_000,
      });
    await count();
    await meter.flushAll();
    expect(meter.size()).toBe(1); // just written: kept, so a lookup read before the write cannot hide it
    now += 61_000;
    await count();
    await meter.flushAll();
    expect(meter.size()).toBe(1); // counted again: kept
    now += 61_000;
    await meter.flush();
    expect(meter.size()).toBe(0);
    expect(await counterOf(user.id)).toBe(2);
  });
});
