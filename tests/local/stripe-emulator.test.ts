import type http from "node:http";
import postgres from "postgres";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStripeEmulator, parseStripeForm } from "../../src/local/stripe/index.js";
import { listen, type FetchHandler } from "../../src/local/server.js";
import { useTestHome } from "../helpers/home.js";

/**
 * The local Stripe emulator as stripe-node sees it (the wire protocol, Stripe's shapes and errors) and as a webhook
 * receiver sees it (signed deliveries, retries). Most tests use a second emulator on its own port whose webhook is a
 * recorder here, so what it sends can be inspected; it shares the test database, as the home's emulator would.
 */
const t = useTestHome();

const secretKey = "sk_test_emulator_under_test";
const webhookSecret = "whsec_emulator_under_test";
const prices = { starter: "price_e_starter", growth: "price_e_growth", extra_profile: "price_e_extra" };

interface Received {
  body: string;
  signature: string | null;
}

let emulatorSql: postgres.Sql;
let emulatorServer: http.Server;
let receiverServer: http.Server;
let emulatorUrl: string;
let stripe: Stripe;
const received: Received[] = [];
/** Status codes the recorder answers with, one per delivery, then 200. */
const nextStatuses: number[] = [];

beforeAll(async () => {
  receiverServer = await listen(async (req) => {
    received.push({ body: await req.text(), signature: req.headers.get("stripe-signature") });
    return new Response(null, { status: nextStatuses.shift() ?? 200 });
  }, 0);
  const receiverPort = (receiverServer.address() as { port: number }).port;
  emulatorSql = postgres(t.home.databaseUrl, { max: 4, onnotice: () => {} });
  let handler: FetchHandler = async () => new Response(null, { status: 503 });
  emulatorServer = await listen((req) => handler(req), 0);
  emulatorUrl = `http://127.0.0.1:${(emulatorServer.address() as { port: number }).port}`;
  handler = await createStripeEmulator({
    sql: emulatorSql,
    secretKey,
    webhookSecret,
    webhookUrl: `http://127.0.0.1:${receiverPort}/webhook`,
    baseUrl: emulatorUrl,
    prices,
    retryDelaysMs: [20, 20],
  });
  stripe = new Stripe(secretKey, { host: "127.0.0.1", port: new URL(emulatorUrl).port, protocol: "http", maxNetworkRetries: 0 });
});

afterAll(async () => {
  await new Promise((resolve) => emulatorServer?.close(resolve));
  await new Promise((resolve) => receiverServer?.close(resolve));
  await emulatorSql?.end({ timeout: 5 });
});

