import { afterEach, describe, expect, it } from "vitest";
import { connectAccount, eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";

/**
 * The after-commit hand-off (src/core/pg.ts, src/core/jobs/hand-off.ts): work a transaction creates in an outbox goes
 * to the queue as soon as that transaction commits, without waiting for the sweep. Here the sweep is off for the whole
 * file (its first run would be an hour after the home starts), so every delivery that arrives was handed off.
 */
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "3600", WEBHOOK_RETRY_BASE_SECONDS: "0.05" } });

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

const eventType = (body: string) => (JSON.parse(body) as { event_type: string }).event_type;

describe("webhook deliveries are handed to the queue when their event commits, not by the sweep", () => {
  it("post.published and post.scheduled arrive while the sweep is off, each delivery queued and sent once", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const endpoint = await t.call("POST", "/api/v1/webhook-endpoints", {
      apiKey,
      body: { url: receiver.url, events: ["post.published", "post.scheduled"] },
    });
    expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);

    // Published now (its post.published comes from the publish job's transaction) and scheduled an hour ahead (its
    // post.scheduled comes from the request's own transaction, as the caller).
    const now = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: `Hand-off now ${Date.now()}` } });
    expect(now.status, JSON.stringify(now.body)).toBe(201);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: `Hand-off later ${Date.now()}`, scheduleDate: later },
    });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(201);

    const got = await receiver.waitFor(2, undefined, 20_000);
    expect(got.map((r) => eventType(r.body)).sort()).toEqual(["post.published", "post.scheduled"]);

    // The attempt is recorded once the receiver has answered.
    const deliveries = await eventually(async () => {
      const rows = await t.sql<{ id: string; status: string; attempt_number: number; queued: boolean }[]>`
        select id, status, attempt_number, queued_for is not null as queued
        from public.webhook_deliveries where profile_id = ${profileId}`;
      return rows.length === 2 && rows.every((r) => r.status === "delivered") ? rows : undefined;
    }, 20_000, "both deliveries recorded as delivered");
    for (const d of deliveries) expect(d).toMatchObject({ status: "delivered", attempt_number: 1, queued: true });
    // One queue message per delivery: the hand-off marked each one, so nothing sends it again.
    const [messages] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from local_qstash.messages
      where url like '%/api/queue/webhook' and convert_from(body, 'UTF8')::jsonb ->> 'deliveryId' = any(${deliveries.map((d) => d.id)})`;
    expect(messages!.n).toBe(2);
  });

  it("a failed attempt's retry is put on the queue by the worker, also without the sweep", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    receiver.script({ kind: "status", status: 500 });
    const endpoint = await t.call("POST", "/api/v1/webhook-endpoints", {
      apiKey,
      body: { url: receiver.url, events: ["post.scheduled"] },
    });
    expect(endpoint.status).toBe(201);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: `Hand-off retry ${Date.now()}`, scheduleDate: later },
    });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(201);
    await receiver.waitFor(2, undefined, 20_000);
    const d = await eventually(async () => {
      const [row] = await t.sql<{ status: string; attempt_number: number }[]>`
        select status, attempt_number from public.webhook_deliveries where profile_id = ${profileId}`;
      return row?.status === "delivered" ? row : undefined;
    }, 20_000, "the retried delivery recorded as delivered");
    expect(d).toMatchObject({ status: "delivered", attempt_number: 2 });
  });
});
