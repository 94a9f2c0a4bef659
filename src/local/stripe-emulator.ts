import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type postgres from "postgres";
import { addOns, plans } from "../billing/plans.js";
import { log } from "../core/log.js";
import type { FetchHandler } from "./server.js";

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
 * exactly as Stripe signs them (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`), to our real
 * webhook, with a couple of retries when it does not answer 2xx. The hosted pages deliver before they redirect, so
 * the page behaves as if Stripe were instant; changes made through the API deliver in the background, in order.
 *
 * Test controls live under `/stripe/__control/` (secret key required): list events, hold deliveries and release them
 * in any order, deliver chosen events again (duplicates, replays, reordering), make a subscription's next renewal
 * fail and run a renewal now, and wait for background deliveries.
 *
 * State is durable in Postgres, in schema `local_stripe` (created here, idempotently; never in public).
 */
export interface StripeEmulatorOptions {
  sql: postgres.Sql;
  secretKey: string;
  webhookSecret: string;
  /** Where signed events are sent: our real webhook function. */
  webhookUrl: string;
  /** The emulator's own base URL (the local server's origin). */
  baseUrl: string;
  /** Our plan/add-on name → the emulator's price id. */
  prices: Record<string, string>;
  /** Waits before each redelivery of an event the webhook did not accept (default: two retries, 200 ms then 1 s). */
  retryDelaysMs?: number[];
  /** How long one delivery may take before it counts as failed (default 10 s). */
  deliveryTimeoutMs?: number;
}

/** The API version our events claim: the one stripe-node 23.1.0 pins. */
const API_VERSION = "2026-10-28.endive";
const CHECKOUT_SESSION_SECONDS = 24 * 60 * 60;

type Tx = postgres.TransactionSql;
type Json = Record<string, unknown>;

interface StripeObject extends Json {
  id: string;
  object: string;
}

/** A Stripe API error, rendered as Stripe renders it. */
class StripeFault extends Error {
  constructor(
    readonly status: number,
    readonly type: "invalid_request_error" | "api_error" | "idempotency_error",
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

const missing = (what: string, id: string, param?: string) =>
  new StripeFault(404, "invalid_request_error", `No such ${what}: '${id}'`, "resource_missing", param);

const nowSeconds = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}_${randomBytes(18).toString("base64url").replace(/[-_]/g, "").slice(0, 24)}`;

function addMonth(seconds: number): number {
  const d = new Date(seconds * 1000);
  d.setUTCMonth(d.getUTCMonth() + 1);
  return Math.floor(d.getTime() / 1000);
}

// --- form-encoded parameters (what stripe-node sends: `a[b][0][c]=v`) ----------------------------------------------

/** Parses Stripe's bracketed form encoding into nested objects; objects keyed 0..n become arrays. */
export function parseStripeForm(text: string): Json {
  const root: Json = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const head = /^[^[]+/.exec(key)?.[0];
    if (!head) continue;
    const path = [head, ...[...key.slice(head.length).matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? "")];
    let node: Json = root;
    path.forEach((segment, i) => {
      const name = segment === "" ? String(Object.keys(node).length) : segment;
      if (i === path.length - 1) node[name] = value;
      else node = (node[name] ??= {}) as Json;
    });
  }
  return arrayify(root) as Json;
}

function arrayify(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value as Json).map(([k, v]) => [k, arrayify(v)] as const);
  const indexed = entries.length > 0 && entries.every(([k]) => /^\d+$/.test(k));
  if (!indexed) return Object.fromEntries(entries);
  return entries.sort((a, b) => Number(a[0]) - Number(b[0])).map(([, v]) => v);
}

function assertKnownParams(params: Json, allowed: string[]): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      throw new StripeFault(400, "invalid_request_error", `Received unknown parameter: ${key}`, "parameter_unknown", key);
    }
  }
}

function stringParam(params: Json, name: string, required = false): string | undefined {
  const value = params[name];
  if (value === undefined || value === "") {
    if (required) throw new StripeFault(400, "invalid_request_error", `Missing required param: ${name}.`, "parameter_missing", name);
    return undefined;
  }
  if (typeof value !== "string") throw new StripeFault(400, "invalid_request_error", `Invalid string: ${name}`, "parameter_invalid_string", name);
  return value;
}

function integerParam(value: unknown, param: string): number {
  if (typeof value !== "string" || !/^\d+$/.test(value)) {
    throw new StripeFault(400, "invalid_request_error", `Invalid integer: ${String(value)}`, "parameter_invalid_integer", param);
  }
  return Number(value);
}

function booleanParam(value: unknown, param: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new StripeFault(400, "invalid_request_error", `Invalid boolean: ${String(value)}`, "parameter_invalid_boolean", param);
}

function metadataParam(value: unknown, param: string): Record<string, string> {
  if (value === undefined || value === "") return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StripeFault(400, "invalid_request_error", `Invalid object: ${param}`, "parameter_invalid_object", param);
  }
  return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === "string" && v !== "")) as Record<string, string>;
}

// --- HTML -----------------------------------------------------------------------------------------------------------

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const pounds = (pence: number) => `£${(pence / 100).toFixed(2)}`;