async function control(path: string, body?: unknown) {
  const res = await fetch(`${emulatorUrl}/stripe/__control${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${secretKey}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.json() as Promise<any>;
}

/** A paid subscription through the hosted page; returns it and the events the webhook received for it. */
async function paidCheckout(lineItems: Stripe.Checkout.SessionCreateParams.LineItem[] = [{ price: prices.starter, quantity: 1 }]) {
  const customer = await stripe.customers.create({ email: "payer@example.com" });
  const session = await stripe.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    line_items: lineItems,
    success_url: "https://app.example/done?session_id={CHECKOUT_SESSION_ID}",
    cancel_url: "https://app.example/cancel",
    client_reference_id: "user-1",
    subscription_data: { metadata: { user_id: "user-1" } },
  });
  const from = received.length;
  const res = await fetch(session.url!, { method: "POST", redirect: "manual" });
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe(`https://app.example/done?session_id=${session.id}`);
  const done = await stripe.checkout.sessions.retrieve(session.id);
  const subscription = await stripe.subscriptions.retrieve(done.subscription as string);
  return { customer, session: done, subscription, events: received.slice(from).map((r) => JSON.parse(r.body) as Stripe.Event) };
}

describe("stripe emulator: the API as stripe-node sees it", () => {
  it("refuses a wrong or missing secret key with Stripe's 401", async () => {
    const wrong = new Stripe("sk_test_wrong_key_1234", { host: "127.0.0.1", port: new URL(emulatorUrl).port, protocol: "http", maxNetworkRetries: 0 });
    const error = await wrong.customers.create({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error).toMatchObject({ statusCode: 401, message: "Invalid API Key provided: sk_test_****1234" });
    const none = await fetch(`${emulatorUrl}/v1/customers`, { method: "POST" });
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: { type: "invalid_request_error", message: expect.stringContaining("You did not provide an API key") } });
  });

  it("creates and retrieves customers; a missing one is resource_missing (404)", async () => {
    const created = await stripe.customers.create({ email: "a@example.com", metadata: { user_id: "u1" } });
    expect(created).toMatchObject({ id: expect.stringMatching(/^cus_\w+$/), object: "customer", email: "a@example.com", metadata: { user_id: "u1" }, livemode: false });
    const again = await stripe.customers.retrieve(created.id);
    expect(again).toEqual(created);
    const error = await stripe.customers.retrieve("cus_nope").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 404, code: "resource_missing", param: "id", message: "No such customer: 'cus_nope'" });
  });

  it("replays an idempotent request and refuses a reused key with other parameters", async () => {
    const a = await stripe.customers.create({ email: "i@example.com" }, { idempotencyKey: "idem-1" });
    const b = await stripe.customers.create({ email: "i@example.com" }, { idempotencyKey: "idem-1" });
    expect(b.id).toBe(a.id);
    const error = await stripe.customers.create({ email: "other@example.com" }, { idempotencyKey: "idem-1" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
  });

  it("answers Stripe's validation errors: unknown parameter, missing parameter, unknown price, unknown route", async () => {
    const base: Stripe.Checkout.SessionCreateParams = { mode: "subscription", success_url: "https://x", line_items: [{ price: prices.starter, quantity: 1 }] };
    const unknown = await stripe.checkout.sessions.create({ ...base, trial_period_days: 3 } as never).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ statusCode: 400, code: "parameter_unknown", param: "trial_period_days" });
    const noUrl = await stripe.checkout.sessions.create({ ...base, success_url: undefined }).catch((e: unknown) => e);
    expect(noUrl).toMatchObject({ statusCode: 400, code: "parameter_missing", param: "success_url" });
    const price = await stripe.checkout.sessions.create({ ...base, line_items: [{ price: "price_nope", quantity: 1 }] }).catch((e: unknown) => e);
    expect(price).toMatchObject({ statusCode: 404, code: "resource_missing", param: "line_items[0][price]", message: "No such price: 'price_nope'" });
    const route = await stripe.rawRequest("GET", "/v1/charges").catch((e: unknown) => e);
    expect(route).toMatchObject({ statusCode: 404, type: "StripeInvalidRequestError" });
  });

  it("answers an unknown path 404 and a known path under another method 405 with Allow, both in Stripe's error shape", async () => {
    const auth = { authorization: `Bearer ${secretKey}` };
    const missing = await fetch(`${emulatorUrl}/v1/charges`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { type: "invalid_request_error", message: expect.stringContaining("Unrecognized request URL (GET: /v1/charges)") } });
    const wrong = await fetch(`${emulatorUrl}/v1/customers`, { method: "DELETE", headers: auth });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
    expect(wrong.headers.get("stripe-version")).toBeTruthy();
    expect(await wrong.json()).toMatchObject({ error: { type: "invalid_request_error", message: expect.stringContaining("DELETE: /v1/customers") } });
    const control = await fetch(`${emulatorUrl}/stripe/__control/events`, { method: "DELETE", headers: auth });
    expect(control.status).toBe(405);
    expect(control.headers.get("allow")).toBe("GET");
    expect(await control.json()).toMatchObject({ error: { type: "invalid_request_error" } });
    const page = await fetch(`${emulatorUrl}/stripe/checkout/cs_nope`, { method: "DELETE" });
    expect(page.status).toBe(405);
    expect(page.headers.get("allow")).toBe("GET, POST");
    expect(page.headers.get("content-type")).toContain("text/html");
  });

  it("creates an open checkout session whose url is its hosted page", async () => {
    const customer = await stripe.customers.create({});
    const session = await stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      line_items: [{ price: prices.starter, quantity: 1 }, { price: prices.extra_profile, quantity: 3 }],
      success_url: "https://app.example/ok",
      metadata: { plan: "starter" },
    });
    expect(session).toMatchObject({
      object: "checkout.session",
      id: expect.stringMatching(/^cs_test_\w+$/),
      url: `${emulatorUrl}/stripe/checkout/${session.id}`,
      mode: "subscription",
      status: "open",
      payment_status: "unpaid",
      customer: customer.id,
      subscription: null,
      amount_total: 1900 + 3 * 800,
      currency: "gbp",
      metadata: { plan: "starter" },
    });
    expect(await stripe.checkout.sessions.retrieve(session.id, { expand: ["customer"] })).toMatchObject({ customer: { id: customer.id, object: "customer" } });
    const page = await fetch(session.url!);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain("Pay £43.00");
    expect(html).toContain('<form method="post">');
  });
});

