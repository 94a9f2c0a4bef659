import { describe, expect, it } from "vitest";
import { eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { contractVerifies, sleep, standardWebhooksVerifies, webhookKit } from "../helpers/webhook-receiver.js";

/**
 * Webhook delivery when things stay wrong for a while: a receiver that is down (nothing lost), retries used up
 * (manual retry, 409 once delivered), and a long failing window (the endpoint is disabled, and says so).
 */
const t = useTestHome({
  env: { SWEEP_INTERVAL_SECONDS: "0.2", WEBHOOK_RETRY_BASE_SECONDS: "0.05", WEBHOOK_TIMEOUT_SECONDS: "1" },
});
const kit = webhookKit(t);
const { setup, publish, deliveriesOf, settledDelivery, unique } = kit;

describe("webhook delivery recovers, gives up, and disables endpoints when it must", () => {
  it("loses nothing while the receiver is down: every event arrives once it is back", async () => {
    const s = await setup({ maxRetries: 10 });
    await s.receiver.down();
    const posts = [await publish(s.apiKey, unique("While down 1")), await publish(s.apiKey, unique("While down 2"))];
    await eventually(async () => {
      const [row] = await t.sql<{ count: number }[]>`
        select count(*)::int as count from public.webhook_delivery_attempts a join public.webhook_deliveries d on d.id = a.delivery_id
        where d.endpoint_id = ${s.endpointId} and a.error_message = 'Connection refused'`;
      return row!.count >= 4 ? true : undefined;
    }, 15_000, "refused attempts while the receiver is down");
    await s.receiver.up();
    const got = await s.receiver.waitFor(2);
    expect(got.map((r) => JSON.parse(r.body).data.post_id).sort()).toEqual([...posts].sort());
    await sleep(1000);
    // Once each: a receiver sees a repeat only under the same webhook-id, and here it saw none.
    expect(s.receiver.received).toHaveLength(2);
    const ds = await deliveriesOf(s);
    expect(ds.map((d) => d.status)).toEqual(["delivered", "delivered"]);
    expect(ds.every((d) => d.attempt_number >= 3)).toBe(true);
  });
  it("a worker that died mid-attempt is recovered by the sweep; the receiver sees the repeat under the same webhook-id", async () => {
    const s = await setup();
    await publish(s.apiKey);
    const [first] = await s.receiver.waitFor(1);
    const d = await settledDelivery(s, "delivered");
    // As if a worker claimed the delivery for its second attempt and crashed: delivering, with a lease that ran out.
    await t.sql`update public.webhook_deliveries set status = 'delivering', attempt_number = 2, lease_until = now() - interval '1 second'
                where id = ${d.id}`;
    const got = await s.receiver.waitFor(2);
    expect(got[1]!.headers["webhook-id"]).toBe(first!.headers["webhook-id"]);
    expect(got[1]!.body).toBe(first!.body);
    const again = await eventually(async () => (await deliveriesOf(s)).find((x) => x.id === d.id && x.status === "delivered" && x.attempt_number === 3));
    expect(again.attempts.map((a: any) => a.attempt_number)).toEqual([1, 3]);
  });

  it("gives up after max_retries, then a manual retry delivers it; retrying a delivered one is a 409", async () => {
    const s = await setup({ maxRetries: 1 });
    s.receiver.script({ kind: "status", status: 500 }, { kind: "status", status: 500 });
    await publish(s.apiKey);
    const failed = await settledDelivery(s, "failed");
    expect(failed).toMatchObject({ attempt_number: 2, response_status: 500, last_error: "HTTP 500", next_attempt_at: null });
    expect(failed.attempts.map((a: any) => a.next_attempt_at === null)).toEqual([false, true]);
    await sleep(1000);
    expect(s.receiver.received).toHaveLength(2);

    const retry = await t.call("POST", `/api/v1/webhook-deliveries/${failed.id}/retry`, { apiKey: s.apiKey });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual({ success: true, message: "Delivery queued for retry" });
    const delivered = await settledDelivery(s, "delivered");
    expect(delivered.id).toBe(failed.id);
    expect(delivered.attempts.map((a: any) => [a.attempt_number, a.trigger, a.status])).toEqual([
      [1, "automatic", "failed"],
      [2, "automatic", "failed"],
      [3, "manual", "success"],
    ]);
    expect(new Set(s.receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
    assertEnvelope(await t.call("POST", `/api/v1/webhook-deliveries/${failed.id}/retry`, { apiKey: s.apiKey }), 409, "conflict");
    assertEnvelope(await t.call("POST", `/api/webhook-deliveries/${failed.id}/retry`, { token: s.user.token }), 409, "conflict");
  });
  it("disables an endpoint that has failed for the whole window, with a final notice; a success resets the window", async () => {
    const s = await setup({ events: ["*"] });
    // A success clears a failing window.
    await t.sql`update public.webhook_endpoints set failing_since = now() - interval '1 day' where id = ${s.endpointId}`;
    await publish(s.apiKey);
    await s.receiver.waitFor(1);
    await eventually(async () => {
      const [e] = await t.sql`select failing_since from public.webhook_endpoints where id = ${s.endpointId}`;
      return e!.failing_since === null ? true : undefined;
    });
    // Failing for longer than the window (5 days by default): the next failure disables it.
    await t.sql`update public.webhook_endpoints set failing_since = now() - interval '6 days' where id = ${s.endpointId}`;
    s.receiver.script({ kind: "status", status: 500 });
    await publish(s.apiKey);
    const got = await s.receiver.waitFor(3);
    expect(got.map((r) => r.answered)).toEqual([200, 500, 200]);
    const notice = JSON.parse(got[2]!.body);
    expect(notice).toMatchObject({ event_type: "webhook.endpoint_disabled", data: { webhook_id: s.endpointId, reason: "failing" } });
    expect(contractVerifies(got[2]!, s.secret)).toBe(true);
    const [endpoint] = await t.sql`select is_active, disabled_reason from public.webhook_endpoints where id = ${s.endpointId}`;
    expect(endpoint).toEqual({ is_active: false, disabled_reason: "failing" });
    const failedOne = (await deliveriesOf(s)).find((d) => d.event_type === "post.published" && d.status === "failed");
    expect(failedOne).toMatchObject({ attempt_number: 1, next_attempt_at: null });
    // Turned on again, it starts afresh.
    const on = await t.call("PATCH", `/api/v1/webhook-endpoints/${s.endpointId}`, { apiKey: s.apiKey, body: { is_active: true } });
    expect(on.body.endpoint).toMatchObject({ is_active: true, disabled_reason: null, failing_since: null });
  });
});