function page(title: string, body: string, status = 200): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Stripe (local emulator)</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; background: #f6f9fc; color: #1a1f36; margin: 0; }
  main { max-width: 34rem; margin: 3rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 2px 8px #0001; }
  .badge { display: inline-block; background: #ffde92; color: #6a4400; padding: 0 .5rem; border-radius: 4px; font-size: 12px; }
  table { width: 100%; border-collapse: collapse; margin: 1rem 0; } td { padding: .4rem 0; border-bottom: 1px solid #e3e8ee; }
  td:last-child { text-align: right; } button { background: #635bff; color: #fff; border: 0; border-radius: 6px; padding: .6rem 1.2rem;
  font-size: 15px; cursor: pointer; margin: .25rem .25rem .25rem 0; } button.secondary { background: #e3e8ee; color: #1a1f36; }
  input { font-size: 15px; padding: .5rem; width: 100%; box-sizing: border-box; margin-bottom: 1rem; } form { display: inline; }
  section { border-top: 1px solid #e3e8ee; padding-top: 1rem; margin-top: 1rem; }
</style></head>
<body><main><p class="badge">Local Stripe emulator · test mode · no real money moves</p>
${body}
</main></body></html>`;
  return new Response(html, { status, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
}

// --- the emulator ---------------------------------------------------------------------------------------------------

export async function createStripeEmulator(options: StripeEmulatorOptions): Promise<FetchHandler> {
  const emulator = new StripeEmulator(options);
  await emulator.ensureSchema();
  return (req) => emulator.handle(req);
}

interface RequestContext {
  tx: Tx;
  /** Events emitted by this request that are to be delivered once it commits (held ones are not). */
  deliver: string[];
}

interface PriceInfo {
  name: string;
  label: string;
  unitAmount: number;
}

interface LineItemInput {
  price: string;
  quantity: number;
}

class StripeEmulator {
  private readonly sql: postgres.Sql;
  private readonly baseUrl: string;
  private readonly priceInfo = new Map<string, PriceInfo>();
  private readonly retryDelaysMs: number[];
  private readonly deliveryTimeoutMs: number;
  /** When true, new events are stored as `held` and wait for a control call to deliver them. */
  private holding = false;
  /** Background deliveries run one after another, in the order their events were created. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: StripeEmulatorOptions) {
    this.sql = options.sql;
    this.baseUrl = options.baseUrl.replace(/\/$/, "");
    this.retryDelaysMs = options.retryDelaysMs ?? [200, 1000];
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 10_000;
    for (const [name, priceId] of Object.entries(options.prices)) {
      const plan = (plans as Record<string, { name: string; pricePence: number }>)[name];
      const addOn = (addOns as Record<string, { name: string; pricePence: number }>)[name];
      this.priceInfo.set(priceId, {
        name,
        label: plan ? `${plan.name} plan` : (addOn?.name ?? name),
        unitAmount: plan?.pricePence ?? addOn?.pricePence ?? 0,
      });
    }
  }

  async ensureSchema(): Promise<void> {
    await this.sql.begin(async (tx) => {
      // Serialises emulators starting at once on one database (concurrent `create ... if not exists` can collide).
      await tx`select pg_advisory_xact_lock(727002)`;
      await tx.unsafe(`
        create schema if not exists local_stripe;
        create table if not exists local_stripe.objects (
          id text primary key,
          object text not null,
          customer text,
          data jsonb not null,
          internal jsonb not null default '{}'::jsonb,
          created_at timestamptz not null default now()
        );
        create index if not exists objects_customer_idx on local_stripe.objects (customer, object);
        create table if not exists local_stripe.events (
          seq bigserial unique,
          id text primary key,
          type text not null,
          payload text not null,
          status text not null default 'pending',
          attempts integer not null default 0,
          last_response_status integer,
          created_at timestamptz not null default now()
        );
        create table if not exists local_stripe.idempotency_keys (
          key text primary key,
          fingerprint text not null,
          status integer not null,
          body text not null,
          created_at timestamptz not null default now()
        );`);
    });
  }

  async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    try {
      if (path.startsWith("/v1/")) return await this.api(req, url);
      if (path.startsWith("/stripe/__control/")) return await this.control(req, path.slice("/stripe/__control".length));
      const checkout = /^\/stripe\/checkout\/([A-Za-z0-9_]+)\/?$/.exec(path);
      if (checkout) return await this.checkoutPage(req, checkout[1]!);
      const portal = /^\/stripe\/portal\/([A-Za-z0-9_]+)\/?$/.exec(path);
      if (portal) return await this.portalPage(req, portal[1]!);
      return page("Not found", "<h1>Not found</h1>", 404);
    } catch (error) {
      if (error instanceof StripeFault) return this.errorResponse(error);
      log.error("stripe emulator error", { path: new URL(req.url).pathname, error });
      return this.errorResponse(new StripeFault(500, "api_error", "An unknown error occurred in the local Stripe emulator"));
    }
  }

  private json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", "request-id": newId("req"), "stripe-version": API_VERSION, ...headers },
    });
  }

  private errorResponse(e: StripeFault): Response {
    const error: Json = { type: e.type, message: e.message };
    if (e.code) error.code = e.code;
    if (e.param) error.param = e.param;
    if (e.code) error.doc_url = `https://docs.stripe.com/error-codes/${e.code.replace(/_/g, "-")}`;
    return this.json(e.status, { error });
  }

  // --- the API ------------------------------------------------------------------------------------------------------

  private assertSecretKey(req: Request): void {
    const header = req.headers.get("authorization") ?? "";
    let key = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    const basic = /^Basic\s+(.+)$/i.exec(header)?.[1];
    if (!key && basic) key = Buffer.from(basic, "base64").toString("utf8").split(":")[0];
    if (!key) {
      throw new StripeFault(
        401,
        "invalid_request_error",
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      );
    }
    const given = Buffer.from(key);
    const expected = Buffer.from(this.options.secretKey);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new StripeFault(401, "invalid_request_error", `Invalid API Key provided: ${key.slice(0, 8)}****${key.slice(-4)}`, "api_key_invalid");
    }
  }

  private async api(req: Request, url: URL): Promise<Response> {
    this.assertSecretKey(req);
    const method = req.method.toUpperCase();
    // stripe-node sends parameters in the query string for GET and DELETE, form-encoded in the body for POST.
    const text = method === "POST" ? await req.text() : url.search.slice(1);
    const params = parseStripeForm(text);
    const idempotencyKey = method === "POST" ? req.headers.get("idempotency-key") : null;
    const fingerprint = `${method} ${url.pathname} ${text}`;
    const deliver: string[] = [];
    const result = await this.sql.begin(async (tx) => {
      if (idempotencyKey) {
        await tx`select pg_advisory_xact_lock(hashtextextended(${"idem:" + idempotencyKey}, 0))`;
        const [seen] = await tx<{ fingerprint: string; status: number; body: string }[]>`
          select fingerprint, status, body from local_stripe.idempotency_keys where key = ${idempotencyKey}`;
        if (seen) {
          if (seen.fingerprint !== fingerprint) {
            throw new StripeFault(
              400,
              "idempotency_error",
              `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
            );
          }
          return { status: seen.status, body: JSON.parse(seen.body) as unknown, replayed: true };
        }
      }
      const ctx: RequestContext = { tx, deliver };
      const body = await this.route(ctx, method, url.pathname, params);
      if (idempotencyKey) {
        await tx`insert into local_stripe.idempotency_keys (key, fingerprint, status, body)
                 values (${idempotencyKey}, ${fingerprint}, 200, ${JSON.stringify(body)})`;
      }
      return { status: 200, body, replayed: false };
    });
    // Events caused by API calls are delivered in the background, as Stripe does; the caller does not wait for them.
    if (deliver.length) void this.enqueue(deliver).catch(() => {});
    return this.json(result.status, result.body, result.replayed ? { "idempotent-replayed": "true" } : {});
  }

  private async route(ctx: RequestContext, method: string, path: string, params: Json): Promise<unknown> {
    const p = path.replace(/\/$/, "");
    const one = (re: RegExp) => re.exec(p)?.[1];
    let id: string | undefined;
    if (p === "/v1/customers" && method === "POST") return this.createCustomer(ctx, params);
    if ((id = one(/^\/v1\/customers\/([^/]+)$/))) {
      if (method === "GET") return this.expand(ctx, await this.retrieve(ctx, "customer", id), params);
      if (method === "POST") return this.updateCustomer(ctx, id, params);
    }
    if (p === "/v1/checkout/sessions" && method === "POST") return this.createCheckoutSession(ctx, params);
    if ((id = one(/^\/v1\/checkout\/sessions\/([^/]+)$/)) && method === "GET") {
      return this.expand(ctx, await this.retrieve(ctx, "checkout.session", id), params);
    }
    if (p === "/v1/billing_portal/sessions" && method === "POST") return this.createPortalSession(ctx, params);
    if (p === "/v1/subscriptions" && method === "GET") return this.listSubscriptions(ctx, params);
    if ((id = one(/^\/v1\/subscriptions\/([^/]+)$/))) {
      if (method === "GET") return this.expand(ctx, await this.retrieve(ctx, "subscription", id), params);
      if (method === "POST") return this.updateSubscription(ctx, id, params);
      if (method === "DELETE") return this.cancelSubscriptionNow(ctx, id, "cancellation_requested");
    }
    if ((id = one(/^\/v1\/events\/([^/]+)$/)) && method === "GET") {
      const [row] = await ctx.tx<{ payload: string }[]>`select payload from local_stripe.events where id = ${id}`;
      if (!row) throw missing("event", id, "id");
      return JSON.parse(row.payload) as unknown;
    }
    throw new StripeFault(
      404,
      "invalid_request_error",
      `Unrecognized request URL (${method}: ${path}). The local Stripe emulator serves only the endpoints Amplify Scheduler calls.`,
    );
  }

  // --- storage ------------------------------------------------------------------------------------------------------

  private async insert(ctx: RequestContext, data: StripeObject, internal: Json = {}): Promise<void> {
    const customer = typeof data.customer === "string" ? data.customer : data.object === "customer" ? data.id : null;
    await ctx.tx`insert into local_stripe.objects (id, object, customer, data, internal)
                 values (${data.id}, ${data.object}, ${customer}, ${JSON.stringify(data)}::text::jsonb, ${JSON.stringify(internal)}::text::jsonb)`;
  }

  private async save(ctx: RequestContext, data: StripeObject, internal?: Json): Promise<void> {
    const customer = typeof data.customer === "string" ? data.customer : data.object === "customer" ? data.id : null;
    await ctx.tx`update local_stripe.objects set data = ${JSON.stringify(data)}::text::jsonb, customer = ${customer},
                 internal = coalesce(${internal === undefined ? null : JSON.stringify(internal)}::text::jsonb, internal)
                 where id = ${data.id}`;
  }

  private async load<T extends StripeObject>(ctx: RequestContext, object: string, id: string, lock = false) {
    const rows = lock
      ? await ctx.tx<{ data: T; internal: Json }[]>`select data, internal from local_stripe.objects where id = ${id} and object = ${object} for update`
      : await ctx.tx<{ data: T; internal: Json }[]>`select data, internal from local_stripe.objects where id = ${id} and object = ${object}`;
    return rows[0];
  }

  private async retrieve(ctx: RequestContext, object: string, id: string, param = "id"): Promise<StripeObject> {
    const found = await this.load(ctx, object, id);
    if (!found) throw missing(object, id, param);
    return found.data;
  }

  /** `expand[]` for the top-level references we hold (customer, subscription, latest_invoice, invoice). */
  private async expand(ctx: RequestContext, data: StripeObject, params: Json): Promise<StripeObject> {
    const expand = params.expand === undefined ? [] : Array.isArray(params.expand) ? params.expand : [params.expand];
    const out: StripeObject = { ...data };
    for (const field of expand) {
      const kinds: Record<string, string> = { customer: "customer", subscription: "subscription", latest_invoice: "invoice", invoice: "invoice" };
      const kind = typeof field === "string" ? kinds[field] : undefined;
      if (!kind) continue;
      const ref = out[field as string];
      if (typeof ref === "string") out[field as string] = (await this.load(ctx, kind, ref))?.data ?? ref;
    }
    return out;
  }

  // --- events -------------------------------------------------------------------------------------------------------

  /** Records an event; it is delivered after the request commits unless deliveries are being held. */
  private async emit(ctx: RequestContext, type: string, object: StripeObject, previous?: Json): Promise<void> {
    const event = {
      id: newId("evt"),
      object: "event",
      api_version: API_VERSION,
      created: nowSeconds(),
      data: previous ? { object, previous_attributes: previous } : { object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    };
    const status = this.holding ? "held" : "pending";
    await ctx.tx`insert into local_stripe.events (id, type, payload, status)
                 values (${event.id}, ${type}, ${JSON.stringify(event)}, ${status})`;
    if (!this.holding) ctx.deliver.push(event.id);
  }

  /** Queues deliveries behind those already queued; resolves when these have been delivered (or given up on). */
  private enqueue(ids: string[]) {
    const run = this.queue.then(() => this.deliverInOrder(ids));
    this.queue = run.catch(() => {});
    return run;
  }

  private async deliverInOrder(ids: string[]) {
    const results: { id: string; type: string; status: "delivered" | "failed"; responseStatus: number | null }[] = [];
    for (const id of ids) results.push(await this.deliver(id));
    return results;
  }

  /** Sends one event, signed as Stripe signs it, retrying a couple of times unless the webhook answers 2xx. */
  private async deliver(id: string) {
    const [row] = await this.sql<{ type: string; payload: string }[]>`select type, payload from local_stripe.events where id = ${id}`;
    if (!row) throw missing("event", id);
    let responseStatus: number | null = null;
    let attempts = 0;
    for (;;) {
      attempts += 1;
      responseStatus = await this.post(row.payload);
      const ok = responseStatus !== null && responseStatus >= 200 && responseStatus < 300;
      const delay = this.retryDelaysMs[attempts - 1];
      if (ok || delay === undefined) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    const status = responseStatus !== null && responseStatus >= 200 && responseStatus < 300 ? "delivered" : "failed";
    await this.sql`update local_stripe.events
                   set status = ${status}, attempts = attempts + ${attempts}, last_response_status = ${responseStatus}
                   where id = ${id}`;
    if (status === "failed") log.warn("stripe emulator: webhook did not accept event", { id, type: row.type, responseStatus });
    return { id, type: row.type, status, responseStatus } as const;
  }

  private async post(payload: string): Promise<number | null> {
    const timestamp = nowSeconds();
    const signature = createHmac("sha256", this.options.webhookSecret).update(`${timestamp}.${payload}`).digest("hex");
    try {
      const res = await fetch(this.options.webhookUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "stripe-signature": `t=${timestamp},v1=${signature}`,
          "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
        body: payload,
        redirect: "manual",
        signal: AbortSignal.timeout(this.deliveryTimeoutMs),
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return null;
    }
  }

  // --- prices -------------------------------------------------------------------------------------------------------

  private price(priceId: string, param: string): StripeObject {
    const info = this.priceInfo.get(priceId);
    if (!info) throw missing("price", priceId, param);
    return {
      id: priceId,
      object: "price",
      active: true,
      billing_scheme: "per_unit",
      created: 1_700_000_000,
      currency: "gbp",
      custom_unit_amount: null,
      livemode: false,
      lookup_key: info.name,
      metadata: {},
      nickname: info.label,
      product: `prod_local_${info.name}`,
      recurring: { interval: "month", interval_count: 1, meter: null, usage_type: "licensed" },
      tax_behavior: "unspecified",
      tiers_mode: null,
      transform_quantity: null,
      type: "recurring",
      unit_amount: info.unitAmount,
      unit_amount_decimal: String(info.unitAmount),
    };
  }

  private lineItemsParam(value: unknown): LineItemInput[] {
    if (!Array.isArray(value) || value.length === 0) {
      throw new StripeFault(400, "invalid_request_error", "Missing required param: line_items.", "parameter_missing", "line_items");
    }
    return value.map((raw, i) => {
      const item = (raw ?? {}) as Json;
      assertKnownParams(item, ["price", "quantity"]);
      const price = stringParam(item, "price");
      if (!price) throw new StripeFault(400, "invalid_request_error", `Missing required param: line_items[${i}][price].`, "parameter_missing", `line_items[${i}][price]`);
      this.price(price, `line_items[${i}][price]`);
      const quantity = item.quantity === undefined ? 1 : integerParam(item.quantity, `line_items[${i}][quantity]`);
      if (quantity < 1) throw new StripeFault(400, "invalid_request_error", "Quantity must be at least 1.", "parameter_invalid_integer", `line_items[${i}][quantity]`);
      return { price, quantity };
    });
  }

  // --- customers ----------------------------------------------------------------------------------------------------

  private async createCustomer(ctx: RequestContext, params: Json): Promise<StripeObject> {
    assertKnownParams(params, ["email", "name", "description", "metadata", "expand"]);
    const customer: StripeObject = {
      id: newId("cus"),
      object: "customer",
      address: null,
      balance: 0,
      created: nowSeconds(),
      currency: null,
      default_source: null,
      delinquent: false,
      description: stringParam(params, "description") ?? null,
      discount: null,
      email: stringParam(params, "email") ?? null,
      invoice_prefix: randomBytes(4).toString("hex").toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false,
      metadata: metadataParam(params.metadata, "metadata"),
      name: stringParam(params, "name") ?? null,
      next_invoice_sequence: 1,
      phone: null,
      preferred_locales: [],
      shipping: null,
      tax_exempt: "none",
      test_clock: null,
    };
    await this.insert(ctx, customer);
    return customer;
  }

  private async updateCustomer(ctx: RequestContext, id: string, params: Json): Promise<StripeObject> {
    assertKnownParams(params, ["email", "name", "description", "metadata", "expand"]);
    const found = await this.load(ctx, "customer", id, true);
    if (!found) throw missing("customer", id, "id");
    const customer = { ...found.data };
    for (const field of ["email", "name", "description"]) if (params[field] !== undefined) customer[field] = stringParam(params, field) ?? null;
    if (params.metadata !== undefined) customer.metadata = { ...(customer.metadata as Json), ...metadataParam(params.metadata, "metadata") };
    await this.save(ctx, customer);
    return customer;
  }

  // --- checkout -----------------------------------------------------------------------------------------------------

  private async createCheckoutSession(ctx: RequestContext, params: Json): Promise<StripeObject> {
    assertKnownParams(params, [
      "mode",
      "line_items",
      "customer",
      "customer_email",
      "client_reference_id",
      "success_url",
      "cancel_url",
      "metadata",
      "subscription_data",
      "expand",
    ]);
    const mode = stringParam(params, "mode", true);
    if (mode !== "subscription") {
      throw new StripeFault(400, "invalid_request_error", "The local Stripe emulator supports mode=subscription only.", "parameter_invalid_string", "mode");
    }
    const lineItems = this.lineItemsParam(params.line_items);
    const customer = stringParam(params, "customer");
    if (customer) await this.retrieve(ctx, "customer", customer, "customer");
    const subscriptionData = (params.subscription_data ?? {}) as Json;
    assertKnownParams(subscriptionData, ["metadata", "description"]);
    const created = nowSeconds();
    const id = newId("cs_test");
    const amount = lineItems.reduce((sum, li) => sum + this.priceInfo.get(li.price)!.unitAmount * li.quantity, 0);
    const session: StripeObject = {
      id,
      object: "checkout.session",
      after_expiration: null,
      allow_promotion_codes: null,
      amount_subtotal: amount,
      amount_total: amount,
      billing_address_collection: null,
      cancel_url: stringParam(params, "cancel_url") ?? null,
      client_reference_id: stringParam(params, "client_reference_id") ?? null,
      created,
      currency: "gbp",
      customer: customer ?? null,
      customer_creation: customer ? null : "always",
      customer_details: null,
      customer_email: stringParam(params, "customer_email") ?? null,
      expires_at: created + CHECKOUT_SESSION_SECONDS,
      invoice: null,
      livemode: false,
      locale: null,
      metadata: metadataParam(params.metadata, "metadata"),
      mode,
      payment_method_types: ["card"],
      payment_status: "unpaid",
      status: "open",
      subscription: null,
      success_url: stringParam(params, "success_url", true),
      ui_mode: "hosted",
      url: `${this.baseUrl}/stripe/checkout/${id}`,
    };
    await this.insert(ctx, session, {
      line_items: lineItems,
      subscription_metadata: metadataParam(subscriptionData.metadata, "subscription_data[metadata]"),
    });
    return session;
  }

  private async checkoutPage(req: Request, id: string): Promise<Response> {
    if (req.method === "POST") return this.payCheckout(id, new URLSearchParams(await req.text()));
    if (req.method !== "GET") return page("Method not allowed", "<h1>Method not allowed</h1>", 405);
    const view = await this.sql.begin(async (tx) => this.load<StripeObject>({ tx, deliver: [] }, "checkout.session", id));
    if (!view) return page("Not found", "<h1>This checkout link is not valid</h1>", 404);
    const session = view.data;
    if (session.status === "complete") {
      return page("Paid", `<h1>Already paid</h1><p><a href="${escapeHtml(this.successUrl(session))}">Continue</a></p>`);
    }
    const items = view.internal.line_items as LineItemInput[];
    const rows = items
      .map((li) => {
        const info = this.priceInfo.get(li.price)!;
        return `<tr><td>${escapeHtml(info.label)}${li.quantity > 1 ? ` × ${li.quantity}` : ""}</td><td>${pounds(info.unitAmount * li.quantity)} / month</td></tr>`;
      })
      .join("");
    const total = pounds(Number(session.amount_total));
    const email = session.customer
      ? ""
      : `<label>Email<input name="email" type="email" value="${escapeHtml(String(session.customer_email ?? ""))}" required></label>`;
    const cancel = session.cancel_url ? ` <a href="${escapeHtml(String(session.cancel_url))}">Cancel</a>` : "";
    return page(
      "Checkout",
      `<h1>Subscribe to Amplify Scheduler</h1>
<table>${rows}<tr><td><strong>Total due today</strong></td><td><strong>${total}</strong></td></tr></table>
<p>Billed monthly. No trial: the first month is charged now.</p>
<form method="post">${email}<button type="submit">Pay ${total}</button></form>${cancel}`,
    );
  }

  private successUrl(session: StripeObject): string {
    return String(session.success_url).replaceAll("{CHECKOUT_SESSION_ID}", session.id);
  }

  /** Paying: customer (if needed), an active subscription with a paid first invoice, the session completed. */
  private async payCheckout(id: string, form: URLSearchParams): Promise<Response> {
    const deliver: string[] = [];
    const outcome = await this.sql.begin(async (tx) => {
      const ctx: RequestContext = { tx, deliver };
      const found = await this.load<StripeObject>(ctx, "checkout.session", id, true);
      if (!found) return { kind: "missing" as const };
      const session = { ...found.data };
      if (session.status === "complete") return { kind: "paid" as const, session };
      if (session.status !== "open" || Number(session.expires_at) < nowSeconds()) return { kind: "expired" as const };
      let customerId = typeof session.customer === "string" ? session.customer : undefined;
      if (!customerId) {
        const email = form.get("email") || (session.customer_email as string | null) || undefined;
        customerId = (await this.createCustomer(ctx, email ? { email } : {})).id;
      }
      const customer = (await this.load<StripeObject>(ctx, "customer", customerId))!.data;
      const { subscription, invoice } = await this.startSubscription(
        ctx,
        customerId,
        found.internal.line_items as LineItemInput[],
        (found.internal.subscription_metadata as Record<string, string>) ?? {},
      );
      Object.assign(session, {
        status: "complete",
        payment_status: "paid",
        customer: customerId,
        customer_details: { email: customer.email ?? null, name: customer.name ?? null, address: null, phone: null, tax_exempt: "none", tax_ids: [] },
        subscription: subscription.id,
        invoice: invoice.id,
      });
      await this.save(ctx, session);
      await this.emit(ctx, "checkout.session.completed", session);
      await this.emit(ctx, "customer.subscription.created", subscription);
      await this.emit(ctx, "invoice.paid", invoice);
      return { kind: "paid" as const, session };
    });
    if (outcome.kind === "missing") return page("Not found", "<h1>This checkout link is not valid</h1>", 404);
    if (outcome.kind === "expired") return page("Expired", "<h1>This checkout session has expired</h1>", 410);
    if (deliver.length) await this.enqueue(deliver);
    return new Response(null, { status: 303, headers: { location: this.successUrl(outcome.session) } });
  }

  private subscriptionItem(subscriptionId: string, li: LineItemInput, start: number, end: number): StripeObject {
    const price = this.price(li.price, "price");
    return {
      id: newId("si"),
      object: "subscription_item",
      billing_thresholds: null,
      created: start,
      current_period_end: end,
      current_period_start: start,
      discounts: [],
      metadata: {},
      plan: {
        id: price.id,
        object: "plan",
        active: true,
        amount: price.unit_amount,
        billing_scheme: "per_unit",
        currency: "gbp",
        interval: "month",
        interval_count: 1,
        livemode: false,
        product: price.product,
        usage_type: "licensed",
      },
      price,
      quantity: li.quantity,
      subscription: subscriptionId,
      tax_rates: [],
    };
  }

  private async startSubscription(ctx: RequestContext, customerId: string, lineItems: LineItemInput[], metadata: Record<string, string>) {
    const start = nowSeconds();
    const end = addMonth(start);
    const id = newId("sub");
    const items = lineItems.map((li) => this.subscriptionItem(id, li, start, end));
    const subscription: StripeObject = {
      id,
      object: "subscription",
      application: null,
      application_fee_percent: null,
      automatic_tax: { disabled_reason: null, enabled: false, liability: null },
      billing_cycle_anchor: start,
      billing_cycle_anchor_config: null,
      billing_mode: { flexible: null, type: "classic" },
      cancel_at: null,
      cancel_at_period_end: false,
      canceled_at: null,
      cancellation_details: { comment: null, feedback: null, reason: null },
      collection_method: "charge_automatically",
      created: start,
      currency: "gbp",
      customer: customerId,
      days_until_due: null,
      default_payment_method: `pm_local_card_${customerId.slice(4, 12)}`,
      default_source: null,
      default_tax_rates: [],
      description: null,
      discounts: [],
      ended_at: null,
      invoice_settings: { account_tax_ids: null, issuer: { type: "self" } },
      items: { object: "list", data: items, has_more: false, total_count: items.length, url: `/v1/subscription_items?subscription=${id}` },
      latest_invoice: null,
      livemode: false,
      metadata,
      next_pending_invoice_item_invoice: null,
      on_behalf_of: null,
      pause_collection: null,
      payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: "off" },
      pending_invoice_item_interval: null,
      pending_setup_intent: null,
      pending_update: null,
      schedule: null,
      start_date: start,
      status: "active",
      test_clock: null,
      transfer_data: null,
      trial_end: null,
      trial_settings: { end_behavior: { missing_payment_method: "create_invoice" } },
      trial_start: null,
    };
    const invoice = await this.createInvoice(ctx, subscription, "subscription_create", true);
    subscription.latest_invoice = invoice.id;
    await this.insert(ctx, subscription, { fail_next_renewal: false });
    return { subscription, invoice };
  }

  private async createInvoice(ctx: RequestContext, sub: StripeObject, reason: string, paid: boolean): Promise<StripeObject> {
    const items = (sub.items as { data: StripeObject[] }).data;
    const customer = (await this.load<StripeObject>(ctx, "customer", String(sub.customer)))?.data;
    const id = newId("in");
    const now = nowSeconds();
    const lines = items.map((item) => {
      const price = item.price as StripeObject;
      const quantity = Number(item.quantity ?? 1);
      const amount = Number(price.unit_amount) * quantity;
      return {
        id: newId("il"),
        object: "line_item",
        amount,
        currency: "gbp",
        description: `${quantity} × ${String(price.nickname)} (at ${pounds(Number(price.unit_amount))} / month)`,
        discountable: true,
        discounts: [],
        invoice: id,
        livemode: false,
        metadata: {},
        parent: {
          invoice_item_details: null,
          subscription_item_details: { invoice_item: null, proration: false, proration_details: null, subscription: sub.id, subscription_item: item.id },
          type: "subscription_item_details",
        },
        period: { end: item.current_period_end, start: item.current_period_start },
        pricing: { price_details: { price: price.id, product: price.product }, type: "price_details", unit_amount_decimal: String(price.unit_amount) },
        quantity,
        taxes: [],
      };
    });
    const total = lines.reduce((sum, l) => sum + l.amount, 0);
    const first = items[0];
    const invoice: StripeObject = {
      id,
      object: "invoice",
      account_country: "GB",
      account_name: "Amplify Scheduler (local)",
      amount_due: total,
      amount_paid: paid ? total : 0,
      amount_remaining: paid ? 0 : total,
      attempt_count: 1,
      attempted: true,
      auto_advance: !paid,
      billing_reason: reason,
      collection_method: "charge_automatically",
      created: now,
      currency: "gbp",
      customer: sub.customer,
      customer_email: customer?.email ?? null,
      hosted_invoice_url: null,
      lines: { object: "list", data: lines, has_more: false, total_count: lines.length, url: `/v1/invoices/${id}/lines` },
      livemode: false,
      metadata: {},
      next_payment_attempt: paid ? null : now + 3 * 24 * 60 * 60,
      number: `${String(customer?.invoice_prefix ?? "LOCAL")}-${String(Date.now()).slice(-4)}`,
      parent: {
        quote_details: null,
        subscription_details: { metadata: sub.metadata, subscription: sub.id },
        type: "subscription_details",
      },
      period_end: first?.current_period_end ?? now,
      period_start: first?.current_period_start ?? now,
      status: paid ? "paid" : "open",
      status_transitions: { finalized_at: now, marked_uncollectible_at: null, paid_at: paid ? now : null, voided_at: null },
      subtotal: total,
      total,
    };
    await this.insert(ctx, invoice);
    return invoice;
  }

  // --- subscriptions ------------------------------------------------------------------------------------------------

  private async listSubscriptions(ctx: RequestContext, params: Json): Promise<unknown> {
    assertKnownParams(params, ["customer", "status", "limit", "expand"]);
    const customer = stringParam(params, "customer");
    const status = stringParam(params, "status");
    const limit = params.limit === undefined ? 10 : Math.min(100, integerParam(params.limit, "limit"));
    const rows = await ctx.tx<{ data: StripeObject }[]>`
      select data from local_stripe.objects
      where object = 'subscription' and ${customer ? ctx.tx`customer = ${customer}` : ctx.tx`true`}
      order by (data ->> 'created')::bigint desc, id desc`;
    const all = rows
      .map((r) => r.data)
      .filter((s) => (status && status !== "all" ? s.status === status : status === "all" || s.status !== "canceled"));
    return { object: "list", data: all.slice(0, limit), has_more: all.length > limit, url: "/v1/subscriptions" };
  }

  private async lockSubscription(ctx: RequestContext, id: string) {
    const found = await this.load<StripeObject>(ctx, "subscription", id, true);
    if (!found) throw missing("subscription", id, "id");
    return { subscription: structuredClone(found.data), internal: found.internal };
  }

  private assertNotEnded(sub: StripeObject): void {
    if (sub.status === "canceled" || sub.status === "incomplete_expired") {
      throw new StripeFault(400, "invalid_request_error", "A canceled subscription can only update its cancellation_details and metadata.");
    }
  }

  private async updateSubscription(ctx: RequestContext, id: string, params: Json): Promise<StripeObject> {
    assertKnownParams(params, ["cancel_at_period_end", "metadata", "items", "proration_behavior", "expand"]);
    const { subscription: sub } = await this.lockSubscription(ctx, id);
    this.assertNotEnded(sub);
    const previous: Json = {};
    if (params.cancel_at_period_end !== undefined) {
      this.setCancelAtPeriodEnd(sub, booleanParam(params.cancel_at_period_end, "cancel_at_period_end"), previous);
    }
    if (params.metadata !== undefined) {
      previous.metadata = sub.metadata;
      sub.metadata = { ...(sub.metadata as Json), ...metadataParam(params.metadata, "metadata") };
    }
    if (params.items !== undefined) this.updateItems(sub, params.items, previous);
    await this.save(ctx, sub);
    if (Object.keys(previous).length) await this.emit(ctx, "customer.subscription.updated", sub, previous);
    return sub;
  }

  private setCancelAtPeriodEnd(sub: StripeObject, cancel: boolean, previous: Json): void {
    if (sub.cancel_at_period_end === cancel) return;
    Object.assign(previous, { cancel_at_period_end: sub.cancel_at_period_end, cancel_at: sub.cancel_at, canceled_at: sub.canceled_at });
    const periodEnd = (sub.items as { data: StripeObject[] }).data[0]?.current_period_end ?? null;
    Object.assign(sub, {
      cancel_at_period_end: cancel,
      cancel_at: cancel ? periodEnd : null,
      canceled_at: cancel ? nowSeconds() : null,
      cancellation_details: { comment: null, feedback: null, reason: cancel ? "cancellation_requested" : null },
    });
  }

  /** `items[n][id|price|quantity|deleted]`: change an item's price or quantity, add an item, or remove one. */
  private updateItems(sub: StripeObject, raw: unknown, previous: Json): void {
    if (!Array.isArray(raw)) throw new StripeFault(400, "invalid_request_error", "Invalid array", "parameter_invalid_array", "items");
    const list = sub.items as { data: StripeObject[]; total_count: number };
    previous.items = structuredClone(sub.items);
    const template = list.data[0];
    raw.forEach((entry, i) => {
      const change = (entry ?? {}) as Json;
      assertKnownParams(change, ["id", "price", "quantity", "deleted"]);
      const itemId = stringParam(change, "id");
      const existing = itemId ? list.data.find((it) => it.id === itemId) : undefined;
      if (itemId && !existing) throw missing("subscription_item", itemId, `items[${i}][id]`);
      if (existing && change.deleted !== undefined && booleanParam(change.deleted, `items[${i}][deleted]`)) {
        list.data = list.data.filter((it) => it !== existing);
        return;
      }
      const priceId = stringParam(change, "price");
      const quantity = change.quantity === undefined ? undefined : integerParam(change.quantity, `items[${i}][quantity]`);
      if (existing) {
        if (priceId) {
          existing.price = this.price(priceId, `items[${i}][price]`);
          (existing.plan as Json).id = priceId;
          (existing.plan as Json).amount = (existing.price as Json).unit_amount;
        }
        if (quantity !== undefined) existing.quantity = quantity;
        return;
      }
      if (!priceId) throw new StripeFault(400, "invalid_request_error", `Missing required param: items[${i}][price].`, "parameter_missing", `items[${i}][price]`);
      const start = Number(template?.current_period_start ?? nowSeconds());
      const end = Number(template?.current_period_end ?? addMonth(start));
      list.data.push(this.subscriptionItem(sub.id, { price: priceId, quantity: quantity ?? 1 }, start, end));
    });
    list.total_count = list.data.length;
  }

  private async cancelSubscriptionNow(ctx: RequestContext, id: string, reason: string): Promise<StripeObject> {
    const { subscription: sub } = await this.lockSubscription(ctx, id);
    this.assertNotEnded(sub);
    const now = nowSeconds();
    Object.assign(sub, {
      status: "canceled",
      canceled_at: sub.canceled_at ?? now,
      ended_at: now,
      cancellation_details: { comment: null, feedback: null, reason },
    });
    await this.save(ctx, sub);
    await this.emit(ctx, "customer.subscription.deleted", sub);
    return sub;
  }

  /**
   * The end of a billing period, now: a subscription set to cancel ends; a past_due one retries its open invoice;
   * otherwise every item moves to the next month and a new invoice is paid, or fails when a failure was requested
   * (status `past_due`, `invoice.payment_failed`).
   */
  private async renew(ctx: RequestContext, id: string): Promise<StripeObject> {
    const { subscription: sub, internal } = await this.lockSubscription(ctx, id);
    this.assertNotEnded(sub);
    const fail = internal.fail_next_renewal === true;
    if (sub.cancel_at_period_end === true) {
      const ended = await this.cancelSubscriptionNow(ctx, id, "cancellation_requested");
      return ended;
    }
    const previous: Json = { status: sub.status };
    let invoice: StripeObject;
    if (sub.status === "past_due" && typeof sub.latest_invoice === "string") {
      const open = (await this.load<StripeObject>(ctx, "invoice", sub.latest_invoice, true))!.data;
      invoice = { ...open, attempt_count: Number(open.attempt_count) + 1 };
      if (!fail) {
        const now = nowSeconds();
        Object.assign(invoice, {
          status: "paid",
          amount_paid: invoice.amount_due,
          amount_remaining: 0,
          next_payment_attempt: null,
          status_transitions: { ...(invoice.status_transitions as Json), paid_at: now },
        });
      }
      await this.save(ctx, invoice);
    } else {
      previous.items = structuredClone(sub.items);
      for (const item of (sub.items as { data: StripeObject[] }).data) {
        const start = Number(item.current_period_end);
        Object.assign(item, { current_period_start: start, current_period_end: addMonth(start) });
      }
      invoice = await this.createInvoice(ctx, sub, "subscription_cycle", !fail);
      previous.latest_invoice = sub.latest_invoice;
      sub.latest_invoice = invoice.id;
    }
    sub.status = fail ? "past_due" : "active";
    await this.save(ctx, sub, { ...internal, fail_next_renewal: false });
    await this.emit(ctx, fail ? "invoice.payment_failed" : "invoice.paid", invoice);
    if (previous.status === sub.status) delete previous.status;
    if (Object.keys(previous).length) await this.emit(ctx, "customer.subscription.updated", sub, previous);
    return sub;
  }

  // --- billing portal -----------------------------------------------------------------------------------------------

  private async createPortalSession(ctx: RequestContext, params: Json): Promise<StripeObject> {
    assertKnownParams(params, ["customer", "return_url", "locale", "configuration", "expand"]);
    const customer = stringParam(params, "customer", true)!;
    await this.retrieve(ctx, "customer", customer, "customer");
    const id = newId("bps");
    const session: StripeObject = {
      id,
      object: "billing_portal.session",
      configuration: "bpc_local_default",
      created: nowSeconds(),
      customer,
      flow: null,
      livemode: false,
      locale: stringParam(params, "locale") ?? null,
      on_behalf_of: null,
      return_url: stringParam(params, "return_url") ?? null,
      url: `${this.baseUrl}/stripe/portal/${id}`,
    };
    await this.insert(ctx, session);
    return session;
  }

  private async portalPage(req: Request, id: string): Promise<Response> {
    if (req.method === "POST") return this.portalAction(id, new URLSearchParams(await req.text()));
    if (req.method !== "GET") return page("Method not allowed", "<h1>Method not allowed</h1>", 405);
    const view = await this.sql.begin(async (tx) => {
      const ctx: RequestContext = { tx, deliver: [] };
      const found = await this.load<StripeObject>(ctx, "billing_portal.session", id);
      if (!found) return undefined;
      const subs = (await this.listSubscriptions(ctx, { customer: String(found.data.customer), status: "all" })) as { data: StripeObject[] };
      return { session: found.data, subscriptions: subs.data };
    });
    if (!view) return page("Not found", "<h1>This portal link is not valid</h1>", 404);
    const planPrices = [...this.priceInfo.entries()].filter(([, info]) => info.name in plans);
    const sections = view.subscriptions.map((sub) => this.portalSection(sub, planPrices)).join("");
    const back = view.session.return_url ? `<p><a href="${escapeHtml(String(view.session.return_url))}">← Return to Amplify Scheduler</a></p>` : "";
    return page("Billing", `<h1>Your subscription</h1>${sections || "<p>No subscriptions.</p>"}${back}`);
  }

  private portalSection(sub: StripeObject, planPrices: [string, PriceInfo][]): string {
    const items = (sub.items as { data: StripeObject[] }).data;
    const labels = items.map((it) => `${escapeHtml(String((it.price as Json).nickname))}${Number(it.quantity) > 1 ? ` × ${String(it.quantity)}` : ""}`);
    const periodEnd = new Date(Number(items[0]?.current_period_end ?? 0) * 1000).toISOString().slice(0, 10);
    const form = (action: string, label: string, extra = "", secondary = false) =>
      `<form method="post"><input type="hidden" name="subscription" value="${escapeHtml(sub.id)}"><input type="hidden" name="action" value="${action}">${extra}<button${secondary ? ' class="secondary"' : ""}>${label}</button></form>`;
    if (sub.status === "canceled") return `<section><p><strong>${labels.join(", ")}</strong> · canceled</p></section>`;
    const current = items.map((it) => (it.price as Json).id);
    const switches = planPrices
      .filter(([priceId]) => !current.includes(priceId))
      .map(([priceId, info]) => form("change_plan", `Switch to ${escapeHtml(info.label)} (${pounds(info.unitAmount)}/month)`, `<input type="hidden" name="price" value="${escapeHtml(priceId)}">`, true))
      .join("");
    const cancel = sub.cancel_at_period_end
      ? `<p>Cancels on ${periodEnd}.</p>${form("reactivate", "Don't cancel")}`
      : `<p>Renews on ${periodEnd}.</p>${form("cancel_at_period_end", "Cancel at period end")}`;
    return `<section><p><strong>${labels.join(", ")}</strong> · ${escapeHtml(String(sub.status))}</p>${cancel}${form("cancel_now", "Cancel now", "", true)}<div>${switches}</div></section>`;
  }

  /** A portal button: the change is made, its events are delivered, and the portal page is shown again. */
  private async portalAction(id: string, form: URLSearchParams): Promise<Response> {
    const deliver: string[] = [];
    const result = await this.sql.begin(async (tx) => {
      const ctx: RequestContext = { tx, deliver };
      const session = await this.load<StripeObject>(ctx, "billing_portal.session", id);
      if (!session) return "missing" as const;
      const subId = form.get("subscription") ?? "";
      const found = await this.load<StripeObject>(ctx, "subscription", subId);
      if (!found || found.data.customer !== session.data.customer) return "bad" as const;
      switch (form.get("action")) {
        case "cancel_at_period_end":
          await this.updateSubscription(ctx, subId, { cancel_at_period_end: "true" });
          return "ok" as const;
        case "reactivate":
          await this.updateSubscription(ctx, subId, { cancel_at_period_end: "false" });
          return "ok" as const;
        case "cancel_now":
          await this.cancelSubscriptionNow(ctx, subId, "cancellation_requested");
          return "ok" as const;
        case "change_plan": {
          const price = form.get("price") ?? "";
          const info = this.priceInfo.get(price);
          const planItem = (found.data.items as { data: StripeObject[] }).data.find(
            (it) => (this.priceInfo.get(String((it.price as Json).id))?.name ?? "") in plans,
          );
          if (!info || !(info.name in plans) || !planItem) return "bad" as const;
          await this.updateSubscription(ctx, subId, { items: [{ id: planItem.id, price }] });
          return "ok" as const;
        }
        default:
          return "bad" as const;
      }
    });
    if (result === "missing") return page("Not found", "<h1>This portal link is not valid</h1>", 404);
    if (result === "bad") return page("Not possible", "<h1>That change is not possible</h1>", 400);
    if (deliver.length) await this.enqueue(deliver);
    return new Response(null, { status: 303, headers: { location: `${this.baseUrl}/stripe/portal/${id}` } });
  }

  // --- test controls ------------------------------------------------------------------------------------------------

  private async control(req: Request, path: string): Promise<Response> {
    this.assertSecretKey(req);
    const method = req.method.toUpperCase();
    const text = method === "GET" ? "" : await req.text();
    let body: Json = {};
    try {
      if (text.trim()) body = JSON.parse(text) as Json;
    } catch {
      throw new StripeFault(400, "invalid_request_error", "Control requests take a JSON body");
    }
    if (method === "GET" && path === "/events") return this.json(200, await this.listEvents(new URL(req.url).searchParams));
    if (method === "POST" && path === "/events/hold") {
      this.holding = true;
      return this.json(200, { holding: true });
    }
    if (method === "POST" && path === "/events/release") {
      this.holding = false;
      const held = await this.sql<{ id: string }[]>`
        select id from local_stripe.events where status = 'held'
        order by ${body.order === "reverse" ? this.sql`seq desc` : this.sql`seq asc`}`;
      return this.json(200, { delivered: await this.enqueue(held.map((r) => r.id)) });
    }
    if (method === "POST" && path === "/events/deliver") {
      const ids = Array.isArray(body.ids) ? body.ids.filter((x): x is string => typeof x === "string") : [];
      return this.json(200, { delivered: await this.enqueue(ids) });
    }
    if (method === "POST" && path === "/flush") {
      await this.queue;
      return this.json(200, { flushed: true });
    }
    const sub = /^\/subscriptions\/([A-Za-z0-9_]+)\/(fail-next-renewal|renew)$/.exec(path);
    if (method === "POST" && sub) {
      const deliver: string[] = [];
      const result = await this.sql.begin(async (tx) => {
        const ctx: RequestContext = { tx, deliver };
        if (sub[2] === "renew") return this.renew(ctx, sub[1]!);
        const { subscription, internal } = await this.lockSubscription(ctx, sub[1]!);
        await this.save(ctx, subscription, { ...internal, fail_next_renewal: true });
        return subscription;
      });
      if (deliver.length) await this.enqueue(deliver);
      return this.json(200, result);
    }
    throw new StripeFault(404, "invalid_request_error", `Unknown control endpoint ${method} ${path}`);
  }

  private async listEvents(query: URLSearchParams) {
    const type = query.get("type");
    const limit = Math.min(1000, Number(query.get("limit") ?? 100) || 100);
    const rows = await this.sql<{ id: string; type: string; payload: string; status: string; attempts: number; last_response_status: number | null }[]>`
      select id, type, payload, status, attempts, last_response_status from local_stripe.events
      where ${type ? this.sql`type = ${type}` : this.sql`true`}
      order by seq desc limit ${limit}`;
    return {
      data: rows.map((r) => {
        const event = JSON.parse(r.payload) as { created: number; data: { object: { id: string } } };
        return {
          id: r.id,
          type: r.type,
          created: event.created,
          objectId: event.data.object.id,
          status: r.status,
          attempts: r.attempts,
          lastResponseStatus: r.last_response_status,
        };
      }),
    };
  }
}