describe("stripe emulator: paying sends signed events", () => {
  it("paying creates an active subscription (basil shapes) and a paid invoice, then sends three signed events", async () => {
    const { customer, session, subscription, events } = await paidCheckout([
      { price: prices.starter, quantity: 1 },
      { price: prices.extra_profile, quantity: 2 },
    ]);
    expect(session).toMatchObject({ status: "complete", payment_status: "paid", customer: customer.id });
    expect(subscription).toMatchObject({
      object: "subscription",
      status: "active",
      customer: customer.id,
      cancel_at_period_end: false,
      metadata: { user_id: "user-1" },
      items: { object: "list", data: [{ price: { id: prices.starter }, quantity: 1 }, { price: { id: prices.extra_profile }, quantity: 2 }] },
    });
    const item = subscription.items.data[0]!;
    expect(item.current_period_end).toBeGreaterThan(item.current_period_start + 27 * 86_400);
    expect(events.map((e) => e.type)).toEqual(["checkout.session.completed", "customer.subscription.created", "invoice.paid"]);
    const invoice = events[2]!.data.object as Stripe.Invoice;
    expect(invoice).toMatchObject({ status: "paid", amount_paid: 1900 + 2 * 800, billing_reason: "subscription_create", parent: { subscription_details: { subscription: subscription.id } } });

    // Each delivery verifies with stripe-node exactly as our webhook verifies it.
    for (const r of received.slice(-3)) {
      expect(r.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      const verified = await stripe.webhooks.constructEventAsync(r.body, r.signature!, webhookSecret);
      expect(verified.api_version).toBe(Stripe.API_VERSION);
    }
    // Paying twice does nothing more: the page just redirects again.
    const deliveries = received.length;
    const again = await fetch(session.url!, { method: "POST", redirect: "manual" });
    expect(again.status).toBe(303);
    expect(received.length).toBe(deliveries);
    expect((await stripe.subscriptions.list({ customer: customer.id })).data).toHaveLength(1);
  });

  it("retries a delivery the webhook did not accept, a couple of times", async () => {
    nextStatuses.push(500, 503);
    const { events } = await paidCheckout();
    expect(events.map((e) => e.type)).toEqual([
      "checkout.session.completed",
      "checkout.session.completed",
      "checkout.session.completed",
      "customer.subscription.created",
      "invoice.paid",
    ]);
    const res = await fetch(`${emulatorUrl}/stripe/__control/events?type=checkout.session.completed&limit=1`, { headers: { authorization: `Bearer ${secretKey}` } });
    expect((await res.json()).data[0]).toMatchObject({ status: "delivered", attempts: 3, lastResponseStatus: 200 });
  });

  it("subscription changes through the API send their events in the background, in order", async () => {
    const { subscription } = await paidCheckout();
    const from = received.length;
    const updated = await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true });
    expect(updated).toMatchObject({ cancel_at_period_end: true, cancel_at: subscription.items.data[0]!.current_period_end, canceled_at: expect.any(Number) });
    const canceled = await stripe.subscriptions.cancel(subscription.id);
    expect(canceled).toMatchObject({ status: "canceled", ended_at: expect.any(Number) });
    await control("/flush");
    const sent = received.slice(from).map((r) => JSON.parse(r.body) as Stripe.Event);
    expect(sent.map((e) => e.type)).toEqual(["customer.subscription.updated", "customer.subscription.deleted"]);
    expect(sent[0]!.data.previous_attributes).toMatchObject({ cancel_at_period_end: false });
    const error = await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 400 });
  });

  it("the portal page cancels and switches plans; the renewal controls fail and recover a payment", async () => {
    const { customer, subscription } = await paidCheckout();
    const portal = await stripe.billingPortal.sessions.create({ customer: customer.id, return_url: "https://app.example/back" });
    expect(portal).toMatchObject({ object: "billing_portal.session", customer: customer.id, url: `${emulatorUrl}/stripe/portal/${portal.id}` });
    const html = await (await fetch(portal.url)).text();
    expect(html).toContain("Cancel at period end");
    expect(html).toContain("Switch to Growth plan");

    const press = (fields: Record<string, string>) =>
      fetch(portal.url, { method: "POST", redirect: "manual", body: new URLSearchParams({ subscription: subscription.id, ...fields }) });
    const from = received.length;
    expect((await press({ action: "change_plan", price: prices.growth })).status).toBe(303);
    expect((await stripe.subscriptions.retrieve(subscription.id)).items.data[0]!.price.id).toBe(prices.growth);
    expect((await press({ action: "nonsense" })).status).toBe(400);

    await control(`/subscriptions/${subscription.id}/fail-next-renewal`);
    const failed = await control(`/subscriptions/${subscription.id}/renew`);
    expect(failed.status).toBe("past_due");
    expect(failed.items.data[0].current_period_start).toBe(subscription.items.data[0]!.current_period_end);
    const recovered = await control(`/subscriptions/${subscription.id}/renew`);
    expect(recovered.status).toBe("active");
    expect((await press({ action: "cancel_now" })).status).toBe(303);

    const types = received.slice(from).map((r) => (JSON.parse(r.body) as Stripe.Event).type);
    expect(types).toEqual([
      "customer.subscription.updated",
      "invoice.payment_failed",
      "customer.subscription.updated",
      "invoice.paid",
      "customer.subscription.updated",
      "customer.subscription.deleted",
    ]);
  });

  it("holds events and releases them in reverse; delivers chosen events again on request", async () => {
    await control("/events/hold");
    const from = received.length;
    const { events } = await paidCheckout();
    expect(events).toEqual([]);
    const released = await control("/events/release", { order: "reverse" });
    expect(released.delivered.map((d: { type: string }) => d.type)).toEqual(["invoice.paid", "customer.subscription.created", "checkout.session.completed"]);
    const ids = released.delivered.map((d: { id: string }) => d.id);
    await control("/events/deliver", { ids: [ids[2], ids[2]] });
    const got = received.slice(from).map((r) => (JSON.parse(r.body) as Stripe.Event).id);
    expect(got).toEqual([ids[0], ids[1], ids[2], ids[2], ids[2]]);
  });

  it("control endpoints need the secret key", async () => {
    const res = await fetch(`${emulatorUrl}/stripe/__control/events/hold`, { method: "POST" });
    expect(res.status).toBe(401);
  });
});

