import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manualClock } from "../../src/core/clock.js";
import { MAX_PROCESSING_SECONDS } from "../../src/publishing/executor.js";
import { connectAccount, eventually } from "../helpers/connect.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Time-bound guarantees of the jobs, checked by moving the home's clock (`startLocalHome({ clock })`, which every
 * handler and job reads as `ctx.clock`) instead of sleeping or rewriting timestamps in the database.
 */

const clock = manualClock();
const t = useTestHome({ clock, env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });

const CLIP = fakeMp4({ durationSeconds: 12, totalBytes: 64 * 1024 });
let mediaHost: Server;
let mediaUrl: string;

beforeAll(async () => {
  mediaHost = createServer((req, res) => {
    if (req.url === "/stuck.mp4") res.writeHead(200, { "content-type": "video/mp4", "content-length": CLIP.length }).end(CLIP);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  mediaUrl = `http://127.0.0.1:${(mediaHost.address() as AddressInfo).port}/stuck.mp4`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

const targetOf = async (postId: string) => {
  const [row] = await t.sql<{ status: string; error_category: string | null; processing_state: unknown }[]>`
    select status, error_category, processing_state from public.post_targets where post_id = ${postId}`;
  return row;
};

describe("the job clock", () => {
  it("a video the network is still processing when the clock passes the bounded wait fails with media_processing", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "tiktok");
    const media = [{ public_url: mediaUrl, mime_type: "video/mp4", file_name: "stuck.mp4", file_size: CLIP.length }];
    const body = { platform: "tiktok", content: "Stuck [sandbox:media_processing]", media, scheduleDate: new Date(Date.now() + 500).toISOString() };
    const res = await t.call("POST", "/api/v1/post", { apiKey, body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const postId: string = res.body.postId;

    // The network accepts the upload and keeps processing it; while the clock stands still, the status checks keep
    // coming back to it and the post stays publishing.
    await eventually(async () => ((await targetOf(postId))?.processing_state ? true : undefined), 10_000, "the target to be processing");
    await eventually(async () => {
      const state = (await targetOf(postId))?.processing_state as { checks?: number } | null;
      return (state?.checks ?? 0) >= 1 ? true : undefined;
    }, 10_000, "a status check that finds it still processing");
    expect((await t.call("GET", `/api/v1/posts/${postId}`, { apiKey })).body).toMatchObject({ post: { status: "publishing" } });
    expect(await targetOf(postId)).toMatchObject({ error_category: null });

    // Half an hour and a minute later by the home's clock: the next check finds the bound passed and fails the target
    // for good, logged with media_processing, with post.failed announced.
    clock.advance((MAX_PROCESSING_SECONDS + 60) * 1000);
    await eventually(async () => {
      const [log] = await t.sql`select id from public.job_logs where post_id = ${postId} and error_category = 'media_processing'`;
      return log;
    }, 10_000, "the bounded wait to be over");
    expect(await targetOf(postId)).toMatchObject({ status: "failed", error_category: "media_processing", processing_state: null });
    const events = await t.sql`select event_type from public.events where payload->'data'->>'post_id' = ${postId}`;
    expect(events.map((e) => e.event_type)).toContain("post.failed");
  });
});
