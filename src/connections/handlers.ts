import type { z } from "zod";
import { route } from "../core/api.js";
import { AppError } from "../core/errors.js";
import { Reply } from "../core/http.js";
import { completeConnect, deleteConnection, initConnect, listConnections, syncConnection, updateConnectionSettings } from "./connections.js";
import { addReturnOrigin, appOrigin, listReturnOrigins, MAX_RETURN_ORIGINS, removeReturnOrigin, serializeReturnOrigin } from "./return-origins.js";
import {
  addReturnOriginSchema,
  connectInitResponse,
  connectInitSchema,
  connectionResponse,
  connectionSchema,
  listConnectionsQuerySchema,
  listConnectionsResponse,
  listReturnOriginsResponse,
  platformSchema,
  redirectResponse,
  removeReturnOriginQuerySchema,
  returnOriginResponse,
  returnOriginsQuerySchema,
  successResponse,
  syncConnectionResponse,
  updateConnectionSchema,
} from "./schemas.js";
import { serializeConnection, type ConnectionRow } from "./serialize.js";

/**
 * A connection as `connectionSchema` types it. The row types `platform` and `status` as plain strings; the table's
 * check constraints hold them to the schema's values, and the local home checks every answer against the schema.
 */
const connectionOf = (row: ConnectionRow) => serializeConnection(row) as z.input<typeof connectionSchema>;

// Start connecting an account: the network's consent URL (or, for a network that connects with an app password, the
// returnUrl with the outcome, connected at once). Started by a signed-in session, the flow is bound to that browser by
// a cookie set on this answer. The service connection writes the connection of an app-password network.
export const connectInit = route("POST /api/v1/connect/init", {
  auth: "any",
  profile: "body",
  service: true,
  body: connectInitSchema,
  response: connectInitResponse,
  handle: async ({ db, serviceDb, services, body, caller, profileId }) => {
    const { platform, returnUrl, credentials } = body;
    const input = { userId: caller.userId, profileId, platform, returnUrl, credentials, bindToBrowser: caller.kind === "session" };
    const started = await initConnect(db, serviceDb, services.platforms, input);
    return new Reply(200, { url: started.url, error: null }, started.setCookie ? { "set-cookie": started.setCookie } : {});
  },
});

// Where the network sends the user back: a redirect on to the returnUrl. No user: the single-use state is the
// credential, claimed and the connection written on the service connection.
export const connectCallback = route("GET /api/connect/callback/:platform", {
  auth: "none",
  service: true,
  response: redirectResponse,
  status: 302,
  handle: async ({ req, params, serviceDb, services }) => {
    const platform = platformSchema.safeParse(params.platform);
    if (!platform.success) throw new AppError("not_found", "Unknown platform");
    const outcome = await completeConnect(serviceDb, services.platforms, platform.data, new URL(req.url).searchParams, req.headers.get("cookie"));
    const headers: Record<string, string> = { location: outcome.location, "cache-control": "no-store", "referrer-policy": "no-referrer" };
    if (outcome.setCookie) headers["set-cookie"] = outcome.setCookie;
    return new Response(null, { status: 302, headers });
  },
});

// The profile's connected accounts with capabilities, network contract and readiness
export const listConnectionsRoute = route("GET /api/v1/connections", {
  auth: "any",
  profile: "query",
  query: listConnectionsQuerySchema,
  response: listConnectionsResponse,
  handle: async ({ db, query, profileId }) => ({
    connections: (await db((tx) => listConnections(tx, profileId, query.platform))).map(connectionOf),
  }),
});

// Disconnect an account (owner or admin)
export const deleteConnectionRoute = route("DELETE /api/v1/connections/:connectionId", {
  auth: "any",
  response: successResponse,
  handle: async ({ db, params }) => {
    await db((tx) => deleteConnection(tx, params.connectionId));
    return { success: true as const };
  },
});

// Change the connection's network settings (owner or admin)
export const updateConnectionRoute = route("PATCH /api/v1/connections/:connectionId", {
  auth: "any",
  body: updateConnectionSchema,
  response: connectionResponse,
  handle: async ({ db, services, params, body }) => ({
    connection: connectionOf(await db((tx) => updateConnectionSettings(tx, services.platforms, params.connectionId, body.settings))),
  }),
});

// Refresh the token and account metadata (tokens are read and refreshed on the service connection)
export const syncConnectionRoute = route("POST /api/v1/connections/:connectionId/sync", {
  auth: "any",
  service: true,
  response: syncConnectionResponse,
  handle: async ({ db, serviceDb, services, params }) => {
    const synced = await syncConnection(db, serviceDb, services.platforms, params.connectionId);
    const { id, platform, connectionStatus, readiness } = connectionOf(synced);
    return { connection: { id, platform, connectionStatus, readiness } };
  },
});

// The origins connect/init accepts as returnUrl for the profile (any member): APP_URL's origin, always, and the ones
// its owner registered
export const listReturnOriginsRoute = route("GET /api/v1/connect/return-origins", {
  auth: "any",
  profile: "query",
  query: returnOriginsQuerySchema,
  response: listReturnOriginsResponse,
  handle: async ({ db, profileId }) => ({
    appOrigin: appOrigin(),
    origins: (await db((tx) => listReturnOrigins(tx, profileId))).map(serializeReturnOrigin),
    limit: MAX_RETURN_ORIGINS,
  }),
});

// Register an origin (the profile's owner: signed in, or with a key the owner created); 201 when added, 200 when it
// was already registered
export const addReturnOriginRoute = route("POST /api/v1/connect/return-origins", {
  auth: "any",
  profile: "body",
  body: addReturnOriginSchema,
  response: returnOriginResponse,
  status: [200, 201],
  handle: async ({ db, body, caller, profileId }) => {
    const { row, created } = await db((tx) => addReturnOrigin(tx, { profileId, userId: caller.userId, origin: body.origin }));
    return new Reply(created ? 201 : 200, { origin: serializeReturnOrigin(row) });
  },
});

// Remove a registered origin (owner, as above); flows already started towards it are refused at the callback
export const removeReturnOriginRoute = route("DELETE /api/v1/connect/return-origins", {
  auth: "any",
  profile: "query",
  query: removeReturnOriginQuerySchema,
  response: successResponse,
  handle: async ({ db, query, profileId }) => {
    await db((tx) => removeReturnOrigin(tx, profileId, query.origin));
    return { success: true as const };
  },
});

export const connectionRoutes = [
  connectInit,
  listReturnOriginsRoute,
  addReturnOriginRoute,
  removeReturnOriginRoute,
  connectCallback,
  listConnectionsRoute,
  deleteConnectionRoute,
  updateConnectionRoute,
  syncConnectionRoute,
];
