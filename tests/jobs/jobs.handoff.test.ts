import { afterEach, describe, expect, it } from "vitest";
import { enqueue } from "../../src/core/queue.js";
import { webhookJob } from "../../src/webhooks/job.js";
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

  it("a message that arrives while its delivery is still locked by the sender waits for the lock, and is not dropped", async () => {
    // A delivery already due goes on the queue without not-before, so its message can arrive before the transaction
    // that sent it (the sweep's or a hand-off's, which keeps the row locked while sending) has committed. The worker's
    // claim must wait for that lock: skipping the row would acknowledge the message and leave the attempt to the
    // stale-message resend, a quarter of an hour later.
    const { apiKey, profileId } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const endpoint = await t.call("POST", "/api/v1/webhook-endpoints", {
      apiKey,
      body: { url: receiver.url, events: ["post.scheduled"] },
    });
    expect(endpoint.status).toBe(201);
    const scheduled = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: `Hand-off lock ${Date.now()}`, scheduleDate: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(201);
    await receiver.waitFor(1, undefined, 20_000);
    const delivery = await eventually(async () => {
      const [row] = await t.sql<{ id: string; status: string }[]>`
        select id, status from public.webhook_deliveries where profile_id = ${profileId}`;
      return row?.status === "delivered" ? row : undefined;
    }, 20_000, "the first attempt recorded");

    // The delivery due again (one more attempt allowed), committed as the sweep finds such rows. Nothing sends it by
    // itself here: the sweep is off and the hand-off follows inserts only.
    await t.sql`
      update public.webhook_deliveries
      set status = 'pending', next_attempt_at = now(), max_attempts = max_attempts + 1, queued_for = null
      where id = ${delivery.id}`;
    // A sender's transaction, as src/core/jobs/outbox.ts runs it: the row locked, marked, the message sent, and the
    // commit still to come while the message, with nothing to hold it back, is delivered.
    const sender = await t.sql.reserve();
    try {
      await sender`begin`;
      await sender`select 1 from public.webhook_deliveries where id = ${delivery.id} for no key update`;
      await sender`update public.webhook_deliveries set queued_for = next_attempt_at, queued_at = now() where id = ${delivery.id}`;
      await enqueue([{ path: webhookJob.path, body: { deliveryId: delivery.id } }]);
      // Long enough for the emulator to deliver the message and for the worker to reach the locked row.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(receiver.received.length).toBe(1);
      await sender`commit`;
    } finally {
      sender.release();
    }

    await receiver.waitFor(2, undefined, 20_000);
    const done = await eventually(async () => {
      const [row] = await t.sql<{ status: string; attempt_number: number }[]>`
        select status, attempt_number from public.webhook_deliveries where id = ${delivery.id}`;
      return row?.status === "delivered" && row.attempt_number === 2 ? row : undefined;
    }, 20_000, "the second attempt recorded");
    expect(done).toMatchObject({ status: "delivered", attempt_number: 2 });
  });
});
