import { Client } from "@upstash/qstash";
import { describe, expect, it } from "vitest";
import { publishInline } from "../../src/publishing/inline.js";
import { connectAccount, eventually, sandboxPosts } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Publish-now posts published inline, in the request (src/publishing/inline.ts): exactly once against the queue's
 * messages and the sweep, failures retried through the queue with the same job logs and events, and a request that
 * dies before or after its claim recovered by the sweep without a second publish.
 */

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });

let n = 0;
const unique = (text: string) => `${text} #${++n}-${Date.now()}`;

async function setup(platforms: string[] = ["twitter"]) {
  const base = await paidUserWithKey(t);
  const connections: Record<string, string> = {};
  for (const p of platforms) connections[p] = await connectAccount(t, { apiKey: base.apiKey }, p);
  return { ...base, connections };
}

const targetOf = async (postId: string, platform = "twitter") =>
  (await t.sql`select * from public.post_targets where post_id = ${postId} and platform = ${platform}`)[0]!;

async function settled(postId: string, platform = "twitter") {
  return eventually(async () => {
    const target = await targetOf(postId, platform);
    return ["published", "failed"].includes(target.status as string) ? target : undefined;
  }, 20_000, `post ${postId} to settle`);
}

const logsOf = (postId: string) => t.sql`select * from public.job_logs where post_id = ${postId} order by attempt_number, created_at`;
const eventsOf = (postId: string) => t.sql`select event_type, payload from public.events where post_id = ${postId} order by created_at`;
const published = async (connectionId: string, content: string) => (await sandboxPosts(t, connectionId)).filter((p) => p.text === content);

const qstash = () => new Client({ baseUrl: process.env.QSTASH_URL!, token: process.env.QSTASH_TOKEN! });
const deliver = (targetId: string, times: number) =>
  Promise.all(Array.from({ length: times }, () => qstash().publishJSON({ url: `${t.home.url}/api/queue/publish`, body: { targetId }, retries: 0 })));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A far-future scheduled post (never published inline), whose target a test then arranges by hand. */
async function arrangedTarget(apiKey: string, content: string) {
  const far = new Date(Date.now() + 3_600_000).toISOString();
  const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content, scheduleDate: far } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const target = await targetOf(res.body.postId);
  return { postId: res.body.postId as string, targetId: target.id as string };
}

