import { afterEach, describe, expect, it } from "vitest";
import { connectAccount, sandboxControl } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import {
  contractVerifies,
  standardWebhooksVerifies,
  startWebhookReceiver,
  type ReceivedRequest,
  type WebhookReceiver,
} from "../helpers/webhook-receiver.js";

/**
 * Webhook delivery, happy paths: posts published and scheduled through POST /api/v1/post with sandbox connections,
 * delivered by the queue to a real receiver on 127.0.0.1 (the local home allows loopback URLs), signed so that the
 * contract's own receiver code and Standard Webhooks verification both accept them.
 */
const t = useTestHome({
  env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3", WEBHOOK_RETRY_BASE_SECONDS: "0.05", WEBHOOK_TIMEOUT_SECONDS: "2" },
});

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

let n = 0;
const unique = (text: string) => `${text} #${++n}-${Date.now()}`;

async function setup(events: string[], platforms = ["twitter"]) {
  const base = await paidUserWithKey(t);
  const connections: Record<string, string> = {};
  for (const p of platforms) connections[p] = await connectAccount(t, { apiKey: base.apiKey }, p);
  const receiver = await startWebhookReceiver();
  receivers.push(receiver);
  const res = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: base.apiKey, body: { url: receiver.url, events } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { ...base, connections, receiver, endpointId: res.body.endpoint.id as string, secret: res.body.endpoint.secret as string };
}

const eventOf = (r: ReceivedRequest) => JSON.parse(r.body) as { event_type: string; timestamp: string; profile_id: string; data: Record<string, any> };

