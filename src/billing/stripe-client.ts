import type Stripe from "stripe";
import { env, type Env } from "../core/env.js";
import { AppError } from "../core/errors.js";
import { log } from "../core/log.js";

/**
 * Every call to Stripe is bounded so a slow Stripe cannot hold a function past Netlify's 10 s limit: at most
 * STRIPE_TIMEOUT_MS per attempt and one retry (stripe-node adds an idempotency key to retried POSTs).
 */
export const STRIPE_TIMEOUT_MS = 4_000;
export const STRIPE_MAX_NETWORK_RETRIES = 1;

/**
 * stripe-node's connection options for a base URL. stripe-node always requests `/v1/...` on its host, so only the
 * origin of STRIPE_API_URL counts (the local home serves its emulator at `/v1` on its own origin).
 */
export function stripeConnectionOptions(apiUrl: string | undefined): Pick<Stripe.StripeConfig, "host" | "port" | "protocol"> {
  if (!apiUrl) return {};
  const url = new URL(apiUrl);
  const protocol = url.protocol === "http:" ? "http" : "https";
  return { host: url.hostname, port: url.port || (protocol === "http" ? 80 : 443), protocol };
}

/**
 * A Stripe client configured from the environment. stripe-node is imported on first use, so only the billing function
 * loads it, and only when a request needs Stripe. Without STRIPE_SECRET_KEY billing answers 503. `services().stripe`
 * makes one per environment and keeps it; billing code takes the `StripeHandle` its route passes in.
 */
export async function createStripeClient(e: Pick<Env, "STRIPE_SECRET_KEY" | "STRIPE_API_URL">): Promise<Stripe> {
  const { STRIPE_SECRET_KEY: secretKey, STRIPE_API_URL: apiUrl } = e;
  if (!secretKey) throw new AppError("service_unavailable", "Billing is not configured on this deployment");
  const { default: StripeClient } = await import("stripe");
  return new StripeClient(secretKey, {
    ...stripeConnectionOptions(apiUrl),
    maxNetworkRetries: STRIPE_MAX_NETWORK_RETRIES,
    timeout: STRIPE_TIMEOUT_MS,
    telemetry: false,
    appInfo: { name: "amplify-scheduler" },
  });
}

/** The signing secret of our webhook endpoint; without it no event can be trusted, so the webhook answers 503. */
export function stripeWebhookSecret(): string {
  const secret = env().STRIPE_WEBHOOK_SECRET;
  if (!secret) throw new AppError("service_unavailable", "Stripe webhooks are not configured on this deployment");
  return secret;
}

/** Where billing gets its Stripe client: `services.stripe` (src/core/services.ts), handed over by the route. */
export interface StripeHandle {
  client(): Promise<Stripe>;
}

/**
 * Runs one Stripe call; a failure of Stripe itself (network, timeout, 5xx, a rejected request caused by our own
 * configuration) is logged in full and reaches the client as a 503 that says nothing about Stripe's internals. An
 * object Stripe does not have becomes a 404 (`not_found`), which callers may treat as an answer rather than a fault.
 */
export async function callStripe<T>(handle: StripeHandle, what: string, fn: (stripe: Stripe) => Promise<T>): Promise<T> {
  const stripe = await handle.client();
  try {
    return await fn(stripe);
  } catch (error) {
    const e = error as { type?: string; code?: string; statusCode?: number; message?: string };
    if (e.code === "resource_missing") {
      log.warn("stripe object missing", { what, message: e.message });
      throw new AppError("not_found", "The billing record was not found at the payment provider");
    }
    log.error("stripe call failed", { what, type: e.type, code: e.code, statusCode: e.statusCode, error });
    throw new AppError("service_unavailable", "The payment provider could not be reached; try again in a moment");
  }
}
