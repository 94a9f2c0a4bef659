import Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { resetEnvForTests } from "../../src/core/env.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { signUp, type TestUser } from "../helpers/users.js";

/**
 * The Stripe webhook (POST /api/billing/webhook): signature checks on the raw body, exactly-once processing, order
 * independence, and each event type we handle. Events come from the local Stripe emulator (hosted checkout and portal
 * pages, renewals) or are built here and signed exactly as Stripe signs them.
 */
const t = useTestHome();

let stripe: Stripe;
beforeAll(() => {
  const url = new URL(t.home.url);
  stripe = new Stripe(t.home.secrets.stripeSecretKey, { host: url.hostname, port: url.port, protocol: "http", maxNetworkRetries: 0 });
});

const secret = () => t.home.secrets.stripeWebhookSecret;

async function signed(event: unknown, options: { secret?: string; timestamp?: number } = {}) {
  const payload = JSON.stringify(event);
  const header = await Stripe.webhooks.generateTestHeaderStringAsync({
    payload,
    secret: options.secret ?? secret(),
    timestamp: options.timestamp,
  });
  return { payload, header };
}

async function sendEvent(event: unknown, options: { secret?: string; timestamp?: number } = {}) {
  const { payload, header } = await signed(event, options);
  return t.call("POST", "/api/billing/webhook", { rawBody: payload, headers: { "content-type": "application/json", "stripe-signature": header } });
}

let eventSeq = 0;
function event(type: string, object: Record<string, unknown>, id = `evt_test_${Date.now()}_${++eventSeq}`) {
  return { id, object: "event", api_version: Stripe.API_VERSION, created: Math.floor(Date.now() / 1000), data: { object }, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type };
}

