import { describe, expect, it } from "vitest";
import { manualClock } from "../../src/core/clock.js";
import { connectAccount, sandboxControl } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import { advance, connectionOf, DAY, eventsOf, HOUR, MIN, near, publishNow, rowOf, runJob, useKit } from "./token-health.kit.js";

/**
 * Connection health before it fails (src/connections/health.ts, refresh-job.ts), network family by network family:
 * the home's clock and the sandboxes' clock move together through token expiries, the refresh-ahead job runs through
 * the queue worker (a QStash-signed delivery, as the sweep sends it), and what is checked is what the API answers
 * (tokenHealth, readiness warnings, a scheduled post's warning), the events written for webhooks, and that posts
 * publish with tokens the job refreshed ahead of time. The clock only moves forward, so each test connects its own
 * accounts at the clock's current time.
 */
const clock = manualClock();
const t = useTestHome({ clock, env: { SWEEP_INTERVAL_SECONDS: "0.5", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });

useKit(t, clock);

describe("Meta (Facebook, Instagram, Threads): long-lived tokens renewed when under 7 days remain", () => {
  it("Facebook re-exchanges the long-lived user token a week before its 60 days end, and the Page keeps publishing", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "facebook");
    const start = clock.now().getTime();
    const first = await rowOf(id);
    expect(first.token_expires_at).toBeNull(); // the Page credential has no expiry of its own
    near(first.refresh_token_expires_at, start + 60 * DAY);
    expect(first.usable_until).toBeNull();
    expect((await connectionOf(apiKey, id)).tokenHealth).toEqual({ status: "ok" });

    await advance(52 * DAY); // 8 days left: not yet
    await runJob();
    expect((await rowOf(id)).refresh_token_expires_at).toEqual(first.refresh_token_expires_at);

    const now = await advance(2 * DAY); // 6 days left: renewed for another 60 days
    await runJob();
    const renewed = await rowOf(id);
    near(renewed.refresh_token_expires_at, now.getTime() + 60 * DAY);
    expect(renewed.status).toBe("connected");
    expect((await connectionOf(apiKey, id)).tokenHealth).toEqual({ status: "ok" });
    expect(await eventsOf(id, "connection.expiring")).toEqual([]);

    // Past the first token's 60 days, the Page still publishes with what the job renewed.
    await advance(10 * DAY);
    const post = await publishNow(apiKey, "facebook", `Renewed page token ${Math.random().toString(36).slice(2)}`);
    expect(post.status, JSON.stringify(post)).toBe("published");
  });

  it("Instagram and Threads refresh the long-lived token with itself a week before it lapses; one left to lapse needs a reconnect", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const instagram = await connectAccount(t, { apiKey }, "instagram");
    const threads = await connectAccount(t, { apiKey }, "threads");
    const start = clock.now().getTime();
    for (const id of [instagram, threads]) {
      const row = await rowOf(id);
      near(row.token_expires_at, start + 60 * DAY);
      expect(row.refresh_token_expires_at).toEqual(row.token_expires_at); // the token is its own refresh token
      expect(row.usable_until).toBeNull();
    }
    await advance(50 * DAY); // 10 days left: the 7-day rule has not come yet
    await runJob();
    expect((await rowOf(instagram)).tokens_refreshed_at!.getTime()).toBeLessThan(start + DAY);

    const now = await advance(4 * DAY); // 6 days left
    await runJob();
    for (const id of [instagram, threads]) {
      const row = await rowOf(id);
      near(row.token_expires_at, now.getTime() + 60 * DAY);
      expect((await connectionOf(apiKey, id)).tokenHealth).toEqual({ status: "ok" });
    }

    // Threads' token is revoked on the network: the renewal a week before the end is refused → needs_reconnect.
    await sandboxControl(t, threads, "revoke-all-tokens");
    await advance(54 * DAY);
    await runJob();
    const dead = await connectionOf(apiKey, threads);
    expect(dead.connectionStatus).toBe("needs_reconnect");
    // (The metrics sync may be the one that meets the refusal first: the reason is the network's, either way.)
    expect(dead.tokenHealth).toEqual({ status: "needs_reconnect", reason: expect.any(String) });
    expect(dead.tokenHealth.reason).toMatch(/rejected|answered|revoked|invalid/i);
    expect(await eventsOf(threads, "connection.needs_reconnect")).toHaveLength(1);
    expect((await connectionOf(apiKey, instagram)).tokenHealth.status).toBe("ok");
  });
});

