import { z } from "zod";
import { route } from "../core/api.js";
import type { AuthMode } from "../core/auth.js";
import { log } from "../core/log.js";
import { created, Reply } from "../core/http.js";
import { decodeCursor, nextCursor } from "../core/pagination.js";
import { resolveProfileId } from "../core/profile-scope.js";
import { verifyQueueRequest } from "../core/queue.js";
import { listDeliveries, requestRetry, serializeDelivery } from "./deliveries.js";
import { executeDelivery } from "./deliver.js";
import { enqueueDueDeliveries } from "./dispatch.js";
import {
  assertCanManage,
  assertCanManageEndpoint,
  assertSafeUrl,
  configureEndpoint,
  createEndpoint,
  deleteEndpoint,
  listEndpoints,
  SECRET_WARNING,
  serializeEndpoint,
  updateEndpoint,
} from "./endpoints.js";
import {
  createEndpointSchema,
  listDeliveriesQuerySchema,
  listEndpointsQuerySchema,
  retryDeliverySchema,
  updateEndpointSchema,
} from "./schemas.js";

/**
 * The same handlers serve `/api/v1/...` (API key or session) and the browser's `/api/...` (session only). An API
 * key acts on its own profile only (RLS enforces it); a session names the profile where one is needed.
 */
function webhookHandlers<A extends AuthMode>(auth: A) {
  return {
    // GET …/webhook-endpoints — the profile's endpoints (never their secrets)
    list: route({
      auth,
      query: listEndpointsQuerySchema,
      handle: async ({ db, query, caller }) => {
        const profileId = resolveProfileId(caller!, query.profileId);
        const rows = await db((tx) => listEndpoints(tx, profileId));
        return { endpoints: rows.map(serializeEndpoint) };
      },
    }),
    // POST …/webhook-endpoints — register an endpoint; its secret is in this response and nowhere else
    create: route({
      auth,
      body: createEndpointSchema,
      handle: async ({ db, body, caller }) => {
        const profileId = resolveProfileId(caller!, body.profileId);
        // Permission first (a short transaction), then the URL (DNS, outside any transaction), then the write.
        await db((tx) => assertCanManage(tx, profileId));
        const url = await assertSafeUrl(body.url);
        const { row, secret } = await db((tx) => createEndpoint(tx, caller!.userId, { ...body, profileId, url }));
        return created({ success: true, endpoint: { ...serializeEndpoint(row), secret }, warning: SECRET_WARNING });
      },
    }),
    // PATCH …/webhook-endpoints/:webhookId — change URL, events, retries or secret; turn it off or on again
    update: route({
      auth,
      body: updateEndpointSchema,
      handle: async ({ db, body, params }) => {
        let url: string | undefined;
        if (body.url !== undefined) {
          await db((tx) => assertCanManageEndpoint(tx, params.webhookId!));
          url = await assertSafeUrl(body.url);
        }
        const row = await db((tx) => updateEndpoint(tx, params.webhookId!, { ...body, url }));
        return { success: true, endpoint: serializeEndpoint(row) };
      },
    }),
    // DELETE …/webhook-endpoints/:webhookId — remove an endpoint and its delivery history
    remove: route({
      auth,
      handle: async ({ db, params }) => {
        await db((tx) => deleteEndpoint(tx, params.webhookId!));
        return { success: true, message: "Webhook endpoint deleted" };
      },
    }),
    // GET …/webhook-endpoints/:webhookId/deliveries — delivery history, newest first, with every attempt
    deliveries: route({
      auth,
      query: listDeliveriesQuerySchema,
      handle: async ({ db, query, params }) => {
        const page = await db((tx) =>
          listDeliveries(tx, params.webhookId!, { limit: query.limit, status: query.status, before: decodeCursor(query.cursor) }),
        );
        return { deliveries: page.rows.map(serializeDelivery), nextCursor: nextCursor(page) };
      },
    }),
    // POST …/webhook-deliveries/:deliveryId/retry — attempt a delivery again now
    retry: route({
      auth,
      body: retryDeliverySchema,
      handle: async ({ db, body, params, caller }) => {
        if (body.profileId !== undefined) resolveProfileId(caller!, body.profileId);
        const id = await db((tx) => requestRetry(tx, params.deliveryId!));
        await enqueueDueDeliveries([id]);
        return { success: true, message: "Delivery queued for retry" };
      },
    }),
  };
}

export const webhooksV1 = webhookHandlers("any");
export const webhooksBrowser = webhookHandlers("session");

// POST /api/v1/webhooks/configure — the legacy one-call form: create or update the profile's endpoint for a URL
export const configureWebhookHandler = route({
  auth: "any",
  body: createEndpointSchema,
  handle: async ({ db, body, caller }) => {
    const profileId = resolveProfileId(caller, body.profileId);
    await db((tx) => assertCanManage(tx, profileId));
    const url = await assertSafeUrl(body.url);
    const result = await db((tx) => configureEndpoint(tx, caller.userId, { ...body, profileId, url }));
    const endpoint = { ...serializeEndpoint(result.row), ...(result.secret ? { secret: result.secret } : {}) };
    return new Reply(result.created ? 201 : 200, { success: true, endpoint, ...(result.secret ? { warning: SECRET_WARNING } : {}) });
  },
});

const deliveryMessageSchema = z.object({ deliveryId: z.uuid() });

// POST /api/queue/webhook — QStash's callback: one attempt of one webhook delivery
export const webhookWorkerHandler = route({
  auth: "none",
  handle: async ({ req }) => {
    const raw = await verifyQueueRequest(req);
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      message = undefined;
    }
    const parsed = deliveryMessageSchema.safeParse(message);
    if (!parsed.success) {
      // Signed by us but unreadable: retrying cannot help, so acknowledge it (2xx stops QStash) and log it.
      log.error("unreadable webhook delivery message", { body: raw.slice(0, 200) });
      return { ok: false, result: "ignored" };
    }
    return { ok: true, result: await executeDelivery(parsed.data.deliveryId) };
  },
});
