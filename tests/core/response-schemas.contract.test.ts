import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import billingFunction from "../../netlify/functions/billing.js";
import connectionsFunction from "../../netlify/functions/connections.js";
import webhooksFunction from "../../netlify/functions/webhooks.js";
import { billingRoutes } from "../../src/billing/handlers.js";
import * as billing from "../../src/billing/schemas.js";
import { connectionRoutes } from "../../src/connections/handlers.js";
import * as connections from "../../src/connections/schemas.js";
import { webhookManagementRoutes } from "../../src/webhooks/handlers.js";
import * as webhooks from "../../src/webhooks/schemas.js";
import { connectAccount, cookieFrom } from "../helpers/connect.js";
import { eventually } from "../helpers/eventually.js";
import { useTestHome, type CallResult } from "../helpers/home.js";
import { createProfile, paidUserWithKey, signUp, subscribe, type TestUser } from "../helpers/users.js";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";

/**
 * Every success answer of the connections, webhooks and billing routes, driven through the front door and parsed with
 * the response schema its route declares (`response`, from src/{connections,webhooks,billing}/schemas.ts). The schemas
 * are strict: a field the code answers but the schema does not name fails here, as does one the schema names but the
 * code dropped. The last test reads the three route tables and fails when a route was not driven here.
 */
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", WEBHOOK_RETRY_BASE_SECONDS: "0.05" } });

const driven = new Set<string>();

/** The route key a request is answered by (the table's "METHOD /path" with `:params`). */
function routeKey(method: string, path: string): string {
  const pathname = new URL(path, "http://x").pathname;
  const tables = [connectionsFunction, webhooksFunction, billingFunction].flatMap((f) => f.routes);
  const key = tables.find((k) => {
    const [m, pattern] = k.split(" ");
    if (m !== method) return false;
    const source = pattern!.split("/").map((s) => (s.startsWith(":") ? "[^/]+" : s)).join("/");
    return new RegExp(`^${source}$`).test(pathname);
  });
  if (!key) throw new Error(`no route for ${method} ${pathname}`);
  return key;
}

const declared = new Map<string, unknown>([...connectionRoutes, ...webhookManagementRoutes, ...billingRoutes].map((r) => [r.key, r.def.response]));

/** Calls a route, expects `status` and parses the body with `schema` (failing with every issue named). */
async function expectAnswer<S extends z.ZodType>(
  schema: S,
  status: number,
  method: string,
  path: string,
  options: Parameters<typeof t.call>[2] = {},
): Promise<{ res: CallResult; body: z.infer<S> }> {
  const res = await t.call(method, path, options);
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(status);
  const parsed = schema.safeParse(res.body);
  if (!parsed.success) {
    throw new Error(`${method} ${path} answered a body its schema refuses:\n${z.prettifyError(parsed.error)}\n${JSON.stringify(res.body, null, 2)}`);
  }
  // Parsing changes nothing: the schema describes the answer, it does not transform it.
  expect(parsed.data).toEqual(res.body);
  const key = routeKey(method, path);
  expect(declared.get(key), `${key} declares this response schema`).toBe(schema);
  driven.add(key);
  return { res, body: parsed.data };
}

