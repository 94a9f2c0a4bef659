import { describe, expect, it } from "vitest";
import { manualClock } from "../../src/core/clock.js";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";
import { advance, connectionOf, DAY, HOUR, runJob, useKit } from "../connections/token-health.kit.js";

/**
 * Scheduled posts on a home whose clock moves (`startLocalHome({ clock })`, read by handlers as `ctx.clock`; the real
 * time in the cloud): the scheduled-posts list warns about a connection that will not be usable when a target is due,
 * as post reads do, and POST /api/v1/post measures "not in the past" and "at most 366 days ahead" from that clock.
 * The clock only moves forward, so the tests run in file order, each connecting its own accounts at the clock's time.
 */
const clock = manualClock();
const t = useTestHome({ clock });

useKit(t, clock);

const scheduledOf = async (apiKey: string, postId: string) => {
  const res = await t.call("GET", "/api/v1/scheduled-posts", { apiKey });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const row = res.body.scheduledPosts.find((s: { post_id: string }) => s.post_id === postId);
  expect(row, postId).toBeDefined();
  return row;
};

describe("GET /api/v1/scheduled-posts: a connection's health on each scheduled post", () => {
  it("warns on a post due after the connection stops working, and once it needs reconnecting; not on one due before", async () => {
    const { apiKey } = await paidUserWithKey(t);
    // LinkedIn's refresh token lasts 365 days from the first consent and refreshing does not extend it.
    const id = await connectAccount(t, { apiKey }, "linkedin");
    const end = new Date((await connectionOf(apiKey, id)).tokenHealth.expiresAt);
    expect(end.getTime()).toBeGreaterThan(clock.now().getTime() + 364 * DAY);

    const schedule = (content: string, at: Date) => t.call("POST", "/api/v1/post", { apiKey, body: { platform: "linkedin", content, scheduleDate: at.toISOString() } });
    const before = await schedule("Before the end", new Date(end.getTime() - 30 * DAY));
    const after = await schedule("After the end", new Date(end.getTime() + HOUR));
    expect([before.status, after.status], JSON.stringify([before.body, after.body])).toEqual([201, 201]);

    expect(await scheduledOf(apiKey, before.body.postId)).not.toHaveProperty("warning");
    const warned = await scheduledOf(apiKey, after.body.postId);
    expect(warned.warning).toBe(`The connection stops working at ${end.toISOString()}, before this post is due: reconnect the account before then`);
    // The same words as the post's own read.
    const post = await t.call("GET", `/api/v1/posts/${after.body.postId}`, { apiKey });
    expect(post.body.post.targets[0].warning).toBe(warned.warning);

    // Past the end: the connection needs reconnecting, and the post still waiting says so.
    await advance(end.getTime() - clock.now().getTime() + 10 * 60_000);
    await runJob();
    expect((await connectionOf(apiKey, id)).connectionStatus).toBe("needs_reconnect");
    expect((await scheduledOf(apiKey, after.body.postId)).warning).toBe(
      "The account needs reconnecting: this post fails unless it is reconnected before it is due",
    );
    // Only pending targets are warned about: a canceled one is listed without it.
    const canceled = await t.call("DELETE", `/api/v1/scheduled-posts/${warned.id}`, { apiKey });
    expect(canceled.status, JSON.stringify(canceled.body)).toBe(200);
    const listed = await t.call("GET", "/api/v1/scheduled-posts?status=canceled", { apiKey });
    expect(listed.body.scheduledPosts.find((s: { id: string }) => s.id === warned.id)).not.toHaveProperty("warning");
  });
});

describe("POST /api/v1/post: schedule dates are measured from the home's clock", () => {
  it("takes a date an hour after the clock's now when the clock is 400 days ahead of the real time, and refuses one before it or over 366 days after it", async () => {
    await advance(400 * DAY);
    const now = clock.now();
    expect(now.getTime() - Date.now()).toBeGreaterThan(366 * DAY); // an hour after `now` is beyond 366 days of real time
    const { apiKey, profileId } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const schedule = (at: Date) => t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "On the home's clock", scheduleDate: at.toISOString() } });

    const soon = await schedule(new Date(now.getTime() + HOUR));
    expect(soon.status, JSON.stringify(soon.body)).toBe(201);
    expect(soon.body.scheduledAt).toBe(new Date(now.getTime() + HOUR).toISOString());
    expect((await scheduledOf(apiKey, soon.body.postId)).scheduled_at).toBe(soon.body.scheduledAt);
    const lastDay = await schedule(new Date(now.getTime() + 366 * DAY - HOUR));
    expect(lastDay.status, JSON.stringify(lastDay.body)).toBe(201);

    // An hour before the clock's now is in the past, although it is a year after the real time.
    const past = await schedule(new Date(now.getTime() - HOUR));
    assertEnvelope(past, 400, "validation_error");
    expect(past.body.error).toBe(`scheduleDate ${new Date(now.getTime() - HOUR).toISOString()} is in the past`);
    expect(past.body.details).toEqual([{ field: "scheduleDate", message: "Must be in the future", rule: "future_date" }]);

    const tooFar = await schedule(new Date(now.getTime() + 367 * DAY));
    assertEnvelope(tooFar, 400, "validation_error");
    expect(tooFar.body.error).toBe("scheduleDate may be at most 366 days ahead");
    expect(tooFar.body.details).toEqual([{ field: "scheduleDate", message: "At most 366 days ahead", rule: "horizon" }]);

    // Nothing written for the refused ones.
    const [row] = await t.sql<{ posts: number }[]>`select count(*)::int as posts from public.posts where profile_id = ${profileId}`;
    expect(row!.posts).toBe(2);
  });
});