describe("inline publishing", () => {
  it("answers published with the network's id and URL, logged and announced as the queue does", async () => {
    const { apiKey, connections } = await setup();
    const content = unique("Inline hello");
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({
      success: true,
      postId: expect.any(String),
      status: "published",
      targets: [
        {
          id: expect.any(String),
          platform: "twitter",
          status: "published",
          external_post_id: expect.stringMatching(/^\d+$/),
          url: expect.stringMatching(/^https:\/\/(x|twitter)\.com\/.+\/status\/\d+$/),
        },
      ],
    });
    expect(await published(connections.twitter!, content)).toHaveLength(1);
    const target = await targetOf(res.body.postId);
    expect(target).toMatchObject({ status: "published", attempts: 1, lease_until: null, external_url: res.body.targets[0].url });
    const logs = await logsOf(res.body.postId);
    expect(logs.map((l) => [l.job_type, l.status, l.attempt_number, l.will_retry])).toEqual([["publish", "success", 1, false]]);
    const events = await eventsOf(res.body.postId);
    expect(events.map((e) => e.event_type)).toEqual(["post.published"]);
    expect(events[0]!.payload.data).toMatchObject({ post_id: res.body.postId, platform: "twitter", external_post_id: res.body.targets[0].external_post_id, url: res.body.targets[0].url });
  });

  it("a failed inline attempt answers with its error and next attempt, and the queue retries it with backoff", async () => {
    const { apiKey, connections } = await setup();
    const content = unique("[sandbox:network_error:1] flaky inline");
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.status).toBe("publishing");
    expect(res.body.targets).toEqual([
      expect.objectContaining({ platform: "twitter", status: "pending", external_post_id: null, error_category: "network_error", next_attempt_at: expect.any(String) }),
    ]);
    const target = await settled(res.body.postId);
    expect(target).toMatchObject({ status: "published", attempts: 2, error_category: null });
    const logs = await logsOf(res.body.postId);
    expect(logs.map((l) => [l.attempt_number, l.status, l.error_category, l.will_retry])).toEqual([
      [1, "failed", "network_error", true],
      [2, "success", null, false],
    ]);
    expect(logs[0]!.next_retry_at.toISOString()).toBe(res.body.targets[0].next_attempt_at);
    expect(logs[1]!.started_at.getTime()).toBeGreaterThanOrEqual(logs[0]!.next_retry_at.getTime() - 50);
    expect(await published(connections.twitter!, content)).toHaveLength(1);
    expect((await eventsOf(res.body.postId)).map((e) => e.event_type)).toEqual(["post.published"]);
  });

  it("a failure that cannot be retried answers failed, with one post.failed event", async () => {
    const { apiKey } = await setup();
    const content = unique("[sandbox:duplicate] said before");
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ status: "failed", targets: [{ platform: "twitter", status: "failed", error_category: "duplicate", external_post_id: null }] });
    expect(res.body.targets[0].next_attempt_at).toBeUndefined();
    await pause(1000);
    expect((await eventsOf(res.body.postId)).map((e) => e.event_type)).toEqual(["post.failed"]);
    expect(await logsOf(res.body.postId)).toHaveLength(1);
  });

  it("queue messages for a target the request publishes inline are no-ops: one post on the network", async () => {
    const { apiKey, profileId, connections } = await setup(["twitter", "linkedin"]);
    const content = unique("Raced");
    const request = t.call("POST", "/api/v1/post", { apiKey, body: { platforms: ["twitter", "linkedin"], content } });
    // While the request runs: every delivery the queue could make for its targets, as soon as they exist.
    const ids = await eventually(async () => {
      const rows = await t.sql`select t.id from public.post_targets t join public.posts p on p.id = t.post_id
                               where p.profile_id = ${profileId} and p.content = ${content}`;
      return rows.length === 2 ? rows.map((r) => r.id as string) : undefined;
    }, 10_000, "the targets to exist");
    await Promise.all(ids.map((id) => deliver(id, 4)));
    const res = await request;
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await Promise.all(ids.map((id) => deliver(id, 4)));
    await settled(res.body.postId, "twitter");
    await settled(res.body.postId, "linkedin");
    await pause(1500);
    expect(await published(connections.twitter!, content)).toHaveLength(1);
    expect(await published(connections.linkedin!, content)).toHaveLength(1);
    expect((await logsOf(res.body.postId)).map((l) => l.status)).toEqual(["success", "success"]);
    expect((await eventsOf(res.body.postId)).map((e) => e.event_type)).toEqual(["post.published", "post.published"]);
    const rows = await t.sql`select attempts, queued_for from public.post_targets where post_id = ${res.body.postId}`;
    expect(rows.map((r) => r.attempts)).toEqual([1, 1]);
  });

  it("an inline claim racing queue deliveries on a due target: exactly one of them publishes", async () => {
    const { apiKey, connections } = await setup();
    for (let round = 0; round < 3; round++) {
      const content = unique("Claim race");
      const { postId, targetId } = await arrangedTarget(apiKey, content);
      // Both may claim it: never attempted (inline's condition) and due now (the queue's). Marked as sent, so the
      // sweep leaves it to the racers.
      await t.sql`update public.post_targets set due_at = now() - interval '1 second', queued_for = due_at - interval '1 second',
                  queued_at = now() where id = ${targetId}`;
      await Promise.all([publishInline([targetId]), deliver(targetId, 3), publishInline([targetId])]);
      expect((await settled(postId)).status).toBe("published");
      await pause(1000);
      expect(await published(connections.twitter!, content)).toHaveLength(1);
      expect(await logsOf(postId)).toHaveLength(1);
      expect((await targetOf(postId)).attempts).toBe(1);
    }
  });

  it("an attempt that outlives the answer is handed to the function's waitUntil, so the cloud keeps the instance alive", async () => {
    const { apiKey, connections } = await setup();
    const content = unique("Outlives the answer");
    const { postId, targetId } = await arrangedTarget(apiKey, content);
    await t.sql`update public.post_targets set scheduled_for = null, due_at = now() + interval '180 seconds' where id = ${targetId}`;
    // No time budget at all: publishInline returns at once and leaves the attempt to what it was handed.
    const kept: Promise<unknown>[] = [];
    await publishInline([targetId], { budgetMs: 0, waitUntil: (work) => kept.push(work) });
    expect(kept).toHaveLength(1);
    await kept[0];
    expect(await targetOf(postId)).toMatchObject({ status: "published", attempts: 1 });
    expect(await published(connections.twitter!, content)).toHaveLength(1);

    // Through the function itself, as Netlify calls it: the route gives its unfinished work to context.waitUntil.
    const handler = (await import("../../netlify/functions/posts.js")).default;
    const context = { kept: [] as Promise<unknown>[], waitUntil(work: Promise<unknown>) { this.kept.push(work); } };
    const direct = unique("Through the function");
    const res = await handler(
      new Request(new URL("/api/v1/post", t.home.url), {
        method: "POST",
        headers: { "x-api-key": apiKey, "content-type": "application/json" },
        body: JSON.stringify({ platform: "twitter", content: direct }),
      }),
      context,
    );
    expect(res.status).toBe(201);
    expect(context.kept).toHaveLength(1);
    await context.kept[0];
    expect(await published(connections.twitter!, direct)).toHaveLength(1);
  });

  it("a target reserved for a request that died before claiming it is left alone, then published by the sweep", async () => {
    const { apiKey, connections } = await setup();
    const content = unique("Died before claiming");
    const { postId, targetId } = await arrangedTarget(apiKey, content);
    // As the request leaves it: immediate, due beyond the sweep's lookahead, never sent, never attempted.
    await t.sql`update public.post_targets set scheduled_for = null, due_at = now() + interval '180 seconds' where id = ${targetId}`;
    await deliver(targetId, 2);
    await pause(1500);
    expect(await targetOf(postId)).toMatchObject({ status: "pending", attempts: 0, queued_for: null });
    expect(await published(connections.twitter!, content)).toHaveLength(0);
    // The reserve runs out (moved here rather than waited for): the sweep sends it like any due target.
    await t.sql`update public.post_targets set due_at = now() where id = ${targetId}`;
    expect(await settled(postId)).toMatchObject({ status: "published", attempts: 1 });
    expect(await published(connections.twitter!, content)).toHaveLength(1);
  });

  it("a request that died after claiming is recovered by the sweep once the lease runs out", async () => {
    const { apiKey, connections } = await setup();
    const content = unique("Died after claiming");
    const { postId, targetId } = await arrangedTarget(apiKey, content);
    // As the request leaves it: claimed inline (publishing, first attempt, still reserved), lease running.
    await t.sql`update public.post_targets set scheduled_for = null, status = 'publishing', attempts = 1,
                due_at = now() + interval '180 seconds', lease_until = now() + interval '1 hour' where id = ${targetId}`;
    await deliver(targetId, 2);
    await pause(1500);
    expect(await targetOf(postId)).toMatchObject({ status: "publishing", attempts: 1 });
    // Its lease runs out: lease recovery makes it pending and due, and the sweep sends it.
    await t.sql`update public.post_targets set lease_until = now() - interval '1 second' where id = ${targetId}`;
    expect(await settled(postId)).toMatchObject({ status: "published", attempts: 2 });
    await pause(1000);
    expect(await published(connections.twitter!, content)).toHaveLength(1);
    expect(await logsOf(postId)).toHaveLength(1);
  });
});
