import { describe, expect, it } from "vitest";
import { manualClock } from "../../src/core/clock.js";
import { connectAccount, sandboxControl, sandboxPosts } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import { advance, connectionOf, DAY, eventsOf, HOUR, MIN, near, publishNow, rowOf, runJob, useKit } from "./token-health.kit.js";

/**
 * Connection health before it fails (src/connections/health.ts, refresh-job.ts), network family by network family:
 * the home's clock and the sandboxes' clock move together through token expiries, the refresh-ahead job runs through
 * the queue worker (a QStash-signed delivery, as the sweep sends it), and what is checked is what the API answers
 * (tokenHealth, readiness warnings, a scheduled post's warning), the events written for webhooks, and that posts
 * publish with tokens the job refreshed ahead of time. The clock only moves forward, so each test connects its own
 * accounts at the clock's current time. This file holds the cases with scheduled posts (X, LinkedIn), on their own
 * clock (the API takes schedule dates up to 366 days ahead of the home's clock); token-health.test.ts has the other
 * network families.
 */
const clock = manualClock();
const t = useTestHome({ clock, env: { SWEEP_INTERVAL_SECONDS: "0.5", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });

useKit(t, clock);

describe("X: a 2-hour access token and a rotating offline.access refresh token without a stated expiry", () => {
  it("a post due within 15 minutes gets its expired 2-hour token refreshed by the job, and publishes without a refresh of its own", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "twitter");
    const start = clock.now().getTime();
    const first = await rowOf(id);
    near(first.token_expires_at, start + 2 * HOUR);
    expect(first.refresh_token_expires_at).toBeNull();
    expect((await connectionOf(apiKey, id)).tokenHealth).toEqual({ status: "ok" });

    let now = await advance(3 * HOUR); // the access token has expired on X
    await runJob();
    expect((await rowOf(id)).access_token_enc).toBe(first.access_token_enc); // nothing needs it yet

    const scheduled = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: "Soon", scheduleDate: new Date(now.getTime() + 10 * MIN).toISOString() },
    });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(201);
    await runJob();
    const refreshed = await rowOf(id);
    expect(refreshed.access_token_enc).not.toBe(first.access_token_enc);
    near(refreshed.token_expires_at, now.getTime() + 2 * HOUR);

    // An immediate post uses the token the job refreshed: the publish path does not refresh.
    const content = `Fresh token ${Math.random().toString(36).slice(2)}`;
    const post = await publishNow(apiKey, "twitter", content);
    expect(post.status, JSON.stringify(post)).toBe("published");
    expect((await rowOf(id)).access_token_enc).toBe(refreshed.access_token_enc);
    expect((await sandboxPosts(t, id)).map((p) => p.text)).toContain(content);

    // The refresh token is revoked: the next refresh ahead (another post due soon) is refused → needs_reconnect, and
    // the scheduled post's target says so before it is due.
    await sandboxControl(t, id, "revoke-refresh-tokens");
    now = await advance(3 * HOUR);
    const doomed = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: "Doomed", scheduleDate: new Date(now.getTime() + 10 * MIN).toISOString() },
    });
    expect(doomed.status).toBe(201);
    await runJob();
    const dead = await connectionOf(apiKey, id);
    // (The metrics sync may be the one that meets the refusal first: the reason is the network's, either way.)
    expect(dead.tokenHealth).toEqual({ status: "needs_reconnect", reason: expect.any(String) });
    expect(dead.tokenHealth.reason).toMatch(/rejected|answered|revoked|invalid/i);
    expect(await eventsOf(id, "connection.needs_reconnect")).toHaveLength(1);
    const target = (await t.call("GET", `/api/v1/posts/${doomed.body.postId}`, { apiKey })).body.post.targets[0];
    expect(target.warning).toContain("needs reconnecting");
  });

});

