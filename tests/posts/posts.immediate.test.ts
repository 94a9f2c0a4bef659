import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAccount, eventually, sandboxPosts } from "../helpers/connect.js";
import { fakeJpeg } from "../helpers/fake-jpeg.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * What a publish-now answer holds: targets to networks that answer at once are published in the request (with the
 * network's id and URL); the rest (video, Instagram's containers) are the queue's and answered as they stand,
 * `pending` (with `next_attempt_at`) or `publishing`, to be followed with GET /api/v1/posts/{postId} or webhooks.
 */

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });

const PHOTO = fakeJpeg();
const CLIP = fakeMp4({ durationSeconds: 8, totalBytes: 48 * 1024 });
let mediaHost: Server;
let base = "";

beforeAll(async () => {
  mediaHost = createServer((req, res) => {
    if (req.url === "/photo.jpg") res.writeHead(200, { "content-type": "image/jpeg", "content-length": PHOTO.length }).end(PHOTO);
    else if (req.url === "/clip.mp4") res.writeHead(200, { "content-type": "video/mp4", "content-length": CLIP.length }).end(CLIP);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(mediaHost.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

let n = 0;
const unique = (text: string) => `${text} #${++n}-${Date.now()}`;

interface AnswerTarget {
  id: string;
  platform: string;
  status: string;
  external_post_id: string | null;
  url?: string;
  next_attempt_at?: string;
}
const byPlatform = (targets: AnswerTarget[]) => Object.fromEntries(targets.map((x) => [x.platform, x]));

async function settledPost(apiKey: string, postId: string) {
  return eventually(async () => {
    const res = await t.call("GET", `/api/v1/posts/${postId}`, { apiKey });
    const open = res.body.post.targets.some((x: { status: string }) => x.status === "pending" || x.status === "publishing");
    return open ? undefined : res.body.post;
  }, 30_000, `post ${postId} to settle`);
}

describe("the answer to a publish-now post", () => {
  it("carries the published networks' ids and URLs, and the queued ones as they stand, to be followed", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const twitter = await connectAccount(t, { apiKey }, "twitter");
    await connectAccount(t, { apiKey }, "instagram");
    const content = unique("A photo, two ways");
    const media = [{ public_url: `${base}/photo.jpg`, mime_type: "image/jpeg", file_name: "photo.jpg", file_size: PHOTO.length }];
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platforms: ["twitter", "instagram"], content, media } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const answer = byPlatform(res.body.targets) as Record<"twitter" | "instagram", AnswerTarget>;
    // X answers at once: published in the request.
    expect(answer.twitter).toEqual({
      id: expect.any(String),
      platform: "twitter",
      status: "published",
      external_post_id: expect.stringMatching(/^\d+$/),
      url: expect.stringMatching(/\/status\/\d+$/),
    });
    expect((await sandboxPosts(t, twitter)).filter((p) => p.text === content)).toHaveLength(1);
    // Instagram's container is the queue's, which works on it while the request publishes to X: answered as it stood
    // then, usually not published yet and without an id. (A quick queue can publish an image container first: then
    // the answer says so, with the id.)
    if (answer.instagram.status === "published") {
      expect(res.body.status).toBe("published");
      expect(answer.instagram.external_post_id).toEqual(expect.any(String));
    } else {
      expect(res.body.status).toBe("publishing");
      expect(["pending", "publishing"]).toContain(answer.instagram.status);
      expect(answer.instagram.external_post_id).toBeNull();
    }

    // Followed by its id: the post settles with both published, the ids the answer gave unchanged.
    const post = await settledPost(apiKey, res.body.postId);
    expect(post.status).toBe("published");
    const settled = byPlatform(post.targets);
    expect(settled.twitter).toMatchObject({ id: answer.twitter.id, external_post_id: answer.twitter.external_post_id, external_url: answer.twitter.url });
    expect(settled.instagram).toMatchObject({ id: answer.instagram.id, status: "published", external_post_id: expect.any(String) });
  });

  it("a video to several networks answers without waiting for them: every target pending or publishing", async () => {
    const { apiKey } = await paidUserWithKey(t);
    for (const p of ["tiktok", "youtube", "facebook"]) await connectAccount(t, { apiKey }, p);
    const media = [{ public_url: `${base}/clip.mp4`, mime_type: "video/mp4", file_name: "clip.mp4", file_size: CLIP.length }];
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platforms: ["tiktok", "youtube", "facebook"], content: unique("Clip"), media } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.status).toBe("publishing");
    expect(res.body.targets).toHaveLength(3);
    for (const target of res.body.targets as AnswerTarget[]) {
      expect(["pending", "publishing"]).toContain(target.status);
      expect(target.external_post_id).toBeNull();
      if (target.status === "pending") expect(Number.isNaN(Date.parse(target.next_attempt_at!))).toBe(false);
    }
    const post = await settledPost(apiKey, res.body.postId);
    expect(post.targets.map((x: { status: string }) => x.status)).toEqual(["published", "published", "published"]);
    const events = await t.sql`select event_type from public.events where post_id = ${res.body.postId}`;
    expect(events.map((e) => e.event_type)).toEqual(["post.published", "post.published", "post.published"]);
  });

  it("an Idempotency-Key replay answers the same, and nothing is published twice", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const twitter = await connectAccount(t, { apiKey }, "twitter");
    const content = unique("Once, with a key");
    const headers = { "idempotency-key": `now-${n}` };
    const first = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content }, headers });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ status: "published", targets: [{ status: "published", url: expect.any(String) }] });
    const again = await t.call("POST", "/api/v1/post", { apiKey, body: { content, platform: "twitter" }, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    const clash = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: `${content}!` }, headers });
    expect(clash.status).toBe(409);
    expect((await sandboxPosts(t, twitter)).filter((p) => p.text === content)).toHaveLength(1);
    expect(await t.sql`select id from public.posts where content = ${content}`).toHaveLength(1);
  });
});