const receivers: WebhookReceiver[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

describe("connections: every success answer matches its schema", () => {
  let owner: Awaited<ReturnType<typeof paidUserWithKey>>;
  beforeAll(async () => {
    owner = await paidUserWithKey(t);
  });

  it("connect/init (consent page, with and without a browser binding) and the callback's redirect", async () => {
    const returnUrl = new URL("/connected", t.home.url).toString();
    const byKey = await expectAnswer(connections.connectInitResponse, 200, "POST", "/api/v1/connect/init", {
      apiKey: owner.apiKey,
      body: { platform: "twitter", returnUrl },
    });
    expect(byKey.res.headers.getSetCookie()).toEqual([]);
    const bySession = await expectAnswer(connections.connectInitResponse, 200, "POST", "/api/v1/connect/init", {
      token: owner.user.token,
      body: { platform: "linkedin", returnUrl, profileId: owner.profileId },
    });
    const cookie = cookieFrom(bySession.res.headers);
    expect(cookie).toBeDefined();

    // The callback answers a redirect with no body: approve on the sandbox's consent page, then follow it back.
    const consentUrl = new URL(bySession.body.url);
    consentUrl.searchParams.set("sandbox_user", `schemas-${Date.now()}`);
    const consent = await fetch(consentUrl, { redirect: "manual" });
    expect(consent.status).toBe(302);
    const callback = await fetch(consent.headers.get("location")!, { redirect: "manual", headers: { cookie: cookie! } });
    expect(callback.status).toBe(302);
    expect(await callback.text()).toBe("");
    expect(new URL(callback.headers.get("location")!).searchParams.get("connected")).toBe("linkedin");
    const callbackKey = routeKey("GET", new URL(consent.headers.get("location")!).pathname);
    expect(declared.get(callbackKey)).toBe(connections.redirectResponse);
    driven.add(callbackKey);
  });

  it("connect/init with an app password (Bluesky) answers the returnUrl with the outcome", async () => {
    const { body } = await expectAnswer(connections.connectInitResponse, 200, "POST", "/api/v1/connect/init", {
      apiKey: owner.apiKey,
      body: {
        platform: "bluesky",
        returnUrl: new URL("/connected", t.home.url).toString(),
        credentials: { identifier: `schemas-${Date.now()}.bsky.social`, appPassword: "abcd-efgh-ijkl-mnop" },
      },
    });
    expect(new URL(body.url).searchParams.get("connected")).toBe("bluesky");
  });

  it("lists connections of every kind: with destinations (Pinterest boards, Facebook Pages) and without", async () => {
    await connectAccount(t, { apiKey: owner.apiKey }, "twitter");
    await connectAccount(t, { apiKey: owner.apiKey }, "pinterest");
    await connectAccount(t, { apiKey: owner.apiKey }, "facebook");
    const { body } = await expectAnswer(connections.listConnectionsResponse, 200, "GET", "/api/v1/connections", { apiKey: owner.apiKey });
    const platforms = body.connections.map((c) => c.platform);
    expect(platforms).toEqual(expect.arrayContaining(["twitter", "pinterest", "facebook", "linkedin", "bluesky"]));
    expect(body.connections.find((c) => c.platform === "pinterest")!.destinations).toHaveProperty("boards");
    expect(body.connections.find((c) => c.platform === "facebook")!.destinations).toHaveProperty("pages");
    expect(body.connections.find((c) => c.platform === "twitter")).not.toHaveProperty("destinations");
    const filtered = await expectAnswer(connections.listConnectionsResponse, 200, "GET", `/api/v1/connections?profileId=${owner.profileId}&platform=pinterest`, {
      token: owner.user.token,
    });
    expect(filtered.body.connections.map((c) => c.platform)).toEqual(["pinterest"]);
    const empty = await signUp(t);
    const emptyProfile = await createProfile(t, empty);
    const none = await expectAnswer(connections.listConnectionsResponse, 200, "GET", `/api/v1/connections?profileId=${emptyProfile}`, { token: empty.token });
    expect(none.body.connections).toEqual([]);
  });

  it("changes settings, syncs (ready and needing reconnection) and disconnects", async () => {
    const pinterestId = await connectAccount(t, { apiKey: owner.apiKey }, "pinterest");
    const [row] = await t.sql<{ metadata: { boards: { id: string }[] } }[]>`select metadata from public.connections where id = ${pinterestId}`;
    const patched = await expectAnswer(connections.connectionResponse, 200, "PATCH", `/api/v1/connections/${pinterestId}`, {
      apiKey: owner.apiKey,
      body: { settings: { boardId: row!.metadata.boards[0]!.id } },
    });
    expect(patched.body.connection.readiness.status).toBe("ready");

    const synced = await expectAnswer(connections.syncConnectionResponse, 200, "POST", `/api/v1/connections/${pinterestId}/sync`, { apiKey: owner.apiKey });
    expect(synced.body.connection.id).toBe(pinterestId);
    const twitterId = await connectAccount(t, { apiKey: owner.apiKey }, "twitter");
    await t.sql`update public.connections set status = 'needs_reconnect' where id = ${twitterId}`;
    const stale = await expectAnswer(connections.syncConnectionResponse, 200, "POST", `/api/v1/connections/${twitterId}/sync`, { token: owner.user.token });
    expect(stale.body.connection.platform).toBe("twitter");

    await expectAnswer(connections.successResponse, 200, "DELETE", `/api/v1/connections/${pinterestId}`, { apiKey: owner.apiKey });
  });

  it("return origins: list, add (201, then 200 when already there), remove", async () => {
    const empty = await expectAnswer(connections.listReturnOriginsResponse, 200, "GET", "/api/v1/connect/return-origins", { apiKey: owner.apiKey });
    expect(empty.body.origins).toEqual([]);
    const origin = "https://app.integrator.example";
    await expectAnswer(connections.returnOriginResponse, 201, "POST", "/api/v1/connect/return-origins", { apiKey: owner.apiKey, body: { origin } });
    await expectAnswer(connections.returnOriginResponse, 200, "POST", "/api/v1/connect/return-origins", {
      token: owner.user.token,
      body: { origin: `${origin}/`, profileId: owner.profileId },
    });
    const listed = await expectAnswer(connections.listReturnOriginsResponse, 200, "GET", `/api/v1/connect/return-origins?profileId=${owner.profileId}`, {
      token: owner.user.token,
    });
    expect(listed.body.origins.map((o) => o.origin)).toEqual([origin]);
    await expectAnswer(connections.successResponse, 200, "DELETE", `/api/v1/connect/return-origins?origin=${encodeURIComponent(origin)}`, {
      apiKey: owner.apiKey,
    });
  });
});

describe("webhooks: every success answer matches its schema", () => {
  let account: Awaited<ReturnType<typeof paidUserWithKey>>;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    account = await paidUserWithKey(t);
    await connectAccount(t, { apiKey: account.apiKey }, "twitter");
    receiver = await startWebhookReceiver();
    receivers.push(receiver);
  });

  /** Both families of routes: `/api/v1/…` with the API key, the browser's `/api/…` with the session. */
  const families = () => [
    { prefix: "/api/v1", who: { apiKey: account.apiKey }, profile: {} },
    { prefix: "/api", who: { token: account.user.token }, profile: { profileId: account.profileId } },
  ];

  it("create (generated and chosen secret), list, update, delete", async () => {
    for (const [i, { prefix, who, profile }] of families().entries()) {
      const created = await expectAnswer(webhooks.createEndpointResponse, 201, "POST", `${prefix}/webhook-endpoints`, {
        ...who,
        body: { ...profile, url: `${receiver.url}?family=${i}`, events: ["post.published"] },
      });
      const chosen = await expectAnswer(webhooks.createEndpointResponse, 201, "POST", `${prefix}/webhook-endpoints`, {
        ...who,
        body: { ...profile, url: `${receiver.url}?family=${i}&chosen`, events: ["*"], secret: "a-chosen-secret-of-some-length", maxRetries: 0 },
      });
      const query = "profileId" in profile ? `?profileId=${account.profileId}` : "";
      const listed = await expectAnswer(webhooks.listEndpointsResponse, 200, "GET", `${prefix}/webhook-endpoints${query}`, who);
      expect(listed.body.endpoints.map((e) => e.id)).toEqual(expect.arrayContaining([created.body.endpoint.id, chosen.body.endpoint.id]));
      const off = await expectAnswer(webhooks.updateEndpointResponse, 200, "PATCH", `${prefix}/webhook-endpoints/${chosen.body.endpoint.id}`, {
        ...who,
        body: { is_active: false },
      });
      expect(off.body.endpoint).toMatchObject({ is_active: false, disabled_reason: "manual" });
      await expectAnswer(webhooks.updateEndpointResponse, 200, "PATCH", `${prefix}/webhook-endpoints/${chosen.body.endpoint.id}`, {
        ...who,
        body: { isActive: true, url: `${receiver.url}?family=${i}&moved`, secret: "another-chosen-secret-value", max_retries: 2 },
      });
      await expectAnswer(webhooks.messageResponse, 200, "DELETE", `${prefix}/webhook-endpoints/${created.body.endpoint.id}`, who);
      await expectAnswer(webhooks.messageResponse, 200, "DELETE", `${prefix}/webhook-endpoints/${chosen.body.endpoint.id}`, who);
    }
  });

  it("configure: created (201, with the secret), updated without a secret (200, none shown), updated with one (200)", async () => {
    const url = `${receiver.url}?configure`;
    const first = await expectAnswer(webhooks.configureEndpointResponse, 201, "POST", "/api/v1/webhooks/configure", {
      apiKey: account.apiKey,
      body: { url, events: ["post.published", "post.failed"] },
    });
    expect(first.body.endpoint.secret).toBeDefined();
    const again = await expectAnswer(webhooks.configureEndpointResponse, 200, "POST", "/api/v1/webhooks/configure", {
      token: account.user.token,
      body: { url, events: ["post.failed"], profileId: account.profileId },
    });
    expect(again.body).not.toHaveProperty("warning");
    expect(again.body.endpoint).not.toHaveProperty("secret");
    const rotated = await expectAnswer(webhooks.configureEndpointResponse, 200, "POST", "/api/v1/webhooks/configure", {
      apiKey: account.apiKey,
      body: { url, events: ["*"], secret: "a-rotated-secret-value-here" },
    });
    expect(rotated.body.endpoint.secret).toBe("a-rotated-secret-value-here");
    await t.sql`delete from public.webhook_endpoints where id = ${first.body.endpoint.id}`;
  });

  it("delivery history (delivered with attempts, failed, pending, empty, paged) and retry", async () => {
    for (const [i, { prefix, who, profile }] of families().entries()) {
      const endpoint = await expectAnswer(webhooks.createEndpointResponse, 201, "POST", `${prefix}/webhook-endpoints`, {
        ...who,
        body: { ...profile, url: `${receiver.url}?deliveries=${i}`, events: ["post.published"], maxRetries: 0 },
      });
      const id = endpoint.body.endpoint.id;
      const history = `${prefix}/webhook-endpoints/${id}/deliveries`;
      const empty = await expectAnswer(webhooks.listDeliveriesResponse, 200, "GET", history, who);
      expect(empty.body).toEqual({ deliveries: [], nextCursor: null });

      // One delivered, then one failed (the receiver answers 500 and the endpoint allows no retries).
      const publish = async (content: string) => {
        const res = await t.call("POST", "/api/v1/post", { apiKey: account.apiKey, body: { platform: "twitter", content } });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
      };
      await publish(`schemas delivered ${i} ${Date.now()}`);
      await eventually(async () => (await t.call("GET", `${history}?status=delivered`, who)).body.deliveries?.[0], 15_000, "a delivered delivery");
      // Down until the failure is recorded (not just for the next request: anything else reaching the receiver first,
      // such as a late request of an earlier test, would take a one-shot answer).
      receiver.otherwise({ kind: "status", status: 500, body: "down" });
      await publish(`schemas failed ${i} ${Date.now()}`);
      const failed = await eventually(
        async () => (await t.call("GET", `${history}?status=failed`, who)).body.deliveries?.[0] as { id: string } | undefined,
        15_000,
        "a failed delivery",
      );
      receiver.otherwise({ kind: "ok" });

      const all = await expectAnswer(webhooks.listDeliveriesResponse, 200, "GET", history, who);
      expect(all.body.deliveries.map((d) => d.status).sort()).toEqual(["delivered", "failed"]);
      expect(all.body.deliveries.every((d) => d.attempts.length === 1)).toBe(true);
      const firstPage = await expectAnswer(webhooks.listDeliveriesResponse, 200, "GET", `${history}?limit=1`, who);
      expect(firstPage.body.nextCursor).toEqual(expect.any(String));
      const secondPage = await expectAnswer(webhooks.listDeliveriesResponse, 200, "GET", `${history}?limit=1&cursor=${firstPage.body.nextCursor}`, who);
      expect(secondPage.body.nextCursor).toBeNull();

      await expectAnswer(webhooks.messageResponse, 200, "POST", `${prefix}/webhook-deliveries/${failed.id}/retry`, { ...who, body: profile });
      const retried = await expectAnswer(webhooks.listDeliveriesResponse, 200, "GET", history, who);
      expect(retried.body.deliveries.find((d) => d.id === failed.id)!.status).not.toBe("failed");
      await eventually(
        async () => (await t.call("GET", `${history}?status=delivered`, who)).body.deliveries?.length === 2,
        15_000,
        "the retried delivery delivered",
      );
      await expectAnswer(webhooks.listDeliveriesResponse, 200, "GET", history, who);
      await t.sql`delete from public.webhook_endpoints where id = ${id}`;
    }
  });
});