describe("LinkedIn: 60-day access tokens refreshed ahead, a 365-day refresh token that refreshing does not extend", () => {
  it("refreshes the access token in its last quarter, warns 7 days and 1 day before the refresh token ends (once each), then needs a reconnect", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const sandboxUser = `member-${Math.random().toString(36).slice(2, 10)}`;
    const id = await connectAccount(t, { apiKey }, "linkedin", { sandboxUser });
    const start = clock.now().getTime();
    const first = await rowOf(id);
    near(first.token_expires_at, start + 60 * DAY);
    near(first.refresh_token_expires_at, start + 365 * DAY);
    expect(first.usable_until).toEqual(first.refresh_token_expires_at);
    const end = first.usable_until!;
    expect((await connectionOf(apiKey, id)).tokenHealth).toEqual({ status: "ok", expiresAt: end.toISOString() });

    // Scheduled posts: one before the refresh token ends (fine), one after it (warned on its target).
    const before = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "linkedin", content: "Before the end", scheduleDate: new Date(end.getTime() - 30 * DAY).toISOString() },
    });
    const after = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "linkedin", content: "After the end", scheduleDate: new Date(end.getTime() + HOUR).toISOString() },
    });
    expect([before.status, after.status], JSON.stringify([before.body, after.body])).toEqual([201, 201]);
    const targetOf = async (postId: string) => (await t.call("GET", `/api/v1/posts/${postId}`, { apiKey })).body.post.targets[0];
    expect(await targetOf(before.body.postId)).not.toHaveProperty("warning");
    expect((await targetOf(after.body.postId)).warning).toBe(
      `The connection stops working at ${end.toISOString()}, before this post is due: reconnect the account before then`,
    );

    await advance(44 * DAY); // 16 days left of 60: not in the last quarter yet
    await runJob();
    expect((await rowOf(id)).token_expires_at).toEqual(first.token_expires_at);
    let now = await advance(2 * DAY); // 14 days left
    await runJob();
    const refreshed = await rowOf(id);
    near(refreshed.token_expires_at, now.getTime() + 60 * DAY);
    near(refreshed.refresh_token_expires_at, end.getTime(), 5 * MIN); // not extended by refreshing
    expect(await eventsOf(id, "connection.expiring")).toEqual([]);

    now = await advance(end.getTime() - clock.now().getTime() - 6 * DAY); // 6 days before the end
    await runJob();
    await runJob();
    const health = (await connectionOf(apiKey, id));
    expect(health.tokenHealth).toEqual({ status: "expiring", expiresAt: expect.any(String) });
    near(new Date(health.tokenHealth.expiresAt), end.getTime(), 5 * MIN);
    expect(health.readiness.warnings).toEqual([expect.stringMatching(/^The connection stops working at .*: reconnect the account before then$/)]);
    let warnings = await eventsOf(id, "connection.expiring");
    expect(warnings.map((e) => e.payload.data.days_before)).toEqual([7]);
    expect(warnings[0]!.payload).toMatchObject({
      event_type: "connection.expiring",
      data: { connection_id: id, platform: "linkedin", scheduled_posts: 1, reason: expect.stringContaining("reconnect") },
    });

    await advance(end.getTime() - clock.now().getTime() - 12 * HOUR); // half a day before the end
    await runJob();
    await runJob();
    warnings = await eventsOf(id, "connection.expiring");
    expect(warnings.map((e) => e.payload.data.days_before)).toEqual([7, 1]);

    await advance(end.getTime() - clock.now().getTime() + 10 * MIN); // past the end
    await runJob();
    const dead = await connectionOf(apiKey, id);
    expect(dead.connectionStatus).toBe("needs_reconnect");
    expect(dead.tokenHealth).toEqual({ status: "needs_reconnect", reason: expect.stringContaining("expired") });
    expect(dead.readiness.status).toBe("needs_reconnect");
    const reconnects = await eventsOf(id, "connection.needs_reconnect");
    expect(reconnects).toHaveLength(1);
    expect(reconnects[0]!.payload.data.reason).toContain("reconnect the account");
    expect((await targetOf(after.body.postId)).warning).toContain("needs reconnecting");
    expect((await eventsOf(id, "connection.expiring")).length).toBe(2);

    // Reconnecting starts a new year: healthy again, the post's warning gone, and both warnings armed for the new end.
    expect(await connectAccount(t, { apiKey }, "linkedin", { sandboxUser })).toBe(id);
    const again = await connectionOf(apiKey, id);
    expect(again.tokenHealth.status).toBe("ok");
    near(new Date(again.tokenHealth.expiresAt), clock.now().getTime() + 365 * DAY);
    expect(again.readiness.status).toBe("ready");
    expect(await targetOf(after.body.postId)).not.toHaveProperty("warning");
    const [armed] = await t.sql`select expiry_warned_7d_for, expiry_warned_1d_for from public.connections where id = ${id}`;
    expect(armed).toEqual({ expiry_warned_7d_for: null, expiry_warned_1d_for: null });
  });
});

