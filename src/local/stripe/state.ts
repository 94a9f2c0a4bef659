import { randomBytes } from "node:crypto";
import type postgres from "postgres";
import { addOns } from "../../billing/plans.js";
import { plans } from "../../core/plans.js";

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
export const API_VERSION = "2026-10-28.endive";
export const CHECKOUT_SESSION_SECONDS = 24 * 60 * 60;

export type Tx = postgres.TransactionSql;
export type Json = Record<string, unknown>;

export interface StripeObject extends Json {
  id: string;
  object: string;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
export const newId = (prefix: string) => `${prefix}_${randomBytes(18).toString("base64url").replace(/[-_]/g, "").slice(0, 24)}`;

export function addMonth(seconds: number): number {
  const d = new Date(seconds * 1000);
  d.setUTCMonth(d.getUTCMonth() + 1);
  return Math.floor(d.getTime() / 1000);
}

/** One API request's transaction. */
export interface RequestContext {
  tx: Tx;
  /** Events emitted by this request that are to be delivered once it commits (held ones are not). */
  deliver: string[];
}

export interface PriceInfo {
  name: string;
  label: string;
  unitAmount: number;
}

export interface LineItemInput {
  price: string;
  quantity: number;
}

/** What one emulator instance holds besides its database: its settings, its prices and its delivery queue. */
export interface StripeState {
  readonly options: StripeEmulatorOptions;
  readonly sql: postgres.Sql;
  readonly baseUrl: string;
  readonly priceInfo: Map<string, PriceInfo>;
  readonly retryDelaysMs: number[];
  readonly deliveryTimeoutMs: number;
  /** When true, new events are stored as `held` and wait for a control call to deliver them. */
  holding: boolean;
  /** Background deliveries run one after another, in the order their events were created. */
  queue: Promise<unknown>;
}

export function createState(options: StripeEmulatorOptions): StripeState {
  const priceInfo = new Map<string, PriceInfo>();
  for (const [name, priceId] of Object.entries(options.prices)) {
    const plan = (plans as Record<string, { name: string; pricePence: number }>)[name];
    const addOn = (addOns as Record<string, { name: string; pricePence: number }>)[name];
    priceInfo.set(priceId, {
      name,
      label: plan ? `${plan.name} plan` : (addOn?.name ?? name),
      unitAmount: plan?.pricePence ?? addOn?.pricePence ?? 0,
    });
  }
  return {
    options,
    sql: options.sql,
    baseUrl: options.baseUrl.replace(/\/$/, ""),
    priceInfo,
    retryDelaysMs: options.retryDelaysMs ?? [200, 1000],
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? 10_000,
    holding: false,
    queue: Promise.resolve(),
  }
}
