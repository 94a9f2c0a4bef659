import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { contractVerifies, sleep, standardWebhooksVerifies, webhookKit } from "../helpers/webhook-receiver.js";

/**
 * Webhook delivery against a receiver that misbehaves on command: errors, timeouts, 429 with Retry-After and
 * redirects are retried on schedule under a stable webhook-id, every attempt recorded; 410 Gone disables the endpoint. Retry delays are tiny here
 * (base 0.05 s; the queue counts not-before in whole seconds, so each retry comes within about a second).
 */
const t = useTestHome({
  env: { SWEEP_INTERVAL_SECONDS: "0.2", WEBHOOK_RETRY_BASE_SECONDS: "0.05", WEBHOOK_TIMEOUT_SECONDS: "1" },
});
const kit = webhookKit(t);
const { setup, publish, deliveriesOf, settledDelivery } = kit;

describe("webhook delivery retries a misbehaving receiver", () => {
  it("retries 500s with backoff under the same webhook-id, recording every attempt, until a 2xx", async () => {
    const s = await setup();
    s.receiver.script({ kind: "status", status: 500, body: "boom" }, { kind: "status", status: 503, body: "still down" });
    await publish(s.apiKey);
    const got = await s.receiver.waitFor(3);
    expect(got.map((r) => r.answered)).toEqual([500, 503, 200]);
    expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(1);
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    for (const r of got) {
      expect(contractVerifies(r, s.secret)).toBe(true);
      expect(standardWebhooksVerifies(r, s.secret)).toBe(true);
    }
    const d = await settledDelivery(s, "delivered");
    expect(d).toMatchObject({ attempt_number: 3, response_status: 200, last_error: null });
    expect(d.attempts.map((a: any) => [a.attempt_number, a.status, a.response_status, a.response_excerpt, a.error_message])).toEqual([
      [1, "failed", 500, "boom", "HTTP 500"],
      [2, "failed", 503, "still down", "HTTP 503"],
      [3, "success", 200, "OK", null],
    ]);
    // Each retry came no earlier than the time its failed attempt announced.
    for (let i = 0; i < 2; i++) {
      expect(d.attempts[i].next_attempt_at).toEqual(expect.any(String));
      expect(got[i + 1]!.at).toBeGreaterThanOrEqual(new Date(d.attempts[i].next_attempt_at).getTime() - 50);
    }
    expect(d.attempts[2].next_attempt_at).toBeNull();
  });
  it("counts no answer within the timeout as a failure and tries again", async () => {
    const s = await setup();
    s.receiver.script({ kind: "timeout" });
    await publish(s.apiKey);
    const got = await s.receiver.waitFor(2);
    expect(got.map((r) => r.answered)).toEqual(["timeout", 200]);
    const d = await settledDelivery(s, "delivered");
    expect(d.attempts[0]).toMatchObject({ status: "failed", response_status: null, error_message: "No response within 1 s" });
    expect(d.attempts[0].latency_ms).toBeGreaterThanOrEqual(990);
    expect(got[0]!.headers["webhook-id"]).toBe(got[1]!.headers["webhook-id"]);
    expect(Number(got[1]!.headers["webhook-timestamp"])).toBeGreaterThanOrEqual(Number(got[0]!.headers["webhook-timestamp"]));
  });
  it("waits as long as a 429's Retry-After asks", async () => {
    const s = await setup();
    s.receiver.script({ kind: "status", status: 429, headers: { "retry-after": "2" }, body: "slow down" });
    await publish(s.apiKey);
    const got = await s.receiver.waitFor(2);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(1900);
    const d = await settledDelivery(s, "delivered");
    expect(d.attempts[0]).toMatchObject({ status: "failed", response_status: 429 });
    expect(new Date(d.attempts[0].next_attempt_at).getTime() - new Date(d.attempts[0].completed_at).getTime()).toBeGreaterThanOrEqual(1990);
  });
  it("does not follow a redirect: it is a failed attempt, retried at the registered URL", async () => {
    const s = await setup();
    s.receiver.script({ kind: "redirect", location: `http://127.0.0.1:${s.receiver.port}/elsewhere` });
    await publish(s.apiKey);
    const got = await s.receiver.waitFor(2);
    expect(got.map((r) => r.path)).toEqual(["/webhook", "/webhook"]);
    const d = await settledDelivery(s, "delivered");
    expect(d.attempts[0]).toMatchObject({ status: "failed", response_status: 302, error_message: expect.stringMatching(/^Redirect to .*\/elsewhere not followed$/) });
  });
  it("a 410 Gone disables the endpoint and says so to the profile's other endpoints", async () => {
    const s = await setup();
    const watcher = await kit.receiver();
    const w = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: s.apiKey, body: { url: watcher.url, events: ["webhook.endpoint_disabled"] } });
    s.receiver.otherwise({ kind: "status", status: 410, body: "gone" });
    await publish(s.apiKey);
    const [notice] = await watcher.waitFor(1);
    expect(JSON.parse(notice!.body)).toEqual({
      event_type: "webhook.endpoint_disabled",
      timestamp: expect.any(String),
      profile_id: s.profileId,
      data: { url: s.receiver.url, reason: "gone", webhook_id: s.endpointId, disabled_at: expect.any(String), failing_since: expect.any(String) },
    });
    expect(standardWebhooksVerifies(notice!, w.body.endpoint.secret)).toBe(true);
    const list = await t.call("GET", "/api/v1/webhook-endpoints", { apiKey: s.apiKey });
    expect(list.body.endpoints.find((e: any) => e.id === s.endpointId)).toMatchObject({ is_active: false, disabled_reason: "gone", last_delivery_status: "failed" });
    expect((await deliveriesOf(s))[0]).toMatchObject({ status: "failed", attempt_number: 1, response_status: 410 });
    // Nothing more is sent to it, and it cannot be retried until it is turned on again.
    await publish(s.apiKey);
    await sleep(1000);
    expect(s.receiver.received).toHaveLength(1);
    const [first] = (await deliveriesOf(s)).filter((d) => d.response_status === 410);
    assertEnvelope(await t.call("POST", `/api/v1/webhook-deliveries/${first.id}/retry`, { apiKey: s.apiKey }), 409, "conflict");
  });
});
