import { describe, expect, it } from "vitest";
import { monthlyUsage } from "../../src/billing/usage.js";
import type { Claims, Tx } from "../../src/core/pg.js";
import { serviceDb, services } from "../../src/core/services.js";

const withClaims = <T>(claims: Claims, fn: (tx: Tx) => Promise<T>) => services().db.as(claims, fn);
const withService = <T>(fn: (tx: Tx) => Promise<T>) => serviceDb()(fn);
import { AppError } from "../../src/core/errors.js";
import { consumePostQuota } from "../../src/core/quota.js";
import { flushApiUsage } from "../../src/core/ratelimit/api-usage.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createProfile, paidUserWithKey, signUp, subscribe, type TestUser } from "../helpers/users.js";

/** Monthly quotas: API requests through the front door, posts through the function the posts feature calls. */
const t = useTestHome();

const asUser = <T>(user: TestUser, fn: Parameters<typeof withClaims<T>>[1]) => withClaims({ sub: user.id, role: "authenticated" }, fn);

async function periodOf(userId: string): Promise<{ period_start: Date; period_end: Date }> {
  const [row] = await t.sql<{ period_start: Date; period_end: Date }[]>`
    select p.period_start, p.period_end
    from public.billing_subscriptions b, public.usage_period(b.current_period_end, now()) p
    where b.user_id = ${userId}`;
  return row!;
}

/** Sets this month's counter as if `used` had already been counted. */
async function seedUsage(userId: string, metric: "posts" | "api_requests", used: number) {
  const { period_start, period_end } = await periodOf(userId);
  await t.sql`
    insert into public.usage_counters (user_id, metric, period_start, period_end, used)
    values (${userId}, ${metric}, ${period_start}, ${period_end}, ${used})
    on conflict (user_id, metric, period_start) do update set used = excluded.used`;
}

/** A counter once this process has written the API requests it counted (src/core/ratelimit/api-usage.ts). */
const usedOf = async (userId: string, metric: "posts" | "api_requests") => {
  await flushApiUsage();
  const [row] = await t.sql<{ used: number }[]>`select used from public.usage_counters where user_id = ${userId} and metric = ${metric}`;
  return row?.used ?? 0;
};

describe("API request quota", () => {
  it("lets exactly the plan's limit through at the edge, then answers 429 quota_exceeded naming the limit and its reset", async () => {
    const { apiKey, user } = await paidUserWithKey(t, "starter");
    await seedUsage(user.id, "api_requests", 9_998);
    const responses = await Promise.all(Array.from({ length: 6 }, () => t.call("GET", "/api/v1/profiles", { apiKey })));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(2);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused).toHaveLength(4);
    expect(await usedOf(user.id, "api_requests")).toBe(10_000);

    const { period_start, period_end } = await periodOf(user.id);
    // No Stripe billing period on record: the calendar month in UTC.
    expect(period_start.getUTCDate()).toBe(1);
    for (const r of refused) {
      assertEnvelope(r, 429, "quota_exceeded");
      expect(r.body.error).toBe(`Monthly quota reached: 10,000 API requests per month on the Starter plan. It resets at ${period_end.toISOString()}.`);
      expect(r.body.details).toMatchObject({
        limit: "api_requests_per_month",
        max: 10_000,
        used: 10_000,
        plan: "starter",
        periodStart: period_start.toISOString(),
        resetAt: period_end.toISOString(),
      });
      expect(Math.abs(Number(r.headers.get("retry-after")) - (period_end.getTime() - Date.now()) / 1000)).toBeLessThan(30);
      expect(r.headers.get("x-ratelimit-limit")).toBe("1000");
    }
  });

  it("counts by the Stripe billing period when there is one, and a plan change applies its limit at once", async () => {
    const { apiKey, user } = await paidUserWithKey(t, "starter");
    const periodEnd = new Date(Date.now() + 10 * 86_400_000);
    await t.sql`update public.billing_subscriptions set current_period_end = ${periodEnd} where user_id = ${user.id}`;
    await seedUsage(user.id, "api_requests", 10_000);
    const refused = await t.call("GET", "/api/v1/profiles", { apiKey });
    assertEnvelope(refused, 429, "quota_exceeded");
    expect(refused.body.details.resetAt).toBe(periodEnd.toISOString());
    const [row] = await t.sql<{ period_start: Date }[]>`select period_start from public.usage_counters where user_id = ${user.id}`;
    const expectedStart = new Date(periodEnd);
    expectedStart.setUTCMonth(expectedStart.getUTCMonth() - 1);
    expect(row!.period_start.toISOString()).toBe(expectedStart.toISOString());

    await subscribe(t, user, "growth");
    const upgraded = await t.call("GET", "/api/v1/profiles", { apiKey });
    expect(upgraded.status).toBe(200);
    expect(await usedOf(user.id, "api_requests")).toBe(10_001);
  });

  it("loses no count when many requests arrive at once, and counts without limit on Unlimited", async () => {
    const { apiKey, user } = await paidUserWithKey(t, "unlimited");
    await seedUsage(user.id, "api_requests", 5_000_000);
    const responses = await Promise.all(Array.from({ length: 40 }, () => t.call("GET", "/api/v1/profiles", { apiKey })));
    expect(responses.map((r) => r.status)).toEqual(Array(40).fill(200));
    expect(await usedOf(user.id, "api_requests")).toBe(5_000_040);
  });

  it("does not count requests refused before metering (unknown key, lapsed subscription) or browser sessions", async () => {
    const { apiKey, user } = await paidUserWithKey(t, "starter");
    expect((await t.call("GET", "/api/v1/profiles", { token: user.token })).status).toBe(200);
    await subscribe(t, user, "starter", "canceled");
    expect((await t.call("GET", "/api/v1/profiles", { apiKey })).status).toBe(402);
    expect(await usedOf(user.id, "api_requests")).toBe(0);
  });
});

