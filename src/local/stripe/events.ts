import { missing } from "./http.js";
import {
  API_VERSION,
  newId,
  nowSeconds,
  type Json,
  type RequestContext,
  type StripeObject,
  type StripeState,
} from "./state.js";

/** Stripe events: recorded with the change that causes them, delivered after it commits (src/local/stripe/webhooks.ts). */

/** Records an event; it is delivered after the request commits unless deliveries are being held. */
export async function emit(s: StripeState, ctx: RequestContext, type: string, object: StripeObject, previous?: Json): Promise<void> {
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
  const status = s.holding ? "held" : "pending";
  await ctx.tx`insert into local_stripe.events (id, type, payload, status)
               values (${event.id}, ${type}, ${JSON.stringify(event)}, ${status})`;
  if (!s.holding) ctx.deliver.push(event.id);
}

export async function listEvents(s: StripeState, query: URLSearchParams) {
  const type = query.get("type");
  const limit = Math.min(1000, Number(query.get("limit") ?? 100) || 100);
  const rows = await s.sql<{ id: string; type: string; payload: string; status: string; attempts: number; last_response_status: number | null }[]>`
    select id, type, payload, status, attempts, last_response_status from local_stripe.events
    where ${type ? s.sql`type = ${type}` : s.sql`true`}
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

/** `GET /v1/events/:id`: the event as it was sent. */
export async function retrieveEvent(ctx: RequestContext, id: string): Promise<unknown> {
  const [row] = await ctx.tx<{ payload: string }[]>`select payload from local_stripe.events where id = ${id}`;
  if (!row) throw missing("event", id, "id");
  return JSON.parse(row.payload) as unknown;
}
