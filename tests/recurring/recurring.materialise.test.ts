import { describe, expect, it } from "vitest";
import { connectAccount, eventually, sandboxPosts } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Materialisation on the real clock: a schedule whose next occurrence is near is made into a post at once (the README
 * walkthrough: a daily schedule firing seconds after creation); deleting a schedule cancels its pending posts; an
 * occurrence that cannot be posted is skipped and announced; a schedule with no connected target left pauses itself.
 */
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });

/** `HH:MM:SS` in UTC, `seconds` from now. */
const utcTimeIn = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString().slice(11, 19);

async function setup() {
  const base = await paidUserWithKey(t);
  const connectionId = await connectAccount(t, { apiKey: base.apiKey }, "twitter");
  return { ...base, connectionId };
}

const schedule = (content: string, secondsAhead: number) => ({
  name: "Daily",
  content,
  platforms: ["twitter"],
  recurrencePattern: "daily",
  timeOfDay: utcTimeIn(secondsAhead),
  timezone: "UTC",
});

const postsOf = (id: string) =>
  t.sql<{ id: string; status: string; occurrence_at: Date }[]>`select id, status, occurrence_at from public.posts where recurring_schedule_id = ${id}`;

describe("materialising occurrences", () => {
  it("fires a daily schedule a few seconds after it is created, once", async () => {
    const { apiKey, connectionId } = await setup();
    const content = `Walkthrough ${Math.random().toString(36).slice(2)}`;
    const created = await t.call("POST", "/api/v1/recurring-schedules", { apiKey, body: schedule(content, 6) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.schedule.id;
    const published = await eventually(async () => {
      const [post] = await postsOf(id);
      return post?.status === "published" ? post : undefined;
    }, 30_000, "the first occurrence to be published");
    expect(published.occurrence_at.toISOString()).toBe(created.body.schedule.nextScheduledAt);
    expect((await sandboxPosts(t, connectionId)).filter((p) => p.text === content)).toHaveLength(1);
    expect(await postsOf(id)).toHaveLength(1);
  });

  it("cancels a deleted schedule's pending posts", async () => {
    const { apiKey } = await setup();
    const created = await t.call("POST", "/api/v1/recurring-schedules", { apiKey, body: schedule("Soon deleted", 200) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.schedule.id;
    const [post] = await eventually(async () => ((await postsOf(id)).length ? postsOf(id) : undefined), 15_000, "the occurrence's post");
    expect(post!.status).toBe("scheduled");
    const deleted = await t.call("DELETE", `/api/v1/recurring-schedules/${id}`, { apiKey });
    expect(deleted.body).toEqual({ success: true, canceledPosts: 1 });
    const [after] = await t.sql<{ status: string; recurring_schedule_id: string | null }[]>`select status, recurring_schedule_id from public.posts where id = ${post!.id}`;
    expect(after).toEqual({ status: "canceled", recurring_schedule_id: null });
  });

  it("skips an occurrence the plan's quota cannot take, records it and announces recurring.occurrence_skipped", async () => {
    const { apiKey, user } = await setup();
    const created = await t.call("POST", "/api/v1/recurring-schedules", { apiKey, body: schedule("Over quota", 3000) });
    const id = created.body.schedule.id;
    await t.sql`
      insert into public.usage_counters (user_id, metric, period_start, period_end, used)
      select ${user.id}, 'posts', p.period_start, p.period_end, 150
      from public.billing_subscriptions b, public.usage_period(b.current_period_end, now()) p where b.user_id = ${user.id}
      on conflict (user_id, metric, period_start) do update set used = excluded.used`;
    // Bring the occurrence near: a new time restarts the rule from now and makes it at once.
    const changed = await t.call("PATCH", `/api/v1/recurring-schedules/${id}`, { apiKey, body: { timeOfDay: utcTimeIn(120) } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    const skipped = await eventually(async () => {
      const res = await t.call("GET", `/api/v1/recurring-schedules/${id}`, { apiKey });
      return res.body.schedule.skipped_count === 1 ? res.body.schedule : undefined;
    }, 15_000, "the occurrence to be skipped");
    expect(skipped).toMatchObject({ is_active: true, last_posted_at: null, occurrence_count: 1, last_error: expect.stringMatching(/150 posts per month/) });
    expect(new Date(skipped.next_scheduled_at).getTime()).toBeGreaterThan(Date.now() + 3_600_000);
    expect(await postsOf(id)).toEqual([]);
    const [event] = await t.sql<{ payload: { data: Record<string, unknown> } }[]>`
      select payload from public.events where event_type = 'recurring.occurrence_skipped' and payload->'data'->>'schedule_id' = ${id}`;
    expect(event!.payload.data).toMatchObject({ schedule_id: id, skipped_count: 1, paused: false, reason: expect.stringMatching(/quota|posts per month/) });
  });

  it("pauses a schedule whose every target is disconnected, with the reason", async () => {
    const { apiKey, connectionId } = await setup();
    const created = await t.call("POST", "/api/v1/recurring-schedules", { apiKey, body: schedule("Nobody home", 3000) });
    const id = created.body.schedule.id;
    expect((await t.call("DELETE", `/api/v1/connections/${connectionId}`, { apiKey })).status).toBe(200);
    await t.call("PATCH", `/api/v1/recurring-schedules/${id}`, { apiKey, body: { timeOfDay: utcTimeIn(120) } });
    const paused = await eventually(async () => {
      const res = await t.call("GET", `/api/v1/recurring-schedules/${id}`, { apiKey });
      return res.body.schedule.is_active === false ? res.body.schedule : undefined;
    }, 15_000, "the schedule to pause itself");
    expect(paused.paused_reason).toMatch(/no account is connected for twitter/);
    expect(paused.next_scheduled_at).not.toBeNull();
    expect(await postsOf(id)).toEqual([]);
    const events = await t.sql`select 1 from public.events where event_type = 'recurring.occurrence_skipped' and payload->'data'->>'schedule_id' = ${id}`;
    expect(events).toHaveLength(1);
    // Resuming checks the targets again, as creating does.
    const resumed = await t.call("PATCH", `/api/v1/recurring-schedules/${id}`, { apiKey, body: { isActive: true } });
    expect(resumed.status).toBe(400);
    expect(JSON.stringify(resumed.body.details)).toContain("platforms");
  });
});