async function control(path: string, body?: unknown, method = "POST") {
  const res = await t.home.fetch(
    new Request(`${t.home.url}/stripe/__control${path}`, {
      method,
      headers: { authorization: `Bearer ${t.home.secrets.stripeSecretKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  expect(res.status).toBe(200);
  return res.json() as Promise<any>;
}

async function checkoutUrl(user: TestUser, plan = "starter"): Promise<string> {
  const res = await t.call("POST", "/api/billing/create-checkout-session", { token: user.token, body: { plan } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.url as string;
}

async function pay(url: string) {
  expect((await t.home.fetch(new Request(url, { method: "POST" }))).status).toBe(303);
}

async function portal(user: TestUser, subscription: string, action: string) {
  const res = await t.call("POST", "/api/billing/create-portal-session", { token: user.token });
  expect(res.status).toBe(200);
  const done = await t.home.fetch(
    new Request(res.body.url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ subscription, action }).toString(),
    }),
  );
  expect(done.status).toBe(303);
}

const billingRow = async (user: TestUser) => (await t.sql`select * from public.billing_subscriptions where user_id = ${user.id}`)[0]!;
const eventCount = async () => ((await t.sql`select count(*)::int as n from public.stripe_events`)[0] as { n: number }).n;

/** A user on Starter through the emulated checkout, with the Stripe ids on their row. */
async function subscribedUser() {
  const user = await signUp(t);
  await pay(await checkoutUrl(user));
  const row = await billingRow(user);
  expect(row.status).toBe("active");
  return { user, subscriptionId: row.stripe_subscription_id as string, customerId: row.stripe_customer_id as string };
}

describe("webhook signature (raw body, Stripe-Signature)", () => {
  it("refuses a missing, wrong, stale or tampered signature with 400 and changes nothing", async () => {
    const user = await signUp(t);
    await checkoutUrl(user); // links a customer, so the events below would match the user
    const before = await billingRow(user);
    const events = await eventCount();
    const subscription = { id: "sub_forged", object: "subscription", customer: before.stripe_customer_id, metadata: { user_id: user.id } };
    const forged = event("customer.subscription.updated", subscription);

    const missing = await t.call("POST", "/api/billing/webhook", { rawBody: JSON.stringify(forged), headers: { "content-type": "application/json" } });
    assertEnvelope(missing, 400, "bad_request");
    expect(missing.body.error).toBe("Missing Stripe-Signature header");

    assertEnvelope(await sendEvent(forged, { secret: "whsec_not_ours" }), 400, "bad_request");
    const stale = await sendEvent(forged, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    assertEnvelope(stale, 400, "bad_request");
    expect(stale.body.error).toBe("Stripe signature verification failed");

    const { header } = await signed(forged);
    const tampered = JSON.stringify({ ...forged, type: "customer.subscription.deleted" });
    assertEnvelope(
      await t.call("POST", "/api/billing/webhook", { rawBody: tampered, headers: { "content-type": "application/json", "stripe-signature": header } }),
      400,
      "bad_request",
    );
    assertEnvelope(
      await t.call("POST", "/api/billing/webhook", { rawBody: JSON.stringify(forged), headers: { "stripe-signature": "t=1,v1=deadbeef" } }),
      400,
      "bad_request",
    );

    expect(await eventCount()).toBe(events);
    expect(await billingRow(user)).toEqual(before);
  });

  it("accepts a correctly signed event whatever its Content-Type, and acknowledges types it does not handle", async () => {
    const res = await sendEvent(event("customer.created", { id: "cus_x", object: "customer" }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, outcome: "ignored" });
  });
});

describe("webhook: each event type", () => {
  it("the emulator's checkout, portal and renewal events all reach the webhook and are accepted", async () => {
    const { user, subscriptionId } = await subscribedUser();
    await control(`/subscriptions/${subscriptionId}/fail-next-renewal`);
    await control(`/subscriptions/${subscriptionId}/renew`);
    expect((await billingRow(user)).status).toBe("past_due");
    await portal(user, subscriptionId, "cancel_at_period_end");
    expect((await billingRow(user)).cancel_at_period_end).toBe(true);
    await portal(user, subscriptionId, "cancel_now");
    expect((await billingRow(user)).status).toBe("canceled");

    const sent = (await control("/events", undefined, "GET")).data as { id: string; type: string; objectId: string; status: string; lastResponseStatus: number }[];
    const mine = sent.filter((e) => e.objectId === subscriptionId || e.type.startsWith("invoice.") || e.type.startsWith("checkout."));
    const types = new Set(mine.map((e) => e.type));
    for (const type of [
      "checkout.session.completed",
      "customer.subscription.created",
      "customer.subscription.updated",
      "customer.subscription.deleted",
      "invoice.paid",
      "invoice.payment_failed",
    ]) {
      expect([...types], type).toContain(type);
    }
    expect(mine.every((e) => e.status === "delivered" && e.lastResponseStatus === 200)).toBe(true);
    const stored = await t.sql`select id from public.stripe_events where id in ${t.sql(mine.map((e) => e.id))}`;
    expect(stored).toHaveLength(mine.length);
  });

  for (const type of ["customer.subscription.updated", "customer.subscription.deleted", "customer.subscription.created"]) {
    it(`${type}: the row takes the subscription's state as Stripe has it now`, async () => {
      const { user, subscriptionId, customerId } = await subscribedUser();
      await stripe.subscriptions.update(subscriptionId, { cancel_at_period_end: true });
      if (type === "customer.subscription.deleted") await stripe.subscriptions.cancel(subscriptionId);
      const current = await stripe.subscriptions.retrieve(subscriptionId);
      // A stale copy of the object in the event: the webhook re-reads the subscription, so the payload cannot lie.
      const res = await sendEvent(event(type, { id: subscriptionId, object: "subscription", customer: customerId, status: "active", metadata: {} }));
      expect(res.body).toEqual({ received: true, outcome: "processed" });
      expect(await billingRow(user)).toMatchObject({
        status: current.status,
        plan: "starter",
        cancel_at_period_end: true,
        current_period_end: new Date(current.items.data[0]!.current_period_end * 1000),
      });
    });
  }

  it("checkout.session.completed links the customer and subscription to the user named by client_reference_id", async () => {
    const user = await signUp(t);
    const sessionId = (await checkoutUrl(user)).split("/").pop()!;
    await control("/events/hold");
    await pay(`${t.home.url}/stripe/checkout/${sessionId}`);
    const session = await stripe.checkout.sessions.retrieve(sessionId);
    await control("/events/release", { order: "created" }); // the emulator's own events, so later tests start clean
    // Unlink, then let only checkout.session.completed put everything back.
    await t.sql`update public.billing_subscriptions set stripe_subscription_id = null, status = 'free', plan = 'free' where user_id = ${user.id}`;
    const res = await sendEvent(event("checkout.session.completed", { id: sessionId, object: "checkout.session", mode: "subscription", customer: session.customer, subscription: session.subscription, client_reference_id: user.id, metadata: {} }));
    expect(res.body.outcome).toBe("processed");
    expect(await billingRow(user)).toMatchObject({ status: "active", plan: "starter", stripe_subscription_id: session.subscription, stripe_customer_id: session.customer });
  });

  it("invoice.paid and invoice.payment_failed find the subscription under invoice.parent (and the pre-basil top level)", async () => {
    const { user, subscriptionId, customerId } = await subscribedUser();
    await t.sql`update public.billing_subscriptions set status = 'incomplete' where user_id = ${user.id}`;
    const basil = { id: "in_test_1", object: "invoice", customer: customerId, parent: { type: "subscription_details", subscription_details: { subscription: subscriptionId, metadata: {} }, quote_details: null } };
    expect((await sendEvent(event("invoice.paid", basil))).body.outcome).toBe("processed");
    expect((await billingRow(user)).status).toBe("active");
    await t.sql`update public.billing_subscriptions set status = 'incomplete' where user_id = ${user.id}`;
    const legacy = { id: "in_test_2", object: "invoice", customer: customerId, subscription: subscriptionId };
    expect((await sendEvent(event("invoice.payment_failed", legacy))).body.outcome).toBe("processed");
    expect((await billingRow(user)).status).toBe("active"); // Stripe says the subscription is active: that wins
    const oneOff = { id: "in_test_3", object: "invoice", customer: customerId, parent: null };
    expect((await sendEvent(event("invoice.paid", oneOff))).body.outcome).toBe("ignored");
  });

  it("acknowledges events about customers that are not ours, and subscriptions Stripe no longer has", async () => {
    const stranger = await sendEvent(event("customer.subscription.updated", { id: "sub_elsewhere", object: "subscription", customer: "cus_elsewhere", metadata: {} }));
    expect(stranger.body).toEqual({ received: true, outcome: "unknown_customer" });
    const { customerId } = await subscribedUser();
    const gone = await sendEvent(event("customer.subscription.updated", { id: "sub_gone", object: "subscription", customer: customerId, metadata: {} }));
    expect(gone.body).toEqual({ received: true, outcome: "ignored" });
  });
});