describe("TikTok and Pinterest: rotating refresh tokens whose lifetime a refresh renews", () => {
  it("TikTok refreshes its 24-hour access token in its last quarter and renews the 365-day refresh token; one left to lapse needs a reconnect", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "tiktok");
    const start = clock.now().getTime();
    const first = await rowOf(id);
    near(first.token_expires_at, start + DAY);
    near(first.refresh_token_expires_at, start + 365 * DAY);
    expect(first.usable_until).toBeNull();

    let now = await advance(19 * HOUR); // 5 hours of 24 left
    await runJob();
    const refreshed = await rowOf(id);
    near(refreshed.token_expires_at, now.getTime() + DAY);
    near(refreshed.refresh_token_expires_at, now.getTime() + 365 * DAY); // the rotated refresh token's own lifetime

    now = await advance(360 * DAY); // under 7 days left of the refresh token: renewed
    await runJob();
    near((await rowOf(id)).refresh_token_expires_at, now.getTime() + 365 * DAY);
    expect((await connectionOf(apiKey, id)).tokenHealth).toEqual({ status: "ok" });

    // Nothing renewed it for over a year (the job did not run): the refresh token has lapsed.
    await advance(366 * DAY);
    await runJob();
    const dead = await connectionOf(apiKey, id);
    expect(dead.tokenHealth).toEqual({ status: "needs_reconnect", reason: expect.stringContaining("expired") });
    expect(await eventsOf(id, "connection.needs_reconnect")).toHaveLength(1);
  });

  it("Pinterest refreshes its 30-day access token in its last quarter and the refresh token's year starts again", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "pinterest");
    const start = clock.now().getTime();
    const first = await rowOf(id);
    near(first.token_expires_at, start + 30 * DAY);
    near(first.refresh_token_expires_at, start + 365 * DAY);
    await advance(22 * DAY); // 8 days of 30 left
    await runJob();
    expect((await rowOf(id)).token_expires_at).toEqual(first.token_expires_at);
    const now = await advance(DAY); // 7 days left: in the last quarter
    await runJob();
    const refreshed = await rowOf(id);
    near(refreshed.token_expires_at, now.getTime() + 30 * DAY);
    near(refreshed.refresh_token_expires_at, now.getTime() + 365 * DAY);
    expect((await connectionOf(apiKey, id)).tokenHealth).toEqual({ status: "ok" });
    expect(await eventsOf(id, "connection.expiring")).toEqual([]);
  });
});

describe("Google and Reddit: short access tokens, refresh tokens without a stated expiry", () => {
  it("Google (YouTube) and Reddit: refresh tokens unused for a week are exercised, so a revoked one is found before a post needs it", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const youtube = await connectAccount(t, { apiKey }, "youtube");
    const reddit = await connectAccount(t, { apiKey }, "reddit");
    const start = clock.now().getTime();
    for (const id of [youtube, reddit]) {
      const row = await rowOf(id);
      expect(row.refresh_token_expires_at).toBeNull();
      expect(row.usable_until).toBeNull();
      expect(row.token_expires_at!.getTime()).toBeLessThanOrEqual(start + DAY + MIN);
    }
    // (The metrics sync may refresh them too when it reads an account; the job makes sure a week never passes.)
    let now = await advance(8 * DAY); // 8 days without a refresh
    await runJob();
    for (const id of [youtube, reddit]) {
      const row = await rowOf(id);
      near(row.tokens_refreshed_at, now.getTime());
      expect(row.status).toBe("connected");
      expect((await connectionOf(apiKey, id)).tokenHealth).toEqual({ status: "ok" });
    }

    // The user revokes the app on Google: found at the next weekly exercise, with the network's reason.
    await sandboxControl(t, youtube, "revoke-refresh-tokens");
    now = await advance(8 * DAY);
    await runJob();
    const dead = await connectionOf(apiKey, youtube);
    // (The metrics sync may be the one that meets the refusal first: the reason is the network's, either way.)
    expect(dead.tokenHealth).toEqual({ status: "needs_reconnect", reason: expect.any(String) });
    expect(dead.tokenHealth.reason).toMatch(/rejected|answered|revoked|invalid/i);
    expect((await connectionOf(apiKey, reddit)).tokenHealth).toEqual({ status: "ok" });
    expect(await eventsOf(youtube, "connection.needs_reconnect")).toHaveLength(1);
  });
});

describe("Bluesky sessions: a 2-hour access JWT and a 90-day refresh JWT that refreshSession renews", () => {
  it("renews the session a week before the refresh JWT lapses, and posts publish across the old expiry", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const identifier = `health-${process.pid}-${Math.random().toString(36).slice(2, 8)}.bsky.social`;
    const init = await t.call("POST", "/api/v1/connect/init", {
      apiKey,
      body: { platform: "bluesky", returnUrl: new URL("/connected", t.home.url).toString(), credentials: { identifier, appPassword: "abcd-efgh-ijkl-mnop" } },
    });
    expect(init.status, JSON.stringify(init.body)).toBe(200);
    const id = new URL(init.body.url).searchParams.get("connectionId")!;
    const start = clock.now().getTime();
    const first = await rowOf(id);
    near(first.token_expires_at, start + 2 * HOUR);
    near(first.refresh_token_expires_at, start + 90 * DAY);
    expect(first.usable_until).toBeNull();

    await advance(80 * DAY); // 10 days left
    await runJob();
    expect((await rowOf(id)).refresh_token_expires_at).toEqual(first.refresh_token_expires_at);
    const now = await advance(4 * DAY); // 6 days left: refreshSession renews the pair
    await runJob();
    const renewed = await rowOf(id);
    near(renewed.refresh_token_expires_at, now.getTime() + 90 * DAY);
    near(renewed.token_expires_at, now.getTime() + 2 * HOUR);

    await advance(10 * DAY); // past the first refresh JWT's 90 days
    const post = await publishNow(apiKey, "bluesky", `Session renewed ${Math.random().toString(36).slice(2)}`);
    expect(post.status, JSON.stringify(post)).toBe("published");
    expect((await connectionOf(apiKey, id)).tokenHealth).toEqual({ status: "ok" });
    expect(await eventsOf(id, "connection.needs_reconnect")).toEqual([]);
  });
});
