import { env, type Env } from "../core/env.js";
import type { AddOnId, PaidPlanId } from "./plans.js";

/** Which environment variable holds the Stripe price id of each paid plan and add-on. */
const priceEnvKeys = {
  starter: "STRIPE_PRICE_ID_STARTER",
  growth: "STRIPE_PRICE_ID_GROWTH",
  agency: "STRIPE_PRICE_ID_AGENCY",
  unlimited: "STRIPE_PRICE_ID_UNLIMITED",
  extra_profile: "STRIPE_PRICE_ID_EXTRA_PROFILE",
  white_label: "STRIPE_PRICE_ID_WHITE_LABEL",
} as const satisfies Record<PaidPlanId | AddOnId, keyof Env>;

export type PricedItem = keyof typeof priceEnvKeys;

/** The configured Stripe price id of a plan or add-on, or undefined when that variable is not set. */
export function priceIdOf(item: PricedItem): string | undefined {
  return env()[priceEnvKeys[item]];
}

/** The plan or add-on a Stripe price id stands for, or undefined for a price we do not sell. */
export function itemOfPriceId(priceId: string): PricedItem | undefined {
  const e = env();
  return (Object.keys(priceEnvKeys) as PricedItem[]).find((item) => e[priceEnvKeys[item]] === priceId);
}

export const priceEnvKeyOf = (item: PricedItem): string => priceEnvKeys[item];