describe("webhook: exactly once", () => {
  it("the same event twice is processed once", async () => {
    const { user, subscriptionId, customerId } = await subscribedUser();
    const once = event("customer.subscription.updated", { id: subscriptionId, object: "subscription", customer: customerId, metadata: {} });
    expect((await sendEvent(once)).body.outcome).toBe("processed");
    const after = await billingRow(user);
    await t.sql`update public.billing_subscriptions set status = 'unpaid' where user_id = ${user.id}`; // a marker
    expect((await sendEvent(once)).body).toEqual({ received: true, outcome: "duplicate" });
    expect(await billingRow(user)).toEqual({ ...after, status: "unpaid", updated_at: expect.any(Date) });
    expect(await t.sql`select id from public.stripe_events where id = ${once.id}`).toHaveLength(1);
  });

  it("concurrent deliveries of one event: exactly one is processed", async () => {
    const { subscriptionId, customerId } = await subscribedUser();
    const once = event("customer.subscription.updated", { id: subscriptionId, object: "subscription", customer: customerId, metadata: {} });
    const results = await Promise.all(Array.from({ length: 6 }, () => sendEvent(once)));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(results.map((r) => r.body.outcome).sort()).toEqual(["duplicate", "duplicate", "duplicate", "duplicate", "duplicate", "processed"]);
  });

  it("the emulator delivering an event again (a Stripe retry) changes nothing", async () => {
    const { user } = await subscribedUser();
    const [created] = (await control("/events?type=customer.subscription.created&limit=1", undefined, "GET")).data;
    const before = await billingRow(user);
    const again = await control("/events/deliver", { ids: [created.id, created.id] });
    expect(again.delivered.map((d: { status: string }) => d.status)).toEqual(["delivered", "delivered"]);
    expect(await billingRow(user)).toEqual(before);
  });

  it("a failure while processing leaves no trace, so Stripe's retry processes the event", async () => {
    await control("/flush"); // no background delivery from earlier tests may land while Stripe is "down"
    const { user, subscriptionId, customerId } = await subscribedUser();
    await t.sql`update public.billing_subscriptions set status = 'incomplete' where user_id = ${user.id}`;
    const retried = event("customer.subscription.updated", { id: subscriptionId, object: "subscription", customer: customerId, metadata: {} });
    const apiUrl = process.env.STRIPE_API_URL;
    process.env.STRIPE_API_URL = "http://127.0.0.1:9"; // Stripe unreachable
    resetEnvForTests();
    try {
      assertEnvelope(await sendEvent(retried), 503, "service_unavailable");
    } finally {
      process.env.STRIPE_API_URL = apiUrl;
      resetEnvForTests();
    }
    expect(await t.sql`select id from public.stripe_events where id = ${retried.id}`).toHaveLength(0);
    expect((await billingRow(user)).status).toBe("incomplete");
    expect((await sendEvent(retried)).body.outcome).toBe("processed");
    expect((await billingRow(user)).status).toBe("active");
  });
});