describe("billing: every success answer matches its schema", () => {
  let stripe: Stripe;
  beforeAll(() => {
    const url = new URL(t.home.url);
    stripe = new Stripe(t.home.secrets.stripeSecretKey, { host: url.hostname, port: url.port, protocol: "http", maxNetworkRetries: 0 });
  });

  const status = (user: TestUser) =>
    expectAnswer(billing.subscriptionStatusResponse, 200, "GET", "/api/billing/subscription-status", { token: user.token });

  async function sendEvent(event: Record<string, unknown>) {
    const payload = JSON.stringify(event);
    const header = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: t.home.secrets.stripeWebhookSecret });
    return expectAnswer(billing.stripeWebhookResponse, 200, "POST", "/api/billing/webhook", {
      rawBody: payload,
      headers: { "content-type": "application/json", "stripe-signature": header },
    });
  }

  let seq = 0;
  const event = (type: string, object: Record<string, unknown>) => ({
    id: `evt_schemas_${Date.now()}_${++seq}`,
    object: "event",
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  });

  it("subscription status on Free, on a paid plan with a fair-use ceiling, and in grace", async () => {
    const user = await signUp(t);
    const free = await status(user);
    expect(free.body).toMatchObject({ plan: "free", subscribedPlan: null, hasBillingAccount: false });
    expect(free.body.usage.posts).not.toHaveProperty("fairUseLimit");
    await subscribe(t, user, "growth");
    const growth = await status(user);
    expect(growth.body.usage.posts.fairUseLimit).toEqual(expect.any(Number));
    await subscribe(t, user, "unlimited", "past_due");
    expect((await status(user)).body.entitlement).toBe("grace");
  });

  it("checkout and portal answer a hosted page; the webhook answers each outcome", async () => {
    const user = await signUp(t);
    const checkout = await expectAnswer(billing.hostedPageResponse, 200, "POST", "/api/billing/create-checkout-session", {
      token: user.token,
      body: { plan: "starter", extraProfiles: 2, whiteLabel: true },
    });
    expect((await t.home.fetch(new Request(checkout.body.url, { method: "POST" }))).status).toBe(303);
    await expectAnswer(billing.hostedPageResponse, 200, "POST", "/api/billing/create-portal-session", { token: user.token });
    const paid = await status(user);
    expect(paid.body).toMatchObject({ plan: "starter", active: true, hasBillingAccount: true, addOns: { extraProfiles: 2, whiteLabel: true } });

    const [row] = await t.sql<{ stripe_subscription_id: string }[]>`
      select stripe_subscription_id from public.billing_subscriptions where user_id = ${user.id}`;
    const subscription = await stripe.subscriptions.retrieve(row!.stripe_subscription_id);
    const updated = event("customer.subscription.updated", subscription as unknown as Record<string, unknown>);
    expect((await sendEvent(updated)).body.outcome).toBe("processed");
    expect((await sendEvent(updated)).body.outcome).toBe("duplicate");
    expect((await sendEvent(event("customer.created", { id: "cus_schemas", object: "customer" }))).body.outcome).toBe("ignored");
    const stranger = { ...subscription, id: "sub_not_ours", customer: "cus_not_ours", metadata: {} };
    expect((await sendEvent(event("customer.subscription.updated", stranger))).body.outcome).toBe("unknown_customer");
  });
});

describe("coverage", () => {
  it("every route of the connections, webhooks and billing tables was driven above", () => {
    const all = [connectionsFunction, webhooksFunction, billingFunction].flatMap((f) => f.routes);
    expect(all.filter((key) => !driven.has(key))).toEqual([]);
  });
});
