import { describe, expect, it } from "vitest";
import { connectAccount, eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.5", PUBLISH_RETRY_BASE_SECONDS: "0.5" } });

describe("publishing: happy paths", () => {
  it("connects X and LinkedIn and publishes to both at once, answering with each target's outcome", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    await connectAccount(t, { apiKey }, "linkedin");
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platforms: ["twitter", "linkedin"], content: "Hello world!" } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ success: true, postId: expect.any(String), status: "published" });
    const byPlatform = Object.fromEntries(res.body.targets.map((x: { platform: string }) => [x.platform, x]));
    expect(byPlatform.twitter).toMatchObject({ status: "published", external_post_id: expect.stringMatching(/^\d+$/) });
    expect(byPlatform.linkedin).toMatchObject({ status: "published", external_post_id: expect.stringMatching(/^urn:li:(share|ugcPost):/) });

    const logs = await t.call("GET", "/api/v1/job-logs", { apiKey });
    expect(logs.body.logs).toHaveLength(2);
    expect(logs.body.logs.every((l: { status: string; attempt_number: number }) => l.status === "success" && l.attempt_number === 1)).toBe(true);
    const events = await t.sql`select event_type, payload from public.events where profile_id = ${profileId} order by created_at`;
    expect(events.map((e) => e.event_type).sort()).toEqual(["post.published", "post.published"]);
    expect(events[0]!.payload).toMatchObject({ event_type: "post.published", profile_id: profileId, data: { post_id: res.body.postId, content: "Hello world!" } });
  });

  it("publishes a scheduled post on its second", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const at = new Date(Date.now() + 3000);
    at.setMilliseconds(0);
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "On time", scheduleDate: at.toISOString() } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ success: true, postId: expect.any(String), scheduled: true, scheduledAt: at.toISOString() });
    const scheduled = await t.call("GET", "/api/v1/scheduled-posts", { apiKey });
    expect(scheduled.body.scheduledPosts).toEqual([
      expect.objectContaining({ post_id: res.body.postId, platform: "twitter", content: "On time", scheduled_at: at.toISOString(), status: "pending" }),
    ]);
    const published = await eventually(async () => {
      const [row] = await t.sql`select published_at from public.post_targets where post_id = ${res.body.postId} and status = 'published'`;
      return row?.published_at as Date | undefined;
    }, 10_000, "the scheduled post to publish");
    const lateness = published.getTime() - at.getTime();
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(1500);
  });
});