describe("webhook delivery: signed, once per event and endpoint", () => {
  it("delivers post.published and post.scheduled from published and scheduled posts, verifiable by the contract's code", async () => {
    const s = await setup(["post.published", "post.scheduled"]);
    const nowContent = unique("Hello webhooks");
    const published = await t.call("POST", "/api/v1/post", { apiKey: s.apiKey, body: { platform: "twitter", content: nowContent } });
    expect(published.status).toBe(201);
    const at = new Date(Date.now() + 2500);
    at.setMilliseconds(0);
    const laterContent = unique("Later");
    const scheduled = await t.call("POST", "/api/v1/post", { apiKey: s.apiKey, body: { platform: "twitter", content: laterContent, scheduleDate: at.toISOString() } });
    expect(scheduled.status).toBe(201);

    const got = await s.receiver.waitFor(3);
    for (const r of got) {
      expect(r.method).toBe("POST");
      expect(r.path).toBe("/webhook");
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["user-agent"]).toBe("AmplifyScheduler-Webhooks/1.0");
      expect(contractVerifies(r, s.secret), "the contract's verifyWebhook accepts it").toBe(true);
      expect(standardWebhooksVerifies(r, s.secret), "Standard Webhooks verification accepts it").toBe(true);
      expect(contractVerifies(r, `${s.secret}x`)).toBe(false);
      // Compact JSON.stringify output: what Express + JSON.stringify(req.body) reproduces byte for byte.
      expect(JSON.stringify(JSON.parse(r.body))).toBe(r.body);
      expect(Object.keys(eventOf(r))).toEqual(["event_type", "timestamp", "profile_id", "data"]);
      expect(r.headers["x-webhook-event"]).toBe(eventOf(r).event_type);
    }
    const byType = (type: string) => got.filter((r) => eventOf(r).event_type === type);
    const [now, later] = [byType("post.published").find((r) => eventOf(r).data.content === nowContent)!, byType("post.scheduled")[0]!];
    expect(eventOf(now)).toEqual({
      event_type: "post.published",
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      profile_id: s.profileId,
      data: {
        post_id: published.body.postId,
        target_id: expect.any(String),
        platform: "twitter",
        content: nowContent,
        published_at: expect.stringMatching(/Z$/),
        external_post_id: published.body.targets[0].external_post_id,
        url: expect.any(String),
      },
    });
    expect(Object.keys(eventOf(now).data).slice(0, 6)).toEqual(["post_id", "target_id", "platform", "content", "published_at", "external_post_id"]);
    expect(eventOf(later)).toMatchObject({
      event_type: "post.scheduled",
      profile_id: s.profileId,
      data: { post_id: scheduled.body.postId, platform: "twitter", content: laterContent, published_at: null, scheduled_at: at.toISOString() },
    });

    // The scheduled post goes out on its second and its post.published follows.
    const [laterPublished] = await s.receiver.waitFor(1, (r) => eventOf(r).event_type === "post.published" && eventOf(r).data.content === laterContent);
    expect(eventOf(laterPublished!).data.post_id).toBe(scheduled.body.postId);

    // webhook-id is the event's id: one per event, and nothing arrives twice.
    const events = await t.sql<{ id: string }[]>`select id from public.events where profile_id = ${s.profileId}`;
    expect(new Set(got.map((r) => r.headers["webhook-id"]))).toEqual(new Set(events.map((e) => e.id)));
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(s.receiver.received).toHaveLength(3);

    const history = await t.call("GET", `/api/v1/webhook-endpoints/${s.endpointId}/deliveries?limit=50`, { apiKey: s.apiKey });
    expect(history.status).toBe(200);
    expect(history.body.nextCursor).toBeNull();
    expect(history.body.deliveries).toHaveLength(3);
    for (const d of history.body.deliveries) {
      expect(d).toMatchObject({
        id: expect.any(String),
        webhook_id: s.endpointId,
        status: "delivered",
        attempt_number: 1,
        response_status: 200,
        delivered_at: expect.any(String),
        created_at: expect.any(String),
        next_attempt_at: null,
        last_error: null,
      });
      expect(d.attempts).toEqual([
        expect.objectContaining({ attempt_number: 1, trigger: "automatic", status: "success", response_status: 200, response_excerpt: "OK", next_attempt_at: null, latency_ms: expect.any(Number) }),
      ]);
      expect(d.payload.event_type).toBe(d.event_type);
    }
    const page1 = await t.call("GET", `/api/v1/webhook-endpoints/${s.endpointId}/deliveries?limit=2`, { apiKey: s.apiKey });
    expect(page1.body.deliveries).toHaveLength(2);
    const page2 = await t.call("GET", `/api/v1/webhook-endpoints/${s.endpointId}/deliveries?limit=2&cursor=${page1.body.nextCursor}`, { apiKey: s.apiKey });
    expect(page2.body).toEqual({ deliveries: [history.body.deliveries[2]], nextCursor: null });
    const onlyFailed = await t.call("GET", `/api/v1/webhook-endpoints/${s.endpointId}/deliveries?status=failed`, { apiKey: s.apiKey });
    expect(onlyFailed.body.deliveries).toEqual([]);
    const endpoints = await t.call("GET", "/api/v1/webhook-endpoints", { apiKey: s.apiKey });
    expect(endpoints.body.endpoints[0]).toMatchObject({ last_delivery_status: "success", last_delivery_at: expect.any(String), failing_since: null });
  });

  it("delivers only the events an endpoint subscribes to, to every subscribed endpoint of the profile", async () => {
    const s = await setup(["post.failed"]);
    const other = await startWebhookReceiver();
    receivers.push(other);
    const second = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: s.apiKey, body: { url: other.url, events: ["*"] } });
    expect(second.status).toBe(201);
    await t.call("POST", "/api/v1/post", { apiKey: s.apiKey, body: { platform: "twitter", content: unique("fine") } });
    const failing = await t.call("POST", "/api/v1/post", { apiKey: s.apiKey, body: { platform: "twitter", content: unique("[sandbox:duplicate] again") } });
    const [failed] = await s.receiver.waitFor(1);
    expect(eventOf(failed!)).toMatchObject({
      event_type: "post.failed",
      data: { post_id: failing.body.postId, platform: "twitter", error_category: "duplicate", error_message: expect.any(String), attempts: 1 },
    });
    const all = await other.waitFor(2);
    expect(all.map((r) => eventOf(r).event_type).sort()).toEqual(["post.failed", "post.published"]);
    expect(all.every((r) => standardWebhooksVerifies(r, second.body.endpoint.secret))).toBe(true);
    // The same event reaches both endpoints under the same webhook-id, each signed with its own secret.
    expect(all.find((r) => eventOf(r).event_type === "post.failed")!.headers["webhook-id"]).toBe(failed!.headers["webhook-id"]);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(s.receiver.received).toHaveLength(1);
  });

  it("tells a subscriber to '*' about partial success and, once, about a connection that needs reconnecting", async () => {
    const s = await setup(["*"], ["twitter", "linkedin"]);
    const at = new Date(Date.now() + 2500);
    const scheduled = await t.call("POST", "/api/v1/post", { apiKey: s.apiKey, body: { platform: "linkedin", content: unique("Later on LinkedIn"), scheduleDate: at.toISOString() } });
    expect(scheduled.status).toBe(201);
    await sandboxControl(t, s.connections.linkedin!, "revoke-all-tokens");
    const res = await t.call("POST", "/api/v1/post", { apiKey: s.apiKey, body: { platforms: ["twitter", "linkedin"], content: unique("Half there") } });
    expect(res.body.status).toBe("partially_published");
    // Then the scheduled LinkedIn post fails on the same connection, which already needs reconnecting: no second event.
    const got = await s.receiver.waitFor(6);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const types = s.receiver.received.map((r) => eventOf(r).event_type).sort();
    expect(types).toEqual(["connection.needs_reconnect", "post.failed", "post.failed", "post.partially_published", "post.published", "post.scheduled"]);
    const reconnect = eventOf(got.find((r) => eventOf(r).event_type === "connection.needs_reconnect")!);
    expect(reconnect).toEqual({
      event_type: "connection.needs_reconnect",
      timestamp: expect.any(String),
      profile_id: s.profileId,
      data: { connection_id: s.connections.linkedin, platform: "linkedin", username: expect.any(String), external_account_id: expect.any(String), reason: expect.any(String) },
    });
    const partial = eventOf(got.find((r) => eventOf(r).event_type === "post.partially_published")!);
    expect(partial.data).toMatchObject({
      post_id: res.body.postId,
      targets: [
        { platform: "linkedin", status: "failed", error_category: "auth_error", external_post_id: null },
        { platform: "twitter", status: "published", error_category: null, external_post_id: expect.any(String) },
      ],
    });
    expect(got.every((r) => contractVerifies(r, s.secret) && standardWebhooksVerifies(r, s.secret))).toBe(true);
  });
});