describe("posts quota (consumePostQuota, inside the posts feature's transaction)", () => {
  it("lets exactly the Free plan's 25 through when concurrent transactions race at the edge", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user);
    await seedUsage(user.id, "posts", 20);
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () =>
        asUser(user, (tx) => consumePostQuota(tx, profileId, 1)).then(
          (standing) => ({ ok: true as const, standing }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      ),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(5);
    const refusals = outcomes.filter((o) => !o.ok).map((o) => (o as { error: unknown }).error);
    expect(refusals).toHaveLength(7);
    const { period_start, period_end } = await periodOf(user.id);
    for (const e of refusals) {
      expect(e).toBeInstanceOf(AppError);
      expect(e).toMatchObject({ code: "quota_exceeded", status: 429 });
      expect((e as AppError).message).toBe(`Monthly quota reached: 25 posts per month on the Free plan. It resets at ${period_end.toISOString()}.`);
      expect((e as AppError).details).toMatchObject({ limit: "posts_per_month", max: 25, used: 25, plan: "free", resetAt: period_end.toISOString(), periodStart: period_start.toISOString() });
    }
    expect(await usedOf(user.id, "posts")).toBe(25);
  });

  it("counts a batch whole or not at all, and gives the count back when the transaction rolls back", async () => {
    const user = await signUp(t);
    await subscribe(t, user, "starter");
    const profileId = await createProfile(t, user);
    await seedUsage(user.id, "posts", 140);
    expect(await asUser(user, (tx) => consumePostQuota(tx, profileId, 10))).toMatchObject({ counted: true, used: 150, limit: 150, plan: "starter" });
    await t.sql`update public.usage_counters set used = 145 where user_id = ${user.id} and metric = 'posts'`;
    await expect(asUser(user, (tx) => consumePostQuota(tx, profileId, 6))).rejects.toMatchObject({ code: "quota_exceeded" });
    expect(await usedOf(user.id, "posts")).toBe(145);
    await expect(
      asUser(user, async (tx) => {
        await consumePostQuota(tx, profileId, 3);
        throw new Error("the post could not be created");
      }),
    ).rejects.toThrow("the post could not be created");
    expect(await usedOf(user.id, "posts")).toBe(145);
  });

  it("applies the fair-use ceiling on Growth and no limit on Unlimited", async () => {
    const growth = await signUp(t);
    await subscribe(t, growth, "growth");
    const growthProfile = await createProfile(t, growth);
    await seedUsage(growth.id, "posts", 9_999);
    expect(await asUser(growth, (tx) => consumePostQuota(tx, growthProfile))).toMatchObject({ used: 10_000, limit: 10_000 });
    const refused = await asUser(growth, (tx) => consumePostQuota(tx, growthProfile)).catch((e: AppError) => e);
    expect(refused).toMatchObject({ code: "quota_exceeded" });
    expect((refused as AppError).message).toMatch(/^Monthly quota reached: the fair-use limit of 10,000 posts per month on the Growth plan\./);

    const unlimited = await signUp(t);
    await subscribe(t, unlimited, "unlimited");
    const unlimitedProfile = await createProfile(t, unlimited);
    await seedUsage(unlimited.id, "posts", 1_000_000);
    expect(await asUser(unlimited, (tx) => consumePostQuota(tx, unlimitedProfile, 5))).toMatchObject({ used: 1_000_005, limit: null });
  });

  it("charges the profile's owner for any member's posts, only members may count, and only ever adds", async () => {
    const owner = await signUp(t);
    const member = await signUp(t);
    const stranger = await signUp(t);
    const profileId = await createProfile(t, owner);
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${profileId}, ${member.id}, 'member')`;
    expect(await asUser(member, (tx) => consumePostQuota(tx, profileId))).toMatchObject({ counted: true, used: 1 });
    // An API key is confined to its own profile: the member's key for another profile cannot count for this one.
    const memberOwn = await createProfile(t, member, "Member's own");
    await expect(
      withClaims({ sub: member.id, role: "authenticated", profile_id: memberOwn }, (tx) => consumePostQuota(tx, profileId)),
    ).rejects.toMatchObject({ code: "42501" });
    expect(
      await withClaims({ sub: member.id, role: "authenticated", profile_id: profileId }, (tx) => consumePostQuota(tx, profileId)),
    ).toMatchObject({ used: 2 });
    // The member's own profile is paid for by the member, whoever counts there.
    expect(await asUser(member, (tx) => consumePostQuota(tx, memberOwn))).toMatchObject({ used: 1 });
    await expect(asUser(stranger, (tx) => consumePostQuota(tx, profileId))).rejects.toMatchObject({ code: "42501" });
    await expect(asUser(owner, (tx) => consumePostQuota(tx, memberOwn))).rejects.toMatchObject({ code: "42501" });
    await expect(asUser(owner, (tx) => consumePostQuota(tx, profileId, -5))).rejects.toMatchObject({ code: "22023" });
    await expect(asUser(owner, (tx) => consumePostQuota(tx, profileId, 0))).rejects.toMatchObject({ code: "22023" });
    // The service connection (the sweep materialising recurring posts) may count for any profile.
    expect(await withService((tx) => consumePostQuota(tx, profileId))).toMatchObject({ used: 3 });
    expect(await usedOf(owner.id, "posts")).toBe(3);
    expect(await usedOf(member.id, "posts")).toBe(1);
  });
});

describe("usage counters are the database's", () => {
  it("users read their own counters and cannot change anyone's, nor call the counting primitives", async () => {
    const a = await signUp(t);
    const b = await signUp(t);
    await seedUsage(a.id, "posts", 3);
    await seedUsage(b.id, "posts", 4);
    await asUser(a, async (tx) => {
      expect(await tx`select user_id, used from public.usage_counters`).toEqual([{ user_id: a.id, used: 3 }]);
    });
    await expect(asUser(a, (tx) => tx`update public.usage_counters set used = 0`)).rejects.toMatchObject({ code: "42501" });
    await expect(asUser(a, (tx) => tx`delete from public.usage_counters`)).rejects.toMatchObject({ code: "42501" });
    await expect(
      asUser(a, (tx) => tx`select public.usage_add(${a.id}::uuid, 'posts', -3, null, now(), now() + interval '1 month')`),
    ).rejects.toMatchObject({ code: "42501" });
    expect(await usedOf(a.id, "posts")).toBe(3);
  });

  it("follows Stripe's monthly periods from the anchor, and calendar months without one", async () => {
    const rows = await t.sql<{ label: string; period_start: Date; period_end: Date }[]>`
      select a.label, p.period_start, p.period_end from (values
        ('calendar', null::timestamptz, '2026-11-29T10:00:00Z'::timestamptz),
        ('calendar, last instant', null, '2026-12-31T23:59:59.999Z'),
        ('anchor ahead', '2026-12-10T08:00:00Z', '2026-11-29T10:00:00Z'),
        ('anchor passed: rolled forward', '2026-10-10T08:00:00Z', '2026-11-29T10:00:00Z'),
        ('at the anchor', '2026-11-29T10:00:00Z', '2026-11-29T10:00:00Z'),
        ('31st into February', '2027-01-31T12:00:00Z', '2027-02-15T00:00:00Z'),
        ('31st back in March', '2027-01-31T12:00:00Z', '2027-03-01T00:00:00Z')
      ) a(label, period_end, at), lateral public.usage_period(a.period_end, a.at) p`;
    expect(rows.map((r) => [r.label, r.period_start.toISOString(), r.period_end.toISOString()])).toEqual([
      ["calendar", "2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z"],
      ["calendar, last instant", "2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"],
      ["anchor ahead", "2026-11-10T08:00:00.000Z", "2026-12-10T08:00:00.000Z"],
      ["anchor passed: rolled forward", "2026-11-10T08:00:00.000Z", "2026-12-10T08:00:00.000Z"],
      ["at the anchor", "2026-11-29T10:00:00.000Z", "2026-12-29T10:00:00.000Z"],
      ["31st into February", "2027-01-31T12:00:00.000Z", "2027-02-28T12:00:00.000Z"],
      ["31st back in March", "2027-02-28T12:00:00.000Z", "2027-03-31T12:00:00.000Z"],
    ]);
  });
});

describe("monthlyUsage (for GET /api/billing/subscription-status)", () => {
  it("reports this billing month's posts and API requests against the plan's limits", async () => {
    const free = await signUp(t);
    await seedUsage(free.id, "posts", 7);
    const { period_start, period_end } = await periodOf(free.id);
    expect(await asUser(free, (tx) => monthlyUsage(tx, free.id))).toEqual({
      plan: "free",
      periodStart: period_start.toISOString(),
      resetsAt: period_end.toISOString(),
      posts: { used: 7, limit: 25 },
      apiRequests: { used: 0, limit: 0 },
    });

    const { apiKey, user } = await paidUserWithKey(t, "growth");
    for (let i = 0; i < 3; i++) expect((await t.call("GET", "/api/v1/profiles", { apiKey })).status).toBe(200);
    expect(await asUser(user, (tx) => monthlyUsage(tx, user.id))).toMatchObject({
      plan: "growth",
      posts: { used: 0, limit: null, fairUseLimit: 10_000 },
      apiRequests: { used: 3, limit: 100_000 },
    });
  });
});
