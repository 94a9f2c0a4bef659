import type postgres from "postgres";
import type { FetchHandler } from "./server.js";

/** Local emulator of the Stripe endpoints we call, plus hosted checkout and portal pages (placeholder: being built). */
export async function createStripeEmulator(_options: {
  sql: postgres.Sql;
  secretKey: string;
  webhookSecret: string;
  /** Where signed events are sent: our real webhook function. */
  webhookUrl: string;
  /** The emulator's own base URL (the local server's origin). */
  baseUrl: string;
  /** Our plan/add-on name → the emulator's price id. */
  prices: Record<string, string>;
}): Promise<FetchHandler> {
  return async () => new Response("Stripe emulator not built yet", { status: 501 });
}
