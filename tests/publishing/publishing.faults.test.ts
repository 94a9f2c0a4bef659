import { Client } from "@upstash/qstash";
import { describe, expect, it } from "vitest";
import { connectAccount, eventually, sandboxControl, sandboxPosts } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });

let n = 0;
const unique = (text: string) => `${text} #${++n}-${Date.now()}`;

async function setup(platforms: string[] = ["twitter"]) {
  const base = await paidUserWithKey(t);
  const connections: Record<string, string> = {};
  for (const p of platforms) connections[p] = await connectAccount(t, { apiKey: base.apiKey }, p);
  return { ...base, connections };
}

async function post(apiKey: string, body: Record<string, unknown>) {
  const res = await t.call("POST", "/api/v1/post", { apiKey, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { postId: string; status?: string; targets?: { platform: string; status: string }[] };
}

async function targetOf(postId: string, platform = "twitter") {
  const [row] = await t.sql`select * from public.post_targets where post_id = ${postId} and platform = ${platform}`;
  return row!;
}

async function settled(postId: string, platform = "twitter") {
  return eventually(async () => {
    const target = await targetOf(postId, platform);
    return ["published", "failed"].includes(target.status as string) ? target : undefined;
  }, 20_000, `post ${postId} to settle`);
}

async function logsOf(postId: string) {
  return t.sql`select * from public.job_logs where post_id = ${postId} order by attempt_number, created_at`;
}

/** A far-future scheduled post made due now by hand, so only the deliveries the test sends can publish it. */
async function dueTarget(apiKey: string, content: string) {
  const far = new Date(Date.now() + 3_600_000).toISOString();
  const { postId } = await post(apiKey, { platform: "twitter", content, scheduleDate: far });
  const target = await targetOf(postId);
  return { postId, targetId: target.id as string };
}

function qstash() {
  return new Client({ baseUrl: process.env.QSTASH_URL!, token: process.env.QSTASH_TOKEN! });
}

describe("publishing survives faults: nothing twice, nothing lost", () => {
  it("a delivery repeated five times publishes once", async () => {
    const { apiKey, connections } = await setup();
    const content = unique("Exactly once");
    const { postId, targetId } = await dueTarget(apiKey, content);
    await t.sql`update public.post_targets set due_at = now() - interval '1 second', queued_for = due_at where id = ${targetId}`;
    const client = qstash();
    for (let i = 0; i < 5; i++) {
      await client.publishJSON({ url: `${t.home.url}/api/queue/publish`, body: { targetId }, retries: 0 });
    }
    const target = await settled(postId);
    expect(target.status).toBe("published");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await sandboxPosts(t, connections.twitter!)).filter((p) => p.text === content)).toHaveLength(1);
    expect(await logsOf(postId)).toHaveLength(1);
  });

  it("two executors racing on one target publish once", async () => {
    const { apiKey, connections } = await setup();
    const content = unique("Race");
    const { postId, targetId } = await dueTarget(apiKey, content);
    await t.sql`update public.post_targets set due_at = now() - interval '1 second', queued_for = due_at where id = ${targetId}`;
    const client = qstash();
    await Promise.all(
      Array.from({ length: 4 }, () => client.publishJSON({ url: `${t.home.url}/api/queue/publish`, body: { targetId }, retries: 0 })),
    );
    await settled(postId);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await sandboxPosts(t, connections.twitter!)).filter((p) => p.text === content)).toHaveLength(1);
    expect((await targetOf(postId)).attempts).toBe(1);
  });

  it("refuses deliveries without a valid QStash signature", async () => {
    const res = await fetch(`${t.home.url}/api/queue/publish`, {
      method: "POST",
      headers: { "content-type": "application/json", "upstash-signature": "forged" },
      body: JSON.stringify({ targetId: "00000000-0000-4000-8000-000000000000" }),
    });
    expect(res.status).toBe(401);
  });

  it("an executor that dies after claiming is recovered by the sweep", async () => {
    const { apiKey, connections } = await setup();
    const content = unique("Recovered");
    const { postId, targetId } = await dueTarget(apiKey, content);
    // As if an executor claimed the target and then crashed: publishing, with a lease that has run out.
    await t.sql`update public.post_targets set status = 'publishing', attempts = 1, due_at = now(),
                lease_until = now() - interval '1 second' where id = ${targetId}`;
    const target = await settled(postId);
    expect(target.status).toBe("published");
    expect(target.attempts).toBe(2);
    expect((await sandboxPosts(t, connections.twitter!)).filter((p) => p.text === content)).toHaveLength(1);
  });

  it("a network error is retried with backoff and then succeeds", async () => {
    const { apiKey } = await setup();
    const { postId } = await post(apiKey, { platform: "twitter", content: unique("[sandbox:network_error:1] flaky") });
    const target = await settled(postId);
    expect(target.status).toBe("published");
    const logs = await logsOf(postId);
    expect(logs.map((l) => [l.attempt_number, l.status, l.error_category, l.will_retry])).toEqual([
      [1, "failed", "network_error", true],
      [2, "success", null, false],
    ]);
    expect(logs[0]!.next_retry_at).toBeInstanceOf(Date);
    expect(logs[1]!.started_at.getTime()).toBeGreaterThanOrEqual(logs[0]!.next_retry_at.getTime() - 50);
    const api = await t.call("GET", `/api/v1/job-logs?status=failed&platform=twitter`, { apiKey });
    expect(api.body.logs).toEqual([
      expect.objectContaining({ post_id: postId, status: "failed", error_category: "network_error", will_retry: true, attempt_number: 1 }),
    ]);
  });

  it("a rate limit waits for the network's reset before the next attempt", async () => {
    const { apiKey } = await setup();
    const { postId } = await post(apiKey, { platform: "twitter", content: unique("[sandbox:rate_limited:1] busy") });
    const target = await settled(postId);
    expect(target.status).toBe("published");
    const [limited, ok] = await logsOf(postId);
    expect(limited).toMatchObject({ status: "rate_limited", error_category: "rate_limited", was_rate_limited: true, will_retry: true });
    // The sandbox resets its window 3 s ahead: the retry waits for it rather than using the 0.3 s backoff.
    expect(limited!.next_retry_at.getTime() - limited!.completed_at.getTime()).toBeGreaterThanOrEqual(2000);
    expect(ok!.started_at.getTime()).toBeGreaterThanOrEqual(limited!.next_retry_at.getTime() - 50);
  });

  it("an expired token is refreshed and the publish succeeds", async () => {
    const { apiKey, connections } = await setup();
    const connectionId = connections.twitter!;
    const [before] = await t.sql`select access_token_enc from public.connections where id = ${connectionId}`;
    await sandboxControl(t, connectionId, "expire-access-tokens");
    await t.sql`update public.connections set token_expires_at = now() - interval '1 minute' where id = ${connectionId}`;
    const { postId } = await post(apiKey, { platform: "twitter", content: unique("Fresh token") });
    expect((await settled(postId)).status).toBe("published");
    const [after] = await t.sql`select access_token_enc, status, token_expires_at from public.connections where id = ${connectionId}`;
    expect(after!.access_token_enc).not.toBe(before!.access_token_enc);
    expect(after!.status).toBe("connected");
    expect(after!.token_expires_at.getTime()).toBeGreaterThan(Date.now());
  });

  it("a token the network stopped accepting early is refreshed once and the publish succeeds", async () => {
    const { apiKey, connections } = await setup();
    await sandboxControl(t, connections.twitter!, "expire-access-tokens");
    const { postId } = await post(apiKey, { platform: "twitter", content: unique("Early expiry") });
    expect((await settled(postId)).status).toBe("published");
    expect(await logsOf(postId)).toHaveLength(1);
  });

  it("a revoked authorization fails with auth_error, is not retried, and marks the connection", async () => {
    const { apiKey, profileId, connections } = await setup();
    await sandboxControl(t, connections.twitter!, "revoke-all-tokens");
    const { postId } = await post(apiKey, { platform: "twitter", content: unique("Revoked") });
    const target = await settled(postId);
    expect(target).toMatchObject({ status: "failed", error_category: "auth_error", attempts: 1 });
    const list = await t.call("GET", "/api/v1/connections", { apiKey });
    expect(list.body.connections[0]).toMatchObject({
      connectionStatus: "needs_reconnect",
      readiness: { status: "needs_reconnect", canPublish: false },
    });
    const events = await t.sql`select event_type, payload from public.events where post_id = ${postId} and event_type = 'post.failed'`;
    expect(events).toHaveLength(1);
    expect(events[0]!.payload.data).toMatchObject({ error_category: "auth_error", platform: "twitter" });
    // A new post to that network is refused until the account is reconnected.
    const refused = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: unique("again") } });
    expect(refused.status).toBe(400);
    expect(refused.body.details[0]).toMatchObject({ platform: "twitter", rule: "account_ready" });
    const [p] = await t.sql`select status from public.posts where id = ${postId}`;
    expect(p!.status).toBe("failed");
    void profileId;
  });

  it("a duplicate is not retried", async () => {
    const { apiKey } = await setup();
    const content = unique("Said it already");
    const first = await post(apiKey, { platform: "twitter", content });
    expect((await settled(first.postId)).status).toBe("published");
    const second = await post(apiKey, { platform: "twitter", content });
    expect(await settled(second.postId)).toMatchObject({ status: "failed", error_category: "duplicate", attempts: 1 });
  });

  it("gives up after the maximum attempts, then a manual retry publishes it", async () => {
    const { apiKey } = await setup();
    const { postId } = await post(apiKey, { platform: "twitter", content: unique("[sandbox:unknown:3] stubborn") });
    const target = await settled(postId);
    expect(target).toMatchObject({ status: "failed", error_category: "unknown", attempts: 3 });
    const logs = await logsOf(postId);
    expect(logs.map((l) => l.will_retry)).toEqual([true, true, false]);

    const retry = await t.call("POST", `/api/v1/scheduled-posts/${target.id}/retry`, { apiKey, body: {} });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ success: true, message: "Post queued for retry" });
    expect((await settled(postId)).status).toBe("published");
    const again = await t.call("POST", `/api/v1/scheduled-posts/${target.id}/retry`, { apiKey, body: {} });
    expect(again.status).toBe(409);
  });

  it("a post that partly succeeds says so, per target and as a whole", async () => {
    const { apiKey, connections } = await setup(["twitter", "linkedin"]);
    await sandboxControl(t, connections.linkedin!, "revoke-all-tokens");
    const res = await post(apiKey, { platforms: ["twitter", "linkedin"], content: unique("Half there") });
    await settled(res.postId, "twitter");
    await settled(res.postId, "linkedin");
    const got = await t.call("GET", `/api/v1/posts/${res.postId}`, { apiKey });
    expect(got.body.post.status).toBe("partially_published");
    expect(Object.fromEntries(got.body.post.targets.map((x: { platform: string; status: string }) => [x.platform, x.status]))).toEqual({
      linkedin: "failed",
      twitter: "published",
    });
    const partial = await t.sql`select payload from public.events where post_id = ${res.postId} and event_type = 'post.partially_published'`;
    expect(partial).toHaveLength(1);
  });

  it("delivery metrics count attempts per platform and day", async () => {
    const { apiKey } = await setup();
    const a = await post(apiKey, { platform: "twitter", content: unique("[sandbox:network_error:1] m") });
    const b = await post(apiKey, { platform: "twitter", content: unique("metrics ok") });
    await settled(a.postId);
    await settled(b.postId);
    const res = await t.call("GET", "/api/v1/delivery-metrics?days=7", { apiKey });
    expect(res.status).toBe(200);
    expect(res.body.metrics).toEqual([
      {
        platform: "twitter",
        date: new Date().toISOString().slice(0, 10),
        total_jobs: 3,
        successful_jobs: 2,
        failed_jobs: 0,
        retried_jobs: 1,
        rate_limited_jobs: 0,
        avg_duration_ms: expect.any(Number),
      },
    ]);
  });
});

describe("post status under concurrency", () => {
  it("agrees with its targets when they settle at the same moment", async () => {
    const { apiKey } = await setup(["twitter", "linkedin"]);
    const posts = await Promise.all(
      Array.from({ length: 6 }, (_, i) => post(apiKey, { platforms: ["twitter", "linkedin"], content: unique(`together ${i}`) })),
    );
    for (const p of posts) {
      await settled(p.postId, "twitter");
      await settled(p.postId, "linkedin");
    }
    const rows = await t.sql`select status from public.posts where id = any(${posts.map((p) => p.postId)}::uuid[])`;
    expect(rows.map((r) => r.status)).toEqual(Array(6).fill("published"));
  });
});
