import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAccount, eventually, sandboxPosts } from "../helpers/connect.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Video through the whole pipeline: TikTok and YouTube connected through their OAuth flows, a post with a video by
 * public URL, the targets followed through the queue while the networks process the video, until they are live — or,
 * for a video that never finishes, failed with media_processing once the bounded wait is over.
 */

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });

const CLIP = fakeMp4({ durationSeconds: 12, totalBytes: 64 * 1024 });
let mediaHost: Server;
let media: { public_url: string; mime_type: string; file_name: string; file_size: number }[];

beforeAll(async () => {
  mediaHost = createServer((req, res) => {
    if (req.url === "/launch.mp4") res.writeHead(200, { "content-type": "video/mp4", "content-length": CLIP.length }).end(CLIP);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  const port = (mediaHost.address() as AddressInfo).port;
  media = [{ public_url: `http://127.0.0.1:${port}/launch.mp4`, mime_type: "video/mp4", file_name: "launch.mp4", file_size: CLIP.length }];
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

interface TargetRow {
  platform: string;
  status: string;
  external_post_id: string | null;
  external_url: string | null;
  error_category: string | null;
  processing_state: Record<string, unknown> | null;
}

const targetsOf = (postId: string) =>
  t.sql<TargetRow[]>`
    select platform, status, external_post_id, external_url, error_category, processing_state
    from public.post_targets where post_id = ${postId} order by platform`;

describe("publishing video to TikTok and YouTube", () => {
  it("connects both, publishes one video to both, and each goes live after processing, through the queue", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const tiktok = await connectAccount(t, { apiKey }, "tiktok");
    const youtube = await connectAccount(t, { apiKey }, "youtube");

    const connections = await t.call("GET", "/api/v1/connections", { apiKey });
    const byPlatform = Object.fromEntries(connections.body.connections.map((c: { platform: string }) => [c.platform, c]));
    expect(byPlatform.tiktok.readiness).toMatchObject({ status: "ready", canPublish: true, missingRequirements: [], warnings: [] });
    expect(byPlatform.youtube.readiness).toMatchObject({ status: "ready", canPublish: true, warnings: [expect.stringContaining("private")] });
    expect(byPlatform.tiktok.capabilities).toMatchObject({ video: true, images: false });

    const content = "Launch day 🚀\nOur new product, in twelve seconds.";
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platforms: ["tiktok", "youtube"], content, media } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);

    const targets = await eventually(async () => {
      const rows = await targetsOf(res.body.postId);
      return rows.every((r) => r.status === "published") ? rows : undefined;
    }, 20_000, "both video targets to be published");
    expect(targets).toEqual([
      expect.objectContaining({
        platform: "tiktok",
        external_post_id: expect.stringMatching(/^\d{18,19}$/),
        external_url: expect.stringMatching(/^https:\/\/www\.tiktok\.com\/@[\w]+\/video\/\d+$/),
        processing_state: null,
      }),
      expect.objectContaining({
        platform: "youtube",
        external_post_id: expect.stringMatching(/^[\w-]{11}$/),
        external_url: expect.stringMatching(/^https:\/\/www\.youtube\.com\/watch\?v=[\w-]{11}$/),
        processing_state: null,
      }),
    ]);
    const post = await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey });
    expect(post.body.post).toMatchObject({ status: "published" });

    // The networks hold the posts, and the queue checked on them while they processed.
    expect((await sandboxPosts(t, tiktok)).map((p) => p.text)).toContain(content);
    expect((await sandboxPosts(t, youtube)).map((p) => p.text)).toContain(content);
    const checks = await t.sql`
      select platform, count(*)::int as n from public.job_logs where post_id = ${res.body.postId} and job_type = 'status_check' group by platform`;
    expect(Object.fromEntries(checks.map((c) => [c.platform, c.n]))).toEqual({ tiktok: expect.any(Number), youtube: expect.any(Number) });
  });

  // Past MAX_PROCESSING_SECONDS the executor fails the target for good with media_processing.
  it("a video uploaded to our storage is pulled by TikTok from there (PULL_FROM_URL), not re-uploaded", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "tiktok");
    const upload = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { fileName: "pulled.mp4", contentType: "video/mp4", fileSize: CLIP.length } });
    expect(upload.status, JSON.stringify(upload.body)).toBe(200);
    const put = await fetch(upload.body.upload.signedUrl, { method: "PUT", headers: { "content-type": "video/mp4" }, body: new Uint8Array(CLIP) });
    expect(put.status).toBeLessThan(300);
    const scheduleDate = new Date(Date.now() + 500).toISOString();
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "tiktok", content: "Straight from storage", media: [{ id: upload.body.media.id }], scheduleDate } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [target] = await eventually(async () => {
      const rows = await targetsOf(res.body.postId);
      return rows[0]?.status === "published" ? rows : undefined;
    }, 15_000, "the pulled video to be published");
    const [publish] = await t.sql`select source, video_url from local_sandbox.tiktok_publishes where post_id = ${target!.external_post_id}`;
    expect(publish).toEqual({ source: "PULL_FROM_URL", video_url: upload.body.media.public_url });
  });

  it("a video TikTok never finishes processing fails with media_processing once the bounded wait is over", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "tiktok");
    // Scheduled a moment ahead, so that the request does not wait for the outcome.
    const scheduleDate = new Date(Date.now() + 500).toISOString();
    const body = { platform: "tiktok", content: "Stuck [sandbox:media_processing]", media, scheduleDate };
    const res = await t.call("POST", "/api/v1/post", { apiKey, body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);

    // It stays publishing, with its processing state, while TikTok processes…
    await eventually(async () => (await targetsOf(res.body.postId))[0]?.processing_state ?? undefined, 10_000, "the target to be processing");
    expect((await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey })).body).toMatchObject({ post: { status: "publishing" } });

    // …until the wait passes its bound (30 minutes: moved back here rather than waited for). The attempt that finds it
    // past the bound is logged with media_processing, in the same transaction as the target's new state.
    await t.sql`update public.post_targets set processing_started_at = now() - interval '31 minutes' where post_id = ${res.body.postId}`;
    await eventually(async () => {
      const [log] = await t.sql`select id from public.job_logs where post_id = ${res.body.postId} and error_category = 'media_processing'`;
      return log;
    }, 10_000, "the bounded wait to be over");
    const [target] = await targetsOf(res.body.postId);
    expect(target).toMatchObject({ status: "failed", error_category: "media_processing", processing_state: null });
    const events = await t.sql`select event_type from public.events where payload->'data'->>'post_id' = ${res.body.postId}`;
    expect(events.map((e) => e.event_type)).toContain("post.failed");
  });

  it("a video TikTok fails to process is published again from scratch, and goes live", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "tiktok");
    const content = "Second time lucky [sandbox:media_error:1]";
    const scheduleDate = new Date(Date.now() + 500).toISOString();
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "tiktok", content, media, scheduleDate } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [target] = await eventually(async () => {
      const rows = await targetsOf(res.body.postId);
      return rows[0]?.status === "published" ? rows : undefined;
    }, 15_000, "the video to be published on the second attempt");
    expect(target).toMatchObject({ external_post_id: expect.stringMatching(/^\d{18,19}$/), error_category: null });
    // The attempts (each upload's progress rows, job_type media_upload, are src/media's and left out here).
    const logs = await t.sql`
      select job_type, status, error_category, attempt_number from public.job_logs
      where post_id = ${res.body.postId} and job_type <> 'media_upload' order by started_at`;
    expect(logs.map((l) => [l.job_type, l.status, l.error_category])).toEqual([
      ["status_check", "failed", "media_error"],
      ["status_check", "success", null],
    ]);
    expect(logs[1]!.attempt_number).toBeGreaterThan(logs[0]!.attempt_number);
    // TikTok was asked to publish twice: the first publish failed in processing, the second is the post.
    const account = await t.sql`select external_account_id from public.connections where id = ${connectionId}`;
    const uploads = await (await fetch(`${t.home.url}/sandbox/tiktok/__sandbox/media?account_id=${account[0]!.external_account_id}`)).json();
    expect(uploads.media.map((m: { state: string }) => m.state)).toEqual(["FAILED", "PUBLISH_COMPLETE"]);
    expect((await sandboxPosts(t, connectionId)).filter((p) => p.text === content)).toHaveLength(1);
  });
});