describe("webhook: order does not matter", () => {
  it("checkout's events delivered in reverse still leave the plan active", async () => {
    const user = await signUp(t);
    const url = await checkoutUrl(user);
    await control("/events/hold");
    await pay(url);
    expect((await billingRow(user)).status).toBe("free");
    const released = await control("/events/release", { order: "reverse" });
    expect(released.delivered.map((d: { type: string }) => d.type)).toEqual(["invoice.paid", "customer.subscription.created", "checkout.session.completed"]);
    expect(await billingRow(user)).toMatchObject({ status: "active", plan: "starter" });
  });

  it("a cancellation that overtakes the checkout's events still ends canceled", async () => {
    const user = await signUp(t);
    const url = await checkoutUrl(user);
    await control("/events/hold");
    await pay(url);
    const sub = (await stripe.subscriptions.list({ customer: (await billingRow(user)).stripe_customer_id })).data[0]!;
    await portal(user, sub.id, "cancel_now");
    const released = await control("/events/release", { order: "reverse" });
    expect(released.delivered[0].type).toBe("customer.subscription.deleted");
    expect(await billingRow(user)).toMatchObject({ status: "canceled", plan: "starter", stripe_subscription_id: sub.id });
  });

  it("a late event about an old, ended subscription does not cancel the new one", async () => {
    const { user, subscriptionId: oldSub } = await subscribedUser();
    await control("/events/hold");
    await portal(user, oldSub, "cancel_now"); // its deleted event is held back
    const held = (await control("/events?type=customer.subscription.deleted&limit=1", undefined, "GET")).data[0];
    expect(held).toMatchObject({ objectId: oldSub, status: "held" });
    await control("/events/release", { order: "created" });
    expect((await billingRow(user)).status).toBe("canceled");

    await pay(await checkoutUrl(user, "growth"));
    const renewed = await billingRow(user);
    expect(renewed).toMatchObject({ status: "active", plan: "growth" });
    expect(renewed.stripe_subscription_id).not.toBe(oldSub);

    // Stripe redelivers the old subscription's deletion after the new subscription exists.
    const [oldDeleted] = await t.sql`select id from public.stripe_events where id = ${held.id}`;
    expect(oldDeleted).toBeDefined();
    const replay = event("customer.subscription.deleted", { id: oldSub, object: "subscription", customer: renewed.stripe_customer_id, metadata: { user_id: user.id } });
    expect((await sendEvent(replay)).body.outcome).toBe("stale");
    expect(await billingRow(user)).toMatchObject({ status: "active", plan: "growth", stripe_subscription_id: renewed.stripe_subscription_id });
  });
});