describe("stripe emulator: state", () => {
  it("lives in Postgres in its own schema, so another emulator on the same database sees it", async () => {
    const customer = await stripe.customers.create({ email: "durable@example.com" });
    const other = await createStripeEmulator({ sql: emulatorSql, secretKey, webhookSecret, webhookUrl: "http://127.0.0.1:9/", baseUrl: emulatorUrl, prices });
    const res = await other(new Request(`${emulatorUrl}/v1/customers/${customer.id}`, { headers: { authorization: `Bearer ${secretKey}` } }));
    expect(await res.json()).toMatchObject({ id: customer.id, email: "durable@example.com" });
    const tables = await t.sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'local_stripe' order by 1`;
    expect(tables.map((r) => r.table_name)).toEqual(["events", "idempotency_keys", "objects"]);
    const migrations = await t.sql`select version from supabase_migrations.schema_migrations
                                    where array_to_string(statements, ' ') like '%local_stripe%'`;
    expect(migrations).toEqual([]); // the emulator creates its schema itself; the app's migrations never mention it
  });

  it("parses Stripe's bracketed form encoding", () => {
    expect(parseStripeForm("a=1&line_items[0][price]=p&line_items[0][quantity]=2&line_items[1][price]=q&metadata[k]=v&expand[0]=customer")).toEqual({
      a: "1",
      line_items: [{ price: "p", quantity: "2" }, { price: "q" }],
      metadata: { k: "v" },
      expand: ["customer"],
    });
  });
});
