import Stripe from "stripe";
import { beforeAll, describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, createProfile, signUp, type TestUser } from "../helpers/users.js";

/**
 * Billing through the front door: the browser endpoints, the local Stripe emulator's hosted checkout and portal
 * pages, and our real webhook receiving the emulator's signed events. Nothing is mocked and no row is written by
 * hand: every plan change below is Stripe (emulated) telling our webhook.
 */
const t = useTestHome();

let stripe: Stripe;
beforeAll(() => {
  const url = new URL(t.home.url);
  stripe = new Stripe(t.home.secrets.stripeSecretKey, { host: url.hostname, port: url.port, protocol: "http", maxNetworkRetries: 0 });
});

const status = (user: TestUser) => t.call("GET", "/api/billing/subscription-status", { token: user.token });

async function startCheckout(user: TestUser, body: Record<string, unknown> = { plan: "starter" }): Promise<string> {
  const res = await t.call("POST", "/api/billing/create-checkout-session", { token: user.token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toEqual({ url: expect.stringMatching(new RegExp(`^${t.home.url}/stripe/checkout/cs_test_\\w+$`)) });
  return res.body.url as string;
}

/** Presses "Pay" on the hosted checkout page; the emulator delivers its events before it redirects. */
async function pay(checkoutUrl: string): Promise<Response> {
  const res = await t.home.fetch(new Request(checkoutUrl, { method: "POST" }));
  expect(res.status).toBe(303);
  return res;
}

async function subscribeThroughCheckout(user: TestUser, body: Record<string, unknown> = { plan: "starter" }) {
  await pay(await startCheckout(user, body));
  const [row] = await t.sql`select * from public.billing_subscriptions where user_id = ${user.id}`;
  return row!;
}

async function openPortal(user: TestUser): Promise<string> {
  const res = await t.call("POST", "/api/billing/create-portal-session", { token: user.token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body).toEqual({ url: expect.stringMatching(new RegExp(`^${t.home.url}/stripe/portal/bps_\\w+$`)) });
  return res.body.url as string;
}

/** Presses a button on the hosted billing portal page. */
async function portal(user: TestUser, subscription: string, action: string, extra: Record<string, string> = {}) {
  const url = await openPortal(user);
  const res = await t.home.fetch(
    new Request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ subscription, action, ...extra }).toString(),
    }),
  );
  expect(res.status).toBe(303);
}

