import { createHash, randomBytes } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAccount, eventually } from "../helpers/connect.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * A video larger than a function's memory budget, published to YouTube from Storage in the local home: the adapter
 * reads it in byte ranges and sends it in resumable chunks, one slice per publish attempt, the queue delivering the
 * target again for each next slice (src/media/transfer.ts). The budgets are configured small so the file stays
 * small: 48 MiB against a 16 MiB memory budget and 16 MiB slices. What YouTube's sandbox received is checked by hash,
 * and the largest PUT it saw bounds what the process held at once.
 */
const MiB = 1024 * 1024;
const BUDGET = 16 * MiB;
const SLICE = 16 * MiB;
const t = useTestHome({
  env: {
    SWEEP_INTERVAL_SECONDS: "0.3",
    PUBLISH_RETRY_BASE_SECONDS: "0.3",
    MEDIA_MEMORY_BUDGET_BYTES: String(BUDGET),
    MEDIA_UPLOAD_SLICE_BYTES: String(SLICE),
  },
});

/** An MP4 of `size` bytes whose media data is random, so that a misplaced or repeated chunk changes its hash. */
function randomVideo(size: number): Buffer {
  const video = fakeMp4({ durationSeconds: 30, totalBytes: size });
  const mdat = video.indexOf("mdat", 0, "latin1") + 4;
  randomBytes(size - mdat).copy(video, mdat);
  return video;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function uploadToStorage(apiKey: string, bytes: Buffer, fileName: string): Promise<{ id: string; public_url: string }> {
  const upload = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { fileName, contentType: "video/mp4", fileSize: bytes.length } });
  expect(upload.status, JSON.stringify(upload.body)).toBe(200);
  // On a connection of its own: a pooled one the server is closing as idle would reset a large body mid-way.
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(upload.body.upload.signedUrl, { method: "PUT", agent: false, headers: { "content-type": "video/mp4", "content-length": bytes.length } });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end(bytes);
  });
  expect(status).toBeLessThan(300);
  return upload.body.media;
}

/** A media host that ignores Range headers and always sends the whole file (as some do). */
let wholeFileHost: Server;
const WHOLE = randomVideo(BUDGET + 4 * MiB);
beforeAll(async () => {
  wholeFileHost = createServer((req, res) => {
    if (req.url === "/whole.mp4") res.writeHead(200, { "content-type": "video/mp4", "content-length": WHOLE.length }).end(WHOLE);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => wholeFileHost.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  await new Promise<void>((resolve) => wholeFileHost.close(() => resolve()));
});

describe("large media: a video bigger than the memory budget", () => {
  it("reaches YouTube intact, in chunks within the budget, over several attempts whose progress is in the job logs", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "youtube");
    const video = randomVideo(48 * MiB);
    expect(video.length).toBeGreaterThan(BUDGET);
    const media = await uploadToStorage(apiKey, video, "keynote.mp4");

    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "youtube", content: "Keynote, in full", media: [{ id: media.id }] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [target] = await eventually(async () => {
      const rows = await t.sql<{ status: string; external_post_id: string | null; error_message: string | null }[]>`
        select status, external_post_id, error_message from public.post_targets where post_id = ${res.body.postId}`;
      if (rows[0]?.status === "failed") throw new Error(`the target failed: ${rows[0].error_message}`);
      return rows[0]?.status === "published" ? rows : undefined;
    }, 120_000, "the large video to be published");
    const videoId = target!.external_post_id!;

    // What YouTube's sandbox got: every byte, in order (the hash of the file as uploaded to Storage)…
    const [received] = await t.sql<{ size_bytes: number; sha256: string }[]>`
      select size_bytes::int as size_bytes, sha256 from local_sandbox.media where network = 'youtube' and id = ${videoId}`;
    expect(received).toEqual({ size_bytes: video.length, sha256: sha256(video) });
    // …in PUTs none larger than the memory budget allows for one chunk (half of it), so the process never held the file.
    const [session] = await t.sql<{ total: number; largest_chunk: number }[]>`
      select total::int as total, largest_chunk::int as largest_chunk from local_sandbox.youtube_uploads where video_id = ${videoId}`;
    expect(session!.total).toBe(video.length);
    expect(session!.largest_chunk).toBeGreaterThan(0);
    expect(session!.largest_chunk).toBeLessThanOrEqual(BUDGET / 2);

    // One media_upload row per slice, through the API: at most a slice's bytes each, ending complete.
    const logs = await t.call("GET", `/api/v1/job-logs?profileId=${profileId}&postId=${res.body.postId}`, { apiKey });
    expect(logs.status, JSON.stringify(logs.body)).toBe(200);
    const slices = (logs.body.logs as { job_type: string; status: string; metadata: Record<string, number | boolean> }[])
      .filter((l) => l.job_type === "media_upload")
      .reverse();
    expect(slices.length).toBeGreaterThanOrEqual(Math.ceil(video.length / SLICE));
    for (const slice of slices) {
      expect(slice.status).toBe("success");
      expect(slice.metadata.totalBytes).toBe(video.length);
      expect(slice.metadata.sentBytes).toBeLessThanOrEqual(SLICE);
    }
    const receivedBytes = slices.map((s) => s.metadata.receivedBytes as number);
    expect(receivedBytes).toEqual([...receivedBytes].sort((a, b) => a - b));
    expect(slices.at(-1)!.metadata).toMatchObject({ receivedBytes: video.length, percent: 100, complete: true });
    // The delivery metrics count publish attempts, not upload slices.
    const metrics = await t.call("GET", `/api/v1/delivery-metrics?profileId=${profileId}&platform=youtube`, { apiKey });
    expect(metrics.status, JSON.stringify(metrics.body)).toBe(200);
    const totalJobs = (metrics.body.metrics as { total_jobs: number }[]).reduce((sum, m) => sum + m.total_jobs, 0);
    const [attempts] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from public.job_logs where profile_id = ${profileId} and job_type <> 'media_upload'`;
    expect(totalJobs).toBe(attempts!.n);
  }, 180_000);

  it("from a host that ignores byte ranges, a video over the budget fails as media_error, naming the need for ranges", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "youtube");
    const port = (wholeFileHost.address() as AddressInfo).port;
    const media = [{ public_url: `http://127.0.0.1:${port}/whole.mp4`, mime_type: "video/mp4", file_name: "whole.mp4", file_size: WHOLE.length }];
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "youtube", content: "Too big without ranges", media } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [target] = await eventually(async () => {
      const rows = await t.sql<{ status: string; error_category: string | null; error_message: string | null }[]>`
        select status, error_category, error_message from public.post_targets where post_id = ${res.body.postId}`;
      return rows[0]?.status === "failed" ? rows : undefined;
    }, 30_000, "the target to fail");
    expect(target).toMatchObject({ error_category: "media_error", error_message: expect.stringContaining("byte ranges") });
  });
});
