import { dispatcher, type Dispatch } from "../emulator.js";
import { listEvents } from "./events.js";
import { stripeError, stripeJson } from "./http.js";
import type { Json, RequestContext, StripeObject, StripeState } from "./state.js";
import { save } from "./store.js";
import { lockSubscription, renew } from "./subscriptions.js";
import { enqueue } from "./webhooks.js";

/**
 * Test controls under `/stripe/__control/` (the caller has shown the secret key), each taking an optional JSON body:
 *
 *   GET  /events                                  the latest events and their delivery state (`?type=`, `?limit=`)
 *   POST /events/hold                             new events wait instead of being delivered
 *   POST /events/release     {"order":"reverse"}  delivers the held ones, oldest first unless reversed
 *   POST /events/deliver     {"ids":[…]}          delivers chosen events again (duplicates, replays, reordering)
 *   POST /flush                                   waits for background deliveries
 *   POST /subscriptions/:id/fail-next-renewal     the next renewal's payment fails
 *   POST /subscriptions/:id/renew                 renews now (a new period and invoice, or a failed payment)
 */
export function controlRoutes(s: StripeState): (req: Request, path: string) => Promise<Response> {
  /** A renewal-related change in one transaction, its events delivered before the answer. */
  async function changeSubscription(change: (ctx: RequestContext) => Promise<StripeObject>): Promise<Response> {
    const deliver: string[] = [];
    const result = await s.sql.begin((tx) => change({ tx, deliver }));
    if (deliver.length) await enqueue(s, deliver);
    return stripeJson(200, result);
  }

  const routes: Dispatch<Json> = dispatcher<Json>(
    "stripe emulator",
    {
      "GET /events": async (req) => stripeJson(200, await listEvents(s, new URL(req.url).searchParams)),
      "POST /events/hold": () => {
        s.holding = true;
        return stripeJson(200, { holding: true });
      },
      "POST /events/release": async (_req, _params, body) => {
        s.holding = false;
        const held = await s.sql<{ id: string }[]>`
          select id from local_stripe.events where status = 'held'
          order by ${body.order === "reverse" ? s.sql`seq desc` : s.sql`seq asc`}`;
        return stripeJson(200, { delivered: await enqueue(s, held.map((r) => r.id)) });
      },
      "POST /events/deliver": async (_req, _params, body) => {
        const ids = Array.isArray(body.ids) ? body.ids.filter((x): x is string => typeof x === "string") : [];
        return stripeJson(200, { delivered: await enqueue(s, ids) });
      },
      "POST /flush": async () => {
        await s.queue;
        return stripeJson(200, { flushed: true });
      },
      "POST /subscriptions/:id([A-Za-z0-9_]+)/fail-next-renewal": (_req, params) =>
        changeSubscription(async (ctx) => {
          const { subscription, internal } = await lockSubscription(s, ctx, params.id!);
          await save(s, ctx, subscription, { ...internal, fail_next_renewal: true });
          return subscription;
        }),
      "POST /subscriptions/:id([A-Za-z0-9_]+)/renew": (_req, params) => changeSubscription((ctx) => renew(s, ctx, params.id!)),
    },
    {
      notFound: (method, path) => stripeError(404, "invalid_request_error", `Unknown control endpoint ${method} ${path}`).response,
      methodNotAllowed: (method, path) => stripeError(405, "invalid_request_error", `${method} is not allowed on control endpoint ${path}`).response,
    },
  );

  return async (req, path) => {
    const text = req.method.toUpperCase() === "GET" ? "" : await req.text();
    let body: Json = {};
    try {
      if (text.trim()) body = JSON.parse(text) as Json;
    } catch {
      throw stripeError(400, "invalid_request_error", "Control requests take a JSON body");
    }
    return routes(req, path, body);
  };
}
