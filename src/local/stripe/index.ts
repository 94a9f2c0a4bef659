import { timingSafeEqual } from "node:crypto";
import { router, type Params, type Router } from "../../core/router.js";
import { dispatcher } from "../emulator.js";
import type { FetchHandler } from "../server.js";
import { checkoutPage, createCheckoutSession, payCheckout } from "./checkout.js";
import { controlRoutes } from "./control.js";
import { createCustomer, updateCustomer } from "./customers.js";
import { retrieveEvent } from "./events.js";
import { parseStripeForm } from "./form.js";
import { page, stripeError, stripeJson } from "./http.js";
import { createPortalSession, portalAction, portalPage } from "./portal.js";
import { ensureSchema } from "./schema.js";
import { createState, type Json, type RequestContext, type StripeEmulatorOptions, type StripeState } from "./state.js";
import { expand, retrieve } from "./store.js";
import { cancelSubscriptionNow, listSubscriptions, updateSubscription } from "./subscriptions.js";
import { enqueue } from "./webhooks.js";

export type { StripeEmulatorOptions } from "./state.js";
export { parseStripeForm } from "./form.js";

/**
 * A local emulation of the few Stripe endpoints Amplify Scheduler calls, spoken to stripe-node over HTTP (its
 * `host`/`port`/`protocol` options point here; it always requests `/v1/...`):
 *
 * - `POST /v1/customers`, `GET|POST /v1/customers/:id`
 * - `POST /v1/checkout/sessions`, `GET /v1/checkout/sessions/:id`
 * - `POST /v1/billing_portal/sessions`
 * - `GET /v1/subscriptions`, `GET|POST|DELETE /v1/subscriptions/:id`
 * - `GET /v1/events/:id`
 *
 * with Stripe's object shapes (API 2025-03-31 "basil" and later: periods on subscription items, `invoice.parent`),
 * form-encoded parameters, `expand[]`, `Idempotency-Key` replay, and Stripe's error bodies
 * (`{ error: { type, code, message, param } }`, 401 for a wrong secret key).
 *
 * It also serves the hosted pages a customer would see: `<baseUrl>/stripe/checkout/<id>` (GET shows the order and a
 * Pay button; POST pays: customer, subscription and paid invoice are created) and `<baseUrl>/stripe/portal/<id>`
 * (cancel at period end or now, undo a cancellation, switch plan). Each change sends the events Stripe would, signed
 * exactly as Stripe signs them (src/local/stripe/webhooks.ts), to our real webhook, with a couple of retries when it
 * does not answer 2xx. The hosted pages deliver before they redirect, so the page behaves as if Stripe were instant;
 * changes made through the API deliver in the background, in order.
 *
 * Test controls live under `/stripe/__control/` (secret key required): list events, hold deliveries and release them
 * in any order, deliver chosen events again (duplicates, replays, reordering), make a subscription's next renewal
 * fail and run a renewal now, and wait for background deliveries.
 *
 * State is durable in Postgres, in schema `local_stripe` (created here, idempotently; never in public).
 *
 * One file per resource: customers.ts, checkout.ts, subscriptions.ts, invoices.ts, portal.ts, prices.ts, events.ts
 * (with webhooks.ts, their delivery) and control.ts; state.ts (settings, types), store.ts (rows), form.ts (parameters)
 * and http.ts (Stripe's JSON and error shape, the hosted pages' HTML) are shared. Routes are tables
 * (src/core/router.ts): the API's below, the hosted pages' and the controls' in `createStripeEmulator`.
 */
export async function createStripeEmulator(options: StripeEmulatorOptions): Promise<FetchHandler> {
  const s = createState(options);
  await ensureSchema(s);
  const control = controlRoutes(s);
  const apiTable = apiRoutes(s);
  const routes = dispatcher<URL>(
    "stripe emulator",
    {
      "* /v1/*": (req, _params, url) => api(s, apiTable, req, url),
      "* /stripe/__control/*": async (req, params) => {
        assertSecretKey(s, req);
        return control(req, `/${params["*"]!}`);
      },
      "GET /stripe/checkout/:id([A-Za-z0-9_]+)": (_req, params) => checkoutPage(s, params.id!),
      "POST /stripe/checkout/:id([A-Za-z0-9_]+)": async (req, params) => payCheckout(s, params.id!, new URLSearchParams(await req.text())),
      "GET /stripe/portal/:id([A-Za-z0-9_]+)": (_req, params) => portalPage(s, params.id!),
      "POST /stripe/portal/:id([A-Za-z0-9_]+)": async (req, params) => portalAction(s, params.id!, new URLSearchParams(await req.text())),
    },
    {
      // What a browser sees on a hosted page; the API and the controls answer in Stripe's error shape.
      notFound: () => page("Not found", "<h1>Not found</h1>", 404),
      methodNotAllowed: () => page("Method not allowed", "<h1>Method not allowed</h1>", 405),
      internal: () => stripeError(500, "api_error", "An unknown error occurred in the local Stripe emulator").response,
    },
  );
  return (req) => {
    const url = new URL(req.url);
    return routes(req, url.pathname, url);
  };
}

