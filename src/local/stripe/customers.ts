import { randomBytes } from "node:crypto";
import { assertKnownParams, metadataParam, stringParam } from "./form.js";
import { missing } from "./http.js";
import { newId, nowSeconds, type Json, type RequestContext, type StripeObject, type StripeState } from "./state.js";
import { insert, load, save } from "./store.js";

/** `POST /v1/customers`, `POST /v1/customers/:id`. */

export async function createCustomer(s: StripeState, ctx: RequestContext, params: Json): Promise<StripeObject> {
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
  await insert(s, ctx, customer);
  return customer;
}

export async function updateCustomer(s: StripeState, ctx: RequestContext, id: string, params: Json): Promise<StripeObject> {
  assertKnownParams(params, ["email", "name", "description", "metadata", "expand"]);
  const found = await load(s, ctx, "customer", id, true);
  if (!found) throw missing("customer", id, "id");
  const customer = { ...found.data };
  for (const field of ["email", "name", "description"]) if (params[field] !== undefined) customer[field] = stringParam(params, field) ?? null;
  if (params.metadata !== undefined) customer.metadata = { ...(customer.metadata as Json), ...metadataParam(params.metadata, "metadata") };
  await save(s, ctx, customer);
  return customer;
}
