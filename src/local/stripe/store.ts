import { missing } from "./http.js";
import { type Json, type RequestContext, type StripeObject, type StripeState } from "./state.js";

/** The emulator's objects (customers, sessions, subscriptions, invoices) as rows of `local_stripe.objects`. */

export async function insert(s: StripeState, ctx: RequestContext, data: StripeObject, internal: Json = {}): Promise<void> {
  const customer = typeof data.customer === "string" ? data.customer : data.object === "customer" ? data.id : null;
  await ctx.tx`insert into local_stripe.objects (id, object, customer, data, internal)
               values (${data.id}, ${data.object}, ${customer}, ${JSON.stringify(data)}::text::jsonb, ${JSON.stringify(internal)}::text::jsonb)`;
}

export async function save(s: StripeState, ctx: RequestContext, data: StripeObject, internal?: Json): Promise<void> {
  const customer = typeof data.customer === "string" ? data.customer : data.object === "customer" ? data.id : null;
  await ctx.tx`update local_stripe.objects set data = ${JSON.stringify(data)}::text::jsonb, customer = ${customer},
               internal = coalesce(${internal === undefined ? null : JSON.stringify(internal)}::text::jsonb, internal)
               where id = ${data.id}`;
}

export async function load<T extends StripeObject>(s: StripeState, ctx: RequestContext, object: string, id: string, lock = false) {
  const rows = lock
    ? await ctx.tx<{ data: T; internal: Json }[]>`select data, internal from local_stripe.objects where id = ${id} and object = ${object} for update`
    : await ctx.tx<{ data: T; internal: Json }[]>`select data, internal from local_stripe.objects where id = ${id} and object = ${object}`;
  return rows[0];
}

export async function retrieve(s: StripeState, ctx: RequestContext, object: string, id: string, param = "id"): Promise<StripeObject> {
  const found = await load(s, ctx, object, id);
  if (!found) throw missing(object, id, param);
  return found.data;
}

/** `expand[]` for the top-level references we hold (customer, subscription, latest_invoice, invoice). */
export async function expand(s: StripeState, ctx: RequestContext, data: StripeObject, params: Json): Promise<StripeObject> {
  const expand = params.expand === undefined ? [] : Array.isArray(params.expand) ? params.expand : [params.expand];
  const out: StripeObject = { ...data };
  for (const field of expand) {
    const kinds: Record<string, string> = { customer: "customer", subscription: "subscription", latest_invoice: "invoice", invoice: "invoice" };
    const kind = typeof field === "string" ? kinds[field] : undefined;
    if (!kind) continue;
    const ref = out[field as string];
    if (typeof ref === "string") out[field as string] = (await load(s, ctx, kind, ref))?.data ?? ref;
  }
  return out;
}
