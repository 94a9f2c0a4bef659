import { describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/** The recurring-schedules endpoints through the front door: shapes, validation with the field named, and tenancy. */
const t = useTestHome();

const daily = { name: "Morning Update", content: "Good morning! Here's today's update.", platforms: ["twitter"], recurrencePattern: "daily", timeOfDay: "08:00:00", timezone: "America/New_York" };

async function setup(plan = "starter") {
  const base = await paidUserWithKey(t, plan);
  await connectAccount(t, { apiKey: base.apiKey }, "twitter");
  return base;
}

describe("recurring schedules", () => {
  it("creates, lists, reads, previews, changes and deletes a schedule in the contract's shapes", async () => {
    const { apiKey } = await setup();
    const created = await t.call("POST", "/api/v1/recurring-schedules", { apiKey, body: daily });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const s = created.body.schedule;
    expect(created.body).toMatchObject({ success: true, warnings: [] });
    expect(s).toMatchObject({ name: "Morning Update", recurrencePattern: "daily", timeOfDay: "08:00:00", recurrence_pattern: "daily", time_of_day: "08:00:00", is_active: true, timezone: "America/New_York" });
    expect(s.nextScheduledAt).toBe(s.next_scheduled_at);
    // 08:00 in New York, in the future, within a day.
    const next = new Date(s.nextScheduledAt);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect(new Intl.DateTimeFormat("en-GB", { timeZone: "America/New_York", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(next)).toBe("08:00");

    const list = await t.call("GET", "/api/v1/recurring-schedules", { apiKey });
    expect(list.status).toBe(200);
    expect(list.body.schedules.map((x: { id: string }) => x.id)).toEqual([s.id]);
    expect(list.body.schedules[0]).toMatchObject({ id: s.id, name: "Morning Update", content: daily.content, platforms: ["twitter"], recurrence_pattern: "daily", time_of_day: "08:00:00", timezone: "America/New_York", is_active: true, last_posted_at: null });

    const one = await t.call("GET", `/api/v1/recurring-schedules/${s.id}`, { apiKey });
    expect(one.status).toBe(200);
    expect(one.body.schedule.id).toBe(s.id);

    const preview = await t.call("GET", `/api/v1/recurring-schedules/${s.id}/occurrences?count=3&from=2027-03-13T00:00:00Z`, { apiKey });
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    // New York springs forward on 2027-03-14: 08:00 stays 08:00 local, the UTC instant moves an hour.
    expect(preview.body.occurrences).toEqual([
      { scheduledAt: "2027-03-13T13:00:00.000Z", localTime: "2027-03-13T08:00:00" },
      { scheduledAt: "2027-03-14T12:00:00.000Z", localTime: "2027-03-14T08:00:00" },
      { scheduledAt: "2027-03-15T12:00:00.000Z", localTime: "2027-03-15T08:00:00" },
    ]);

    const changed = await t.call("PATCH", `/api/v1/recurring-schedules/${s.id}`, { apiKey, body: { name: "Updated Name", timeOfDay: "10:00:00", recurrencePattern: "weekly", recurrenceConfig: { day_of_week: 3 } } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body.schedule).toMatchObject({ name: "Updated Name", recurrence_pattern: "weekly", recurrence_config: { day_of_week: 3 }, time_of_day: "10:00:00" });
    const wed = new Date(changed.body.schedule.next_scheduled_at);
    expect(new Intl.DateTimeFormat("en-GB", { timeZone: "America/New_York", weekday: "long", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(wed)).toBe("Wednesday 10:00");

    const paused = await t.call("PATCH", `/api/v1/recurring-schedules/${s.id}`, { apiKey, body: { isActive: false } });
    expect(paused.body.schedule).toMatchObject({ is_active: false, next_scheduled_at: changed.body.schedule.next_scheduled_at });
    const resumed = await t.call("PATCH", `/api/v1/recurring-schedules/${s.id}`, { apiKey, body: { isActive: true } });
    expect(resumed.body.schedule).toMatchObject({ is_active: true, paused_reason: null });

    const deleted = await t.call("DELETE", `/api/v1/recurring-schedules/${s.id}`, { apiKey });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ success: true, canceledPosts: 0 });
    expect((await t.call("GET", `/api/v1/recurring-schedules/${s.id}`, { apiKey })).status).toBe(404);
  });

  it("says when a monthly day falls on shorter months' last day, and previews it", async () => {
    const { apiKey } = await setup();
    const res = await t.call("POST", "/api/v1/recurring-schedules", {
      apiKey,
      body: { ...daily, recurrencePattern: "monthly", recurrenceConfig: { day_of_month: 31 }, timeOfDay: "10:00", timezone: "Europe/London" },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.warnings.map((w: { code: string }) => w.code)).toContain("short_month_last_day");
    expect(res.body.schedule.notes[0]).toMatch(/last day/);
    const preview = await t.call("GET", `/api/v1/recurring-schedules/${res.body.schedule.id}/occurrences?count=3&from=2027-01-01T00:00:00Z`, { apiKey });
    expect(preview.body.occurrences.map((o: { localTime: string }) => o.localTime)).toEqual(["2027-01-31T10:00:00", "2027-02-28T10:00:00", "2027-03-31T10:00:00"]);
  });

  it("warns when the schedule alone would exceed the plan's monthly posts", async () => {
    const { apiKey } = await setup("starter");
    const res = await t.call("POST", "/api/v1/recurring-schedules", {
      apiKey,
      body: { ...daily, recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=DAILY;BYHOUR=8,10,12,14,16,18" } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.warnings).toEqual([expect.objectContaining({ code: "exceeds_monthly_posts", message: expect.stringMatching(/150/) })]);
  });

  it("refuses bad input with a 400 naming the field, writing nothing", async () => {
    const { apiKey } = await setup();
    const cases: [Record<string, unknown>, string][] = [
      [{ timezone: "Mars/Olympus_Mons" }, "timezone"],
      [{ timeOfDay: "24:00" }, "timeOfDay"],
      [{ timeOfDay: "9am" }, "timeOfDay"],
      [{ recurrencePattern: "hourly" }, "recurrencePattern"],
      [{ recurrencePattern: "weekly" }, "recurrenceConfig.day_of_week"],
      [{ recurrencePattern: "weekly", recurrenceConfig: { day_of_week: 7 } }, "recurrenceConfig.day_of_week"],
      [{ recurrencePattern: "monthly", recurrenceConfig: { day_of_month: 32 } }, "recurrenceConfig.day_of_month"],
      [{ recurrenceConfig: { day_of_month: 3 } }, "recurrenceConfig.day_of_month"],
      [{ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31" } }, "recurrenceConfig.rrule"],
      [{ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=SECONDLY" } }, "recurrenceConfig.rrule"],
      [{ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=DAILY;BYSETPOS=1" } }, "recurrenceConfig.rrule"],
      [{ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=DAILY;UNTIL=20200101" } }, "recurrenceConfig.rrule"],
      [{ recurrencePattern: "custom" }, "recurrenceConfig.rrule"],
      [{ endsAt: "2020-01-01T00:00:00Z" }, "endsAt"],
      [{ platforms: ["linkedin"] }, "platforms"],
      [{ platforms: ["myspace"] }, "platforms.0"],
      [{ content: "x".repeat(281) }, "content"],
      [{ content: undefined }, "content"],
      [{ maxOccurrences: 0 }, "maxOccurrences"],
      [{ name: "" }, "name"],
      [{ extra: 1 }, ""],
    ];
    for (const [change, field] of cases) {
      const res = await t.call("POST", "/api/v1/recurring-schedules", { apiKey, body: { ...daily, ...change } });
      expect(res.status, `${JSON.stringify(change)} → ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body).toMatchObject({ success: false, error: expect.any(String) });
      if (field) expect(JSON.stringify(res.body.details ?? res.body.error), JSON.stringify(change)).toContain(field);
    }
    expect((await t.call("GET", "/api/v1/recurring-schedules", { apiKey })).body.schedules).toEqual([]);
  });

  it("never shows or changes another tenant's schedule (404)", async () => {
    const a = await setup();
    const b = await setup();
    const created = await t.call("POST", "/api/v1/recurring-schedules", { apiKey: a.apiKey, body: daily });
    const id = created.body.schedule.id;
    for (const [method, path, body] of [
      ["GET", `/api/v1/recurring-schedules/${id}`, undefined],
      ["PATCH", `/api/v1/recurring-schedules/${id}`, { name: "mine" }],
      ["DELETE", `/api/v1/recurring-schedules/${id}`, undefined],
      ["GET", `/api/v1/recurring-schedules/${id}/occurrences`, undefined],
    ] as const) {
      expect((await t.call(method, path, { apiKey: b.apiKey, body })).status, `${method} ${path}`).toBe(404);
    }
    expect((await t.call("GET", `/api/v1/recurring-schedules?profileId=${a.profileId}`, { apiKey: b.apiKey })).status).toBe(404);
    expect((await t.call("GET", `/api/v1/recurring-schedules/${id}`, { apiKey: a.apiKey })).body.schedule.name).toBe("Morning Update");
  });
});