async function control(path: string, body?: unknown) {
  const res = await t.home.fetch(
    new Request(`${t.home.url}/stripe/__control${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.home.secrets.stripeSecretKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  expect(res.status).toBe(200);
  return res.json() as Promise<any>;
}

describe("billing: the upgrade and cancel flow (contract: Billing Requirement, Free Tier Setup)", () => {
  it("Free → Starter through checkout → API key → cancel in the portal → 402, nothing deleted", async () => {
    const user = await signUp(t);

    // A new user is on Free without touching Stripe: 2 profiles, no API keys.
    const free = await status(user);
    expect(free.status).toBe(200);
    expect(free.body).toEqual({
      plan: "free",
      planName: "Free",
      status: "free",
      active: false,
      entitlement: "free",
      subscribedPlan: null,
      currentPeriodEnd: null,
      cancelAtPeriodEnd: false,
      limits: { profiles: 2, postsPerMonth: 25, apiRequestsPerMonth: 0, apiKeys: false, webhooks: false },
      addOns: { extraProfiles: 0, whiteLabel: false },
      usage: {
        profiles: 0,
        posts: { used: 0, limit: 25 },
        apiRequests: { used: 0, limit: 0 },
        periodStart: expect.stringMatching(/^\d{4}-\d{2}-01T00:00:00\.000Z$/),
        resetsAt: expect.any(String),
      },
      hasBillingAccount: false,
    });
    const profileId = await createProfile(t, user, "First");
    await createProfile(t, user, "Second");
    assertEnvelope(await t.call("POST", "/api/v1/profiles", { token: user.token, body: { name: "Third" } }), 402, "plan_limit_reached");
    assertEnvelope(
      await t.call("POST", "/api/api-keys", { token: user.token, body: { name: "k", profileId } }),
      402,
      "subscription_required",
    );

    // Upgrade: the checkout page shows the order; paying redirects back to the app.
    const checkoutUrl = await startCheckout(user, { plan: "starter" });
    const pageRes = await t.home.fetch(new Request(checkoutUrl));
    expect(pageRes.status).toBe(200);
    const html = await pageRes.text();
    expect(html).toContain("Starter plan");
    expect(html).toContain("Pay £19.00");
    const paid = await pay(checkoutUrl);
    const sessionId = checkoutUrl.split("/").pop()!;
    expect(paid.headers.get("location")).toBe(`${t.home.url}/?billing=success&session_id=${sessionId}`);

    // The webhook has run: the plan is active with Starter's limits.
    const [row] = await t.sql`select * from public.billing_subscriptions where user_id = ${user.id}`;
    const subscription = await stripe.subscriptions.retrieve(row!.stripe_subscription_id);
    expect(subscription.customer).toBe(row!.stripe_customer_id);
    expect(subscription.metadata).toEqual({ user_id: user.id, plan: "starter" });
    const periodEnd = new Date(subscription.items.data[0]!.current_period_end * 1000).toISOString();
    const starter = await status(user);
    expect(starter.body).toEqual({
      plan: "starter",
      planName: "Starter",
      status: "active",
      active: true,
      entitlement: "paid",
      subscribedPlan: "starter",
      currentPeriodEnd: periodEnd,
      cancelAtPeriodEnd: false,
      limits: { profiles: 10, postsPerMonth: 150, apiRequestsPerMonth: 10_000, apiKeys: true, webhooks: true },
      addOns: { extraProfiles: 0, whiteLabel: false },
      usage: expect.objectContaining({ profiles: 2 }),
      hasBillingAccount: true,
    });
    const monthAhead = Date.parse(periodEnd) - Date.now();
    expect(monthAhead).toBeGreaterThan(27 * 86_400_000);
    expect(monthAhead).toBeLessThan(32 * 86_400_000);

    // API keys unlock, and work.
    const key = await createApiKey(t, user, profileId);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey: key.key })).status).toBe(200);
    await createProfile(t, user, "Third");

    // Cancel now in the portal: the next API-key request answers 402, limits fall back to Free, nothing is deleted.
    await portal(user, subscription.id, "cancel_now");
    assertEnvelope(await t.call("GET", "/api/v1/profiles", { apiKey: key.key }), 402, "subscription_required");
    const canceled = await status(user);
    expect(canceled.body).toMatchObject({
      plan: "free",
      status: "canceled",
      active: false,
      entitlement: "free",
      subscribedPlan: "starter",
      limits: { profiles: 2, apiKeys: false },
      usage: expect.objectContaining({ profiles: 3 }),
      hasBillingAccount: true,
    });
    const [{ profiles }] = (await t.sql`select count(*)::int as profiles from public.profiles where created_by = ${user.id}`) as any;
    expect(profiles).toBe(3);
    const [keyRow] = await t.sql`select status from public.api_keys where id = ${key.id}`;
    expect(keyRow!.status).toBe("active");
    const types = (await t.sql`select type from public.stripe_events order by processed_at`).map((r) => r.type);
    expect(types).toEqual(expect.arrayContaining(["checkout.session.completed", "customer.subscription.created", "invoice.paid", "customer.subscription.deleted"]));
  });

  it("cancelling at period end keeps access until the period ends; undoing it keeps the subscription", async () => {
    const user = await signUp(t);
    const row = await subscribeThroughCheckout(user);
    await portal(user, row.stripe_subscription_id, "cancel_at_period_end");
    expect((await status(user)).body).toMatchObject({ plan: "starter", status: "active", active: true, cancelAtPeriodEnd: true });
    await portal(user, row.stripe_subscription_id, "reactivate");
    expect((await status(user)).body).toMatchObject({ plan: "starter", status: "active", cancelAtPeriodEnd: false });

    await portal(user, row.stripe_subscription_id, "cancel_at_period_end");
    await control(`/subscriptions/${row.stripe_subscription_id}/renew`); // the period ends
    expect((await status(user)).body).toMatchObject({ plan: "free", status: "canceled", active: false, subscribedPlan: "starter" });
  });

  it("a plan change in the portal changes the limits", async () => {
    const user = await signUp(t);
    const row = await subscribeThroughCheckout(user);
    await portal(user, row.stripe_subscription_id, "change_plan", { price: "price_local_growth" });
    expect((await status(user)).body).toMatchObject({
      plan: "growth",
      status: "active",
      limits: { profiles: 50, postsPerMonth: null, apiRequestsPerMonth: 100_000 },
    });
  });

  it("add-ons ride on the subscription: extra profile packs raise the profile limit, white-label is recorded", async () => {
    const user = await signUp(t);
    const url = await startCheckout(user, { plan: "starter", extraProfiles: 2, whiteLabel: true });
    expect(await (await t.home.fetch(new Request(url))).text()).toContain("Pay £84.00"); // 19 + 2 × 8 + 49
    await pay(url);
    expect((await status(user)).body).toMatchObject({
      plan: "starter",
      limits: { profiles: 12 },
      addOns: { extraProfiles: 2, whiteLabel: true },
    });
    const [row] = await t.sql`select extra_profiles, white_label, stripe_subscription_id from public.billing_subscriptions where user_id = ${user.id}`;
    expect(row).toMatchObject({ extra_profiles: 2, white_label: true });

    // A lapsed subscription grants no add-ons either: back to Free's 2 profiles.
    await portal(user, row!.stripe_subscription_id, "cancel_now");
    expect((await status(user)).body).toMatchObject({ plan: "free", limits: { profiles: 2 }, addOns: { extraProfiles: 0, whiteLabel: false } });
  });

  it("a failed renewal payment (past_due) keeps access while Stripe retries; paying restores active", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user);
    const row = await subscribeThroughCheckout(user);
    const key = await createApiKey(t, user, profileId);
    await control(`/subscriptions/${row.stripe_subscription_id}/fail-next-renewal`);
    const renewed = await control(`/subscriptions/${row.stripe_subscription_id}/renew`);
    expect(renewed.status).toBe("past_due");

    expect((await status(user)).body).toMatchObject({ plan: "starter", status: "past_due", active: true, entitlement: "grace" });
    expect((await t.call("GET", "/api/v1/profiles", { apiKey: key.key })).status).toBe(200);
    await createApiKey(t, user, profileId, "made while past due");

    await control(`/subscriptions/${row.stripe_subscription_id}/renew`); // Stripe's retry succeeds
    expect((await status(user)).body).toMatchObject({ plan: "starter", status: "active", active: true });
  });
});

describe("billing: usage this month", () => {
  it("subscription-status reports the API requests and posts counted this billing month", async () => {
    const user = await signUp(t);
    await t.sql`update public.billing_subscriptions set plan = 'starter', status = 'active' where user_id = ${user.id}`;
    const profileId = await createProfile(t, user, "Counted");
    const { key } = await createApiKey(t, user, profileId);
    for (let i = 0; i < 3; i++) expect((await t.call("GET", "/api/v1/profiles", { apiKey: key })).status).toBe(200);
    const status = await t.call("GET", "/api/billing/subscription-status", { token: user.token });
    expect(status.body.usage).toMatchObject({
      profiles: 1,
      apiRequests: { used: 3, limit: 10_000 },
      posts: { used: 0, limit: 150 },
    });
    expect(new Date(status.body.usage.resetsAt).getTime()).toBeGreaterThan(Date.now());
  });
});

describe("billing: checkout and portal errors", () => {
  it("refuses unknown plans, Free, unknown fields and malformed add-ons (400 naming the field)", async () => {
    const user = await signUp(t);
    for (const body of [{ plan: "platinum" }, { plan: "free" }, {}, { plan: "starter", extraProfiles: -1 }, { plan: "starter", extraProfiles: 1.5 }]) {
      const res = await t.call("POST", "/api/billing/create-checkout-session", { token: user.token, body });
      assertEnvelope(res, 400, "validation_error");
      expect(res.body.details[0].field).toBe(Object.keys(body).at(-1) ?? "plan");
    }
    const unknown = await t.call("POST", "/api/billing/create-checkout-session", { token: user.token, body: { plan: "starter", trialDays: 14 } });
    assertEnvelope(unknown, 400, "validation_error");
    expect(unknown.body.error).toContain("trialDays");
    const pointless = await t.call("POST", "/api/billing/create-checkout-session", { token: user.token, body: { plan: "unlimited", extraProfiles: 1 } });
    assertEnvelope(pointless, 400, "validation_error");
    expect(pointless.body.details).toEqual([{ field: "extraProfiles", message: expect.stringContaining("unlimited profiles") }]);
    const [row] = await t.sql`select stripe_customer_id from public.billing_subscriptions where user_id = ${user.id}`;
    expect(row!.stripe_customer_id).toBeNull();
  });

  it("a checkout for the plan you already have is a clear 409; another plan while subscribed points to the portal", async () => {
    const user = await signUp(t);
    await subscribeThroughCheckout(user);
    const same = await t.call("POST", "/api/billing/create-checkout-session", { token: user.token, body: { plan: "starter" } });
    assertEnvelope(same, 409, "conflict");
    expect(same.body.error).toBe("You are already on the Starter plan; manage it in the billing portal");
    const other = await t.call("POST", "/api/billing/create-checkout-session", { token: user.token, body: { plan: "growth" } });
    assertEnvelope(other, 409, "conflict");
    expect(other.body.error).toContain("billing portal");
  });

  it("creates the Stripe customer once and links it to the user; checkout is subscription mode with no trial", async () => {
    const user = await signUp(t);
    const first = (await startCheckout(user)).split("/").pop()!;
    const second = (await startCheckout(user, { plan: "growth" })).split("/").pop()!;
    const [a, b] = await Promise.all([stripe.checkout.sessions.retrieve(first), stripe.checkout.sessions.retrieve(second)]);
    const [row] = await t.sql`select stripe_customer_id from public.billing_subscriptions where user_id = ${user.id}`;
    expect(a.customer).toBe(row!.stripe_customer_id);
    expect(b.customer).toBe(row!.stripe_customer_id);
    expect(a).toMatchObject({ mode: "subscription", client_reference_id: user.id, status: "open", metadata: { user_id: user.id, plan: "starter" } });
    const customer = await stripe.customers.retrieve(row!.stripe_customer_id);
    expect(customer).toMatchObject({ email: user.email, metadata: { user_id: user.id } });

    // Paying the Growth session leaves the Starter one unused: the user is on Growth.
    await pay(b.url!);
    expect((await status(user)).body).toMatchObject({ plan: "growth", status: "active" });
  });

  it("the portal needs a billing account: a clear 409 before the first checkout", async () => {
    const user = await signUp(t);
    const res = await t.call("POST", "/api/billing/create-portal-session", { token: user.token });
    assertEnvelope(res, 409, "conflict");
    expect(res.body.error).toBe("No billing account yet: subscribe to a paid plan first, then manage it in the billing portal");
  });

  it("answers 405 with Allow for a wrong method and 404 for an unknown billing path", async () => {
    const user = await signUp(t);
    const wrong = await t.call("GET", "/api/billing/create-checkout-session", { token: user.token });
    assertEnvelope(wrong, 405, "method_not_allowed");
    expect(wrong.headers.get("allow")).toBe("POST");
    assertEnvelope(await t.call("GET", "/api/billing/nope", { token: user.token }), 404, "not_found");
  });
});

describe("billing: security", () => {
  it("a user's status shows only their own subscription", async () => {
    const paying = await signUp(t);
    await subscribeThroughCheckout(paying);
    const other = await signUp(t);
    expect((await status(other)).body).toMatchObject({ plan: "free", status: "free", hasBillingAccount: false });
  });
});
