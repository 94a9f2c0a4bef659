import { plans } from "../../core/plans.js";
import { assertKnownParams, stringParam } from "./form.js";
import { escapeHtml, page, pounds } from "./http.js";
import {
  newId,
  nowSeconds,
  type Json,
  type PriceInfo,
  type RequestContext,
  type StripeObject,
  type StripeState,
} from "./state.js";
import { insert, load, retrieve } from "./store.js";
import { cancelSubscriptionNow, listSubscriptions, updateSubscription } from "./subscriptions.js";
import { enqueue } from "./webhooks.js";

/**
 * The billing portal: `POST /v1/billing_portal/sessions` and the hosted page (`/stripe/portal/:id`: cancel at period
 * end or now, undo a cancellation, switch plan), which delivers the change's events before it shows the page again.
 */

export async function createPortalSession(s: StripeState, ctx: RequestContext, params: Json): Promise<StripeObject> {
  assertKnownParams(params, ["customer", "return_url", "locale", "configuration", "expand"]);
  const customer = stringParam(params, "customer", true)!;
  await retrieve(s, ctx, "customer", customer, "customer");
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
    url: `${s.baseUrl}/stripe/portal/${id}`,
  };
  await insert(s, ctx, session);
  return session;
}

export async function portalPage(s: StripeState, id: string): Promise<Response> {
  const view = await s.sql.begin(async (tx) => {
    const ctx: RequestContext = { tx, deliver: [] };
    const found = await load<StripeObject>(s, ctx, "billing_portal.session", id);
    if (!found) return undefined;
    const subs = (await listSubscriptions(s, ctx, { customer: String(found.data.customer), status: "all" })) as { data: StripeObject[] };
    return { session: found.data, subscriptions: subs.data };
  });
  if (!view) return page("Not found", "<h1>This portal link is not valid</h1>", 404);
  const planPrices = [...s.priceInfo.entries()].filter(([, info]) => info.name in plans);
  const sections = view.subscriptions.map((sub) => portalSection(s, sub, planPrices)).join("");
  const back = view.session.return_url ? `<p><a href="${escapeHtml(String(view.session.return_url))}">← Return to Amplify Scheduler</a></p>` : "";
  return page("Billing", `<h1>Your subscription</h1>${sections || "<p>No subscriptions.</p>"}${back}`);
}

export function portalSection(s: StripeState, sub: StripeObject, planPrices: [string, PriceInfo][]): string {
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
export async function portalAction(s: StripeState, id: string, form: URLSearchParams): Promise<Response> {
  const deliver: string[] = [];
  const result = await s.sql.begin(async (tx) => {
    const ctx: RequestContext = { tx, deliver };
    const session = await load<StripeObject>(s, ctx, "billing_portal.session", id);
    if (!session) return "missing" as const;
    const subId = form.get("subscription") ?? "";
    const found = await load<StripeObject>(s, ctx, "subscription", subId);
    if (!found || found.data.customer !== session.data.customer) return "bad" as const;
    switch (form.get("action")) {
      case "cancel_at_period_end":
        await updateSubscription(s, ctx, subId, { cancel_at_period_end: "true" });
        return "ok" as const;
      case "reactivate":
        await updateSubscription(s, ctx, subId, { cancel_at_period_end: "false" });
        return "ok" as const;
      case "cancel_now":
        await cancelSubscriptionNow(s, ctx, subId, "cancellation_requested");
        return "ok" as const;
      case "change_plan": {
        const price = form.get("price") ?? "";
        const info = s.priceInfo.get(price);
        const planItem = (found.data.items as { data: StripeObject[] }).data.find(
          (it) => (s.priceInfo.get(String((it.price as Json).id))?.name ?? "") in plans,
        );
        if (!info || !(info.name in plans) || !planItem) return "bad" as const;
        await updateSubscription(s, ctx, subId, { items: [{ id: planItem.id, price }] });
        return "ok" as const;
      }
      default:
        return "bad" as const;
    }
  });
  if (result === "missing") return page("Not found", "<h1>This portal link is not valid</h1>", 404);
  if (result === "bad") return page("Not possible", "<h1>That change is not possible</h1>", 400);
  if (deliver.length) await enqueue(s, deliver);
  return new Response(null, { status: 303, headers: { location: `${s.baseUrl}/stripe/portal/${id}` } });
}
