import { assertKnownParams, integerParam, stringParam } from "./form.js";
import { missing, stripeError } from "./http.js";
import { type Json, type LineItemInput, type StripeObject, type StripeState } from "./state.js";

/** Prices: the plans and add-ons the emulator was started with, as Stripe price objects. */

export function priceObject(s: StripeState, priceId: string, param: string): StripeObject {
  const info = s.priceInfo.get(priceId);
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

export function lineItemsParam(s: StripeState, value: unknown): LineItemInput[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw stripeError(400, "invalid_request_error", "Missing required param: line_items.", "parameter_missing", "line_items");
  }
  return value.map((raw, i) => {
    const item = (raw ?? {}) as Json;
    assertKnownParams(item, ["price", "quantity"]);
    const price = stringParam(item, "price");
    if (!price) throw stripeError(400, "invalid_request_error", `Missing required param: line_items[${i}][price].`, "parameter_missing", `line_items[${i}][price]`);
    priceObject(s, price, `line_items[${i}][price]`);
    const quantity = item.quantity === undefined ? 1 : integerParam(item.quantity, `line_items[${i}][quantity]`);
    if (quantity < 1) throw stripeError(400, "invalid_request_error", "Quantity must be at least 1.", "parameter_invalid_integer", `line_items[${i}][quantity]`);
    return { price, quantity };
  });
}
