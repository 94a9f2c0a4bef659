import { describe, expect, it } from "vitest";
import { connectAccount, eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Where a post came from, in GET /api/v1/posts and GET /api/v1/posts/:postId: `template_id` (the template it was
 * made from), `recurring_schedule_id` and `occurrence_at` (the recurring schedule and occurrence that made it); null
 * for an ordinary post. Deleting the template keeps the post and unlinks it.
 */
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3" } });

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
/** `HH:MM:SS` in UTC, `seconds` from now. */
const utcTimeIn = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString().slice(11, 19);

async function setup() {
  const base = await paidUserWithKey(t);
  await connectAccount(t, { apiKey: base.apiKey }, "twitter");
  return base;
}

const post = (apiKey: string, body: Record<string, unknown>) =>
  t.call("POST", "/api/v1/post", { apiKey, headers: { "idempotency-key": `origin-${Math.random()}` }, body });

describe("a post's origin", () => {
  it("an ordinary post carries null template, schedule and occurrence", async () => {
    const { apiKey } = await setup();
    const made = await post(apiKey, { platform: "twitter", content: "Plain", scheduleDate: inAnHour() });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const one = await t.call("GET", `/api/v1/posts/${made.body.postId}`, { apiKey });
    expect(one.body.post).toMatchObject({ template_id: null, recurring_schedule_id: null, occurrence_at: null });
    const list = await t.call("GET", "/api/v1/posts", { apiKey });
    expect(list.body.posts[0]).toMatchObject({ id: made.body.postId, template_id: null, recurring_schedule_id: null, occurrence_at: null });
  });

  it("a post made from a template names it, until the template is deleted (the post stays)", async () => {
    const { apiKey, profileId } = await setup();
    const template = await t.call("POST", "/api/v1/templates", { apiKey, body: { name: "Origin", content: "Hello {{who}}", platforms: ["twitter"] } });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const templateId = template.body.template.id;
    const made = await post(apiKey, { templateId, variables: { who: "world" }, scheduleDate: inAnHour() });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const one = await t.call("GET", `/api/v1/posts/${made.body.postId}`, { apiKey });
    expect(one.body.post).toMatchObject({ content: "Hello world", template_id: templateId, recurring_schedule_id: null, occurrence_at: null });
    const list = await t.call("GET", "/api/v1/posts", { apiKey });
    expect(list.body.posts.find((p: { id: string }) => p.id === made.body.postId).template_id).toBe(templateId);

    expect((await t.call("DELETE", `/api/v1/templates/${templateId}`, { apiKey })).status).toBe(200);
    const after = await t.call("GET", `/api/v1/posts/${made.body.postId}`, { apiKey });
    expect(after.body.post).toMatchObject({ content: "Hello world", template_id: null });
    const [row] = await t.sql`select profile_id, template_id from public.posts where id = ${made.body.postId}`;
    expect(row).toEqual({ profile_id: profileId, template_id: null });
  });

  it("a post made by a recurring schedule names the schedule, the occurrence and its template", async () => {
    const { apiKey } = await setup();
    const template = await t.call("POST", "/api/v1/templates", { apiKey, body: { name: "Weekly", content: "Tip: {{tip}}", platforms: ["twitter"] } });
    expect(template.status, JSON.stringify(template.body)).toBe(201);
    const templateId = template.body.template.id;
    const created = await t.call("POST", "/api/v1/recurring-schedules", {
      apiKey,
      body: { name: "Daily tip", templateId, variables: { tip: "hydrate" }, platforms: ["twitter"], recurrencePattern: "daily", timeOfDay: utcTimeIn(300), timezone: "UTC" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const schedule = created.body.schedule;
    const listed = await eventually(async () => {
      const res = await t.call("GET", `/api/v1/posts?recurringScheduleId=${schedule.id}`, { apiKey });
      return res.body.posts?.length ? res.body.posts : undefined;
    }, 15_000, "the occurrence's post");
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      content: "Tip: hydrate",
      template_id: templateId,
      recurring_schedule_id: schedule.id,
      occurrence_at: schedule.nextScheduledAt,
    });
    const one = await t.call("GET", `/api/v1/posts/${listed[0].id}`, { apiKey });
    expect(one.body.post).toMatchObject({ template_id: templateId, recurring_schedule_id: schedule.id, occurrence_at: schedule.nextScheduledAt });
  });
});