type ApiHandler = (ctx: RequestContext, path: Params, params: Json) => Promise<unknown>;

/** The API: each handler runs in the request's transaction, with the path's ids and the form's parameters. */
function apiRoutes(s: StripeState): Router<ApiHandler> {
  return router<ApiHandler>({
    "POST /v1/customers": (ctx, _path, params) => createCustomer(s, ctx, params),
    "GET /v1/customers/:id": async (ctx, path, params) => expand(s, ctx, await retrieve(s, ctx, "customer", path.id!), params),
    "POST /v1/customers/:id": (ctx, path, params) => updateCustomer(s, ctx, path.id!, params),
    "POST /v1/checkout/sessions": (ctx, _path, params) => createCheckoutSession(s, ctx, params),
    "GET /v1/checkout/sessions/:id": async (ctx, path, params) =>
      expand(s, ctx, await retrieve(s, ctx, "checkout.session", path.id!), params),
    "POST /v1/billing_portal/sessions": (ctx, _path, params) => createPortalSession(s, ctx, params),
    "GET /v1/subscriptions": (ctx, _path, params) => listSubscriptions(s, ctx, params),
    "GET /v1/subscriptions/:id": async (ctx, path, params) => expand(s, ctx, await retrieve(s, ctx, "subscription", path.id!), params),
    "POST /v1/subscriptions/:id": (ctx, path, params) => updateSubscription(s, ctx, path.id!, params),
    "DELETE /v1/subscriptions/:id": (ctx, path) => cancelSubscriptionNow(s, ctx, path.id!, "cancellation_requested"),
    "GET /v1/events/:id": (ctx, path) => retrieveEvent(ctx, path.id!),
  });
}

function assertSecretKey(s: StripeState, req: Request): void {
  const header = req.headers.get("authorization") ?? "";
  let key = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  const basic = /^Basic\s+(.+)$/i.exec(header)?.[1];
  if (!key && basic) key = Buffer.from(basic, "base64").toString("utf8").split(":")[0];
  if (!key) {
    throw stripeError(
      401,
      "invalid_request_error",
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    );
  }
  const given = Buffer.from(key);
  const expected = Buffer.from(s.options.secretKey);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw stripeError(401, "invalid_request_error", `Invalid API Key provided: ${key.slice(0, 8)}****${key.slice(-4)}`, "api_key_invalid");
  }
}

async function api(s: StripeState, routes: Router<ApiHandler>, req: Request, url: URL): Promise<Response> {
  assertSecretKey(s, req);
  const method = req.method.toUpperCase();
  // stripe-node sends parameters in the query string for GET and DELETE, form-encoded in the body for POST.
  const text = method === "POST" ? await req.text() : url.search.slice(1);
  const params = parseStripeForm(text);
  const found = routes.match(method, url.pathname);
  if (found.kind !== "found") {
    const status = found.kind === "not_found" ? 404 : 405;
    const headers = found.kind === "method_not_allowed" ? { allow: found.allow.join(", ") } : {};
    const message = `Unrecognized request URL (${method}: ${url.pathname}). The local Stripe emulator serves only the endpoints Amplify Scheduler calls.`;
    const res = stripeError(status, "invalid_request_error", message).response;
    for (const [name, value] of Object.entries(headers)) res.headers.set(name, value);
    return res;
  }
  const idempotencyKey = method === "POST" ? req.headers.get("idempotency-key") : null;
  const fingerprint = `${method} ${url.pathname} ${text}`;
  const deliver: string[] = [];
  const result = await s.sql.begin(async (tx) => {
    if (idempotencyKey) {
      await tx`select pg_advisory_xact_lock(hashtextextended(${"idem:" + idempotencyKey}, 0))`;
      const [seen] = await tx<{ fingerprint: string; status: number; body: string }[]>`
        select fingerprint, status, body from local_stripe.idempotency_keys where key = ${idempotencyKey}`;
      if (seen) {
        if (seen.fingerprint !== fingerprint) {
          throw stripeError(
            400,
            "idempotency_error",
            `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
          );
        }
        return { status: seen.status, body: JSON.parse(seen.body) as unknown, replayed: true };
      }
    }
    const body = await found.value({ tx, deliver }, found.params, params);
    if (idempotencyKey) {
      await tx`insert into local_stripe.idempotency_keys (key, fingerprint, status, body)
               values (${idempotencyKey}, ${fingerprint}, 200, ${JSON.stringify(body)})`;
    }
    return { status: 200, body, replayed: false };
  });
  // Events caused by API calls are delivered in the background, as Stripe does; the caller does not wait for them.
  if (deliver.length) void enqueue(s, deliver).catch(() => {});
  return stripeJson(result.status, result.body, result.replayed ? { "idempotent-replayed": "true" } : {});
}
