import type { z } from "zod";
import { route } from "../core/api.js";
import type { AuthMode, Caller } from "../core/auth.js";
import { created, Reply } from "../core/http.js";
import { pageOf } from "../core/pagination.js";
import type { CallerDb } from "../core/pg.js";
import { resolveProfileId } from "../core/profile-scope.js";
import { listDeliveries, retryDelivery } from "./deliveries.js";
import { changeEndpoint, configureEndpointFor, deleteEndpoint, listEndpoints, registerEndpoint, SECRET_WARNING } from "./endpoints.js";
import {
  configureEndpointResponse,
  createEndpointResponse,
  createEndpointSchema,
  listDeliveriesQuerySchema,
  listDeliveriesResponse,
  listEndpointsQuerySchema,
  listEndpointsResponse,
  messageResponse,
  retryDeliverySchema,
  updateEndpointResponse,
  updateEndpointSchema,
  type CreateEndpointInput,
  type UpdateEndpointInput,
} from "./schemas.js";
import { serializeDelivery, serializeEndpoint } from "./serialize.js";

/**
 * The webhook management routes, served twice with the same handlers: `/api/v1/...` (API key or session) and the
 * browser's `/api/...` (session only). An API key acts on its own profile only (RLS enforces it); a session names the
 * profile where one is needed.
 */
const spec = {
  // The profile's endpoints (never their secrets)
  list: {
    profile: "query",
    query: listEndpointsQuerySchema,
    response: listEndpointsResponse,
    handle: async ({ db, profileId }: { db: CallerDb; profileId: string }) => ({
      endpoints: (await db((tx) => listEndpoints(tx, profileId))).map(serializeEndpoint),
    }),
  },
  // Register an endpoint; its secret is in this answer and nowhere else
  create: {
    profile: "body",
    body: createEndpointSchema,
    response: createEndpointResponse,
    status: 201,
    handle: async ({ db, body, caller, profileId }: { db: CallerDb; body: CreateEndpointInput; caller: Caller; profileId: string }) => {
      const { row, secret } = await registerEndpoint(db, caller.userId, { ...body, profileId });
      return created({ success: true as const, endpoint: { ...serializeEndpoint(row), secret }, warning: SECRET_WARNING });
    },
  },
  // Change URL, events, retries or secret; turn it off or on again
  update: {
    body: updateEndpointSchema,
    response: updateEndpointResponse,
    handle: async ({ db, body, params }: { db: CallerDb; body: UpdateEndpointInput; params: { webhookId: string } }) => ({
      success: true as const,
      endpoint: serializeEndpoint(await changeEndpoint(db, params.webhookId, body)),
    }),
  },
  // Remove an endpoint and its delivery history
  remove: {
    response: messageResponse,
    handle: async ({ db, params }: { db: CallerDb; params: { webhookId: string } }) => {
      await db((tx) => deleteEndpoint(tx, params.webhookId));
      return { success: true as const, message: "Webhook endpoint deleted" };
    },
  },
  // Delivery history, newest first, with every attempt
  deliveries: {
    query: listDeliveriesQuerySchema,
    response: listDeliveriesResponse,
    handle: async ({ db, query, params }: { db: CallerDb; query: z.output<typeof listDeliveriesQuerySchema>; params: { webhookId: string } }) => {
      const page = await db((tx) => listDeliveries(tx, params.webhookId, { status: query.status }, pageOf(query)));
      return { deliveries: page.rows.map(serializeDelivery), nextCursor: page.nextCursor };
    },
  },
  // Attempt a delivery again now. `profileId` is optional here; an API key that sends one must send its own.
  retry: {
    body: retryDeliverySchema,
    response: messageResponse,
    handle: async ({ db, body, params, caller }: { db: CallerDb; body: { profileId?: string }; params: { deliveryId: string }; caller: Caller }) => {
      if (body.profileId !== undefined) resolveProfileId(caller, body.profileId);
      await retryDelivery(db, params.deliveryId);
      return { success: true as const, message: "Delivery queued for retry" };
    },
  },
} as const;

function webhookRoutes(auth: Extract<AuthMode, "any" | "session">, prefix: "/api/v1" | "/api") {
  return [
    route(`GET ${prefix}/webhook-endpoints`, { auth, ...spec.list }),
    route(`POST ${prefix}/webhook-endpoints`, { auth, ...spec.create }),
    route(`PATCH ${prefix}/webhook-endpoints/:webhookId`, { auth, ...spec.update }),
    route(`DELETE ${prefix}/webhook-endpoints/:webhookId`, { auth, ...spec.remove }),
    route(`GET ${prefix}/webhook-endpoints/:webhookId/deliveries`, { auth, ...spec.deliveries }),
    route(`POST ${prefix}/webhook-deliveries/:deliveryId/retry`, { auth, ...spec.retry }),
  ];
}

// The one-call form: create or update the profile's endpoint for a URL (201 when created); the secret, and the warning
// to save it, only when this call set one
export const configureWebhook = route("POST /api/v1/webhooks/configure", {
  auth: "any",
  profile: "body",
  body: createEndpointSchema,
  response: configureEndpointResponse,
  status: [200, 201],
  handle: async ({ db, body, caller, profileId }) => {
    const result = await configureEndpointFor(db, caller.userId, { ...body, profileId });
    const endpoint = { ...serializeEndpoint(result.row), ...(result.secret ? { secret: result.secret } : {}) };
    return new Reply(result.created ? 201 : 200, { success: true as const, endpoint, ...(result.secret ? { warning: SECRET_WARNING } : {}) });
  },
});

export const webhookManagementRoutes = [...webhookRoutes("any", "/api/v1"), configureWebhook, ...webhookRoutes("session", "/api")];
