import { describe, expect, it } from "vitest";
import { manualClock } from "../../src/core/clock.js";
import { connectAccount, eventually, sandboxPosts } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * A daily schedule firing three times in the local home, across New York's fall-back change (2026-11-01, 02:00 EDT →
 * 01:00 EST), by moving the home's clock (every handler and job reads it) instead of waiting days. The clock is set
 * to those past days, so each occurrence's post is due at once by the database's (real) time and the publish job
 * sends it right away: what the test checks is that the recurring job makes each occurrence's post when the clock
 * reaches it, at the right instant, once, and that the sandbox network publishes it once.
 */
const clock = manualClock();
const t = useTestHome({ clock, env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });

describe("a recurring schedule in the local home, as the clock moves", () => {
  it("fires daily at 01:30 New York time three times across the fall-back change, publishing each once", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "twitter");
    const template = await t.call("POST", "/api/v1/templates", { apiKey, body: { name: "Night owl", content: "Night owl check-in {{date}} {{time}} {{tag}}" } });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const tag = `#t${Math.random().toString(36).slice(2, 8)}`;

    clock.set(new Date("2026-10-30T12:00:00Z"));
    const created = await t.call("POST", "/api/v1/recurring-schedules", {
      apiKey,
      body: {
        name: "Night owl",
        templateId: template.body.template.id,
        variables: { tag },
        platforms: ["twitter"],
        recurrencePattern: "daily",
        timeOfDay: "01:30",
        timezone: "America/New_York",
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id: string = created.body.schedule.id;
    expect(created.body.schedule.nextScheduledAt).toBe("2026-10-31T05:30:00.000Z");

    // 01:30 EDT, 01:30 EDT again on the change day (the first of the two 01:30s), then 01:30 EST.
    const expected = [
      { at: "2026-10-31T05:30:00.000Z", text: `Night owl check-in 2026-10-31 01:30 ${tag}` },
      { at: "2026-11-01T05:30:00.000Z", text: `Night owl check-in 2026-11-01 01:30 ${tag}` },
      { at: "2026-11-02T06:30:00.000Z", text: `Night owl check-in 2026-11-02 01:30 ${tag}` },
    ];
    for (const [i, occurrence] of expected.entries()) {
      // Nothing is made before the clock nears the occurrence.
      const [early] = await t.sql`select count(*)::int as n from public.posts where recurring_schedule_id = ${id} and occurrence_at = ${occurrence.at}`;
      expect(early!.n).toBe(0);
      clock.set(new Date(new Date(occurrence.at).getTime() - 90_000));
      const post = await eventually(async () => {
        const [row] = await t.sql<{ id: string; status: string; scheduled_for: Date; content: string }[]>`
          select id, status, scheduled_for, content from public.posts where recurring_schedule_id = ${id} and occurrence_at = ${occurrence.at}`;
        return row?.status === "published" ? row : undefined;
      }, 20_000, `occurrence ${i + 1} to be published`);
      expect(post.scheduled_for.toISOString()).toBe(occurrence.at);
      expect(post.content).toBe(occurrence.text);
      const published = (await sandboxPosts(t, connectionId)).filter((p) => p.text === occurrence.text);
      expect(published, occurrence.text).toHaveLength(1);
    }

    // Sweeps keep running while the clock stands still: still one post (and one publication) per occurrence.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const posts = await t.sql<{ occurrence_at: Date }[]>`
      select occurrence_at from public.posts where recurring_schedule_id = ${id} order by occurrence_at`;
    expect(posts.map((p) => p.occurrence_at.toISOString())).toEqual(expected.map((e) => e.at));
    const network = (await sandboxPosts(t, connectionId)).filter((p) => p.text.endsWith(tag));
    expect(network).toHaveLength(3);

    const listed = await t.call("GET", `/api/v1/posts?recurringScheduleId=${id}`, { apiKey });
    expect(listed.status).toBe(200);
    expect(listed.body.posts).toHaveLength(3);
    clock.set(new Date("2026-11-02T06:31:00Z"));
    const schedule = await t.call("GET", `/api/v1/recurring-schedules/${id}`, { apiKey });
    expect(schedule.body.schedule).toMatchObject({
      last_posted_at: "2026-11-02T06:30:00.000Z",
      occurrence_count: 3,
      skipped_count: 0,
      next_scheduled_at: "2026-11-03T06:30:00.000Z",
    });
  });
});
