import { z } from "zod";
import { route } from "../core/api.js";
import { AppError } from "../core/errors.js";
import { Reply } from "../core/http.js";
import { resolveProfileId } from "../core/profile-scope.js";
import { assertProfileVisible } from "../profiles/profiles.js";
import { catalog, platformIds, type Platform } from "../platforms/catalog.js";
import { getAdapter } from "../platforms/registry.js";
import {
  assertCanConnect,
  completeConnect,
  connectWithCredentials,
  deleteConnection,
  getConnectionOrThrow,
  listConnections,
  startConnect,
  syncConnection,
  updateConnectionSettings,
} from "./connections.js";
import {
  addReturnOrigin,
  appOrigin,
  assertReturnUrlAllowed,
  listReturnOrigins,
  MAX_RETURN_ORIGINS,
  MAX_RETURN_URL_LENGTH,
  removeReturnOrigin,
  serializeReturnOrigin,
} from "./return-origins.js";
import { serializeConnection } from "./serialize.js";

export const platformSchema = z.enum(platformIds);

const connectInitSchema = z.strictObject({
  platform: platformSchema,
  /** Where the browser is sent at the end: on APP_URL's origin or an origin the profile's owner registered. */
  returnUrl: z.url({ protocol: /^https?$/ }).max(MAX_RETURN_URL_LENGTH),
  profileId: z.uuid().optional(),
  /** Networks without a consent page (Bluesky): the handle (or DID) and an app password, used once and not stored. */
  credentials: z.strictObject({ identifier: z.string().trim().min(1).max(253), appPassword: z.string().min(1).max(128) }).optional(),
});

// POST /api/v1/connect/init — start connecting an account: returns the network's consent URL (or, for a network that
// connects with an app password, connects it at once and returns the returnUrl with the outcome). Started by a
// signed-in session, the flow is bound to that browser by a cookie set on this answer.
export const connectInitHandler = route({
  auth: "any",
  body: connectInitSchema,
  handle: async ({ db, body, caller }) => {
    const profileId = resolveProfileId(caller, body.profileId);
    const contract = catalog[body.platform];
    if (!contract.publish.supported) throw new AppError("bad_request", `${contract.displayName} is not supported: ${contract.notes.join(" ")}`);
    const input = { userId: caller.userId, profileId, platform: body.platform, returnUrl: body.returnUrl };
    if (!getAdapter(body.platform).signIn) {
      if (body.credentials) throw fieldError("credentials", `${contract.displayName} connects through its consent page: leave out credentials`);
      const started = await db((tx) => startConnect(tx, { ...input, bindToBrowser: caller.kind === "session" }));
      return new Reply(200, { url: started.url, error: null }, started.setCookie ? { "set-cookie": started.setCookie } : {});
    }
    const { credentials } = body;
    if (!credentials) throw fieldError("credentials", `${contract.displayName} connects with a handle and an app password: send { identifier, appPassword }`);
    await db(async (tx) => {
      await assertCanConnect(tx, profileId);
      await assertReturnUrlAllowed(tx, profileId, body.returnUrl);
    });
    return { url: await connectWithCredentials({ ...input, credentials }), error: null };
  },
});

function fieldError(field: string, message: string): AppError {
  return new AppError("validation_error", `Invalid field '${field}': ${message}`, { details: [{ field, message }] });
}

// GET /api/connect/callback/:platform — where the network sends the user back; redirects on to the returnUrl
export const connectCallbackHandler = route({
  auth: "none",
  handle: async ({ req, params }) => {
    const parsed = platformSchema.safeParse(params.platform);
    if (!parsed.success) throw new AppError("not_found", "Unknown platform");
    const outcome = await completeConnect(parsed.data as Platform, new URL(req.url).searchParams, req.headers.get("cookie"));
    const headers: Record<string, string> = { location: outcome.location, "cache-control": "no-store", "referrer-policy": "no-referrer" };
    if (outcome.setCookie) headers["set-cookie"] = outcome.setCookie;
    return new Response(null, { status: 302, headers });
  },
});

const listQuerySchema = z.strictObject({ profileId: z.uuid().optional(), platform: platformSchema.optional() });

// GET /api/v1/connections — the profile's connected accounts with capabilities, contract and readiness
export const listConnectionsHandler = route({
  auth: "any",
  query: listQuerySchema,
  handle: async ({ db, query, caller }) => {
    const profileId = resolveProfileId(caller, query.profileId);
    const rows = await db(async (tx) => {
      await assertProfileVisible(tx, profileId);
      return listConnections(tx, profileId, query.platform);
    });
    return { connections: rows.map(serializeConnection) };
  },
});

// DELETE /api/v1/connections/:connectionId — disconnect an account (owner or admin)
export const deleteConnectionHandler = route({
  auth: "any",
  handle: async ({ db, params }) => {
    await db((tx) => deleteConnection(tx, params.connectionId!));
    return { success: true };
  },
});

const updateConnectionSchema = z.strictObject({
  /** Keys to set (merged into the current settings); a key set to null is removed. */
  settings: z.record(z.string().max(64), z.unknown()),
});

// PATCH /api/v1/connections/:connectionId — change the connection's network settings (owner or admin)
export const updateConnectionHandler = route({
  auth: "any",
  body: updateConnectionSchema,
  handle: async ({ db, params, body }) => {
    const row = await db((tx) => updateConnectionSettings(tx, params.connectionId!, body.settings));
    return { connection: serializeConnection(row) };
  },
});

// POST /api/v1/connections/:connectionId/sync — refresh the token and account metadata
export const syncConnectionHandler = route({
  auth: "any",
  handle: async ({ db, params }) => {
    const visible = await db((tx) => getConnectionOrThrow(tx, params.connectionId!));
    await syncConnection(visible.id, visible.profile_id);
    const row = await db((tx) => getConnectionOrThrow(tx, params.connectionId!));
    const c = serializeConnection(row);
    return { connection: { id: c.id, platform: c.platform, connectionStatus: c.connectionStatus, readiness: c.readiness } };
  },
});

const originsQuerySchema = z.strictObject({ profileId: z.uuid().optional() });
const addOriginSchema = z.strictObject({
  /** An origin only: `https://app.example.com` (scheme, host, optional port). */
  origin: z.string().max(2048),
  profileId: z.uuid().optional(),
});
const removeOriginQuerySchema = z.strictObject({ origin: z.string().min(1).max(2048), profileId: z.uuid().optional() });

// GET /api/v1/connect/return-origins — the origins connect/init accepts as returnUrl for the profile (any member):
// APP_URL's origin, always, and the ones its owner registered
export const listReturnOriginsHandler = route({
  auth: "any",
  query: originsQuerySchema,
  handle: async ({ db, query, caller }) => {
    const profileId = resolveProfileId(caller, query.profileId);
    const rows = await db((tx) => listReturnOrigins(tx, profileId));
    return { appOrigin: appOrigin(), origins: rows.map(serializeReturnOrigin), limit: MAX_RETURN_ORIGINS };
  },
});

// POST /api/v1/connect/return-origins — register an origin (the profile's owner: signed in, or with a key the owner
// created); 201 when added, 200 when it was already registered
export const addReturnOriginHandler = route({
  auth: "any",
  body: addOriginSchema,
  handle: async ({ db, body, caller }) => {
    const profileId = resolveProfileId(caller, body.profileId);
    const { row, created } = await db((tx) => addReturnOrigin(tx, { profileId, userId: caller.userId, origin: body.origin }));
    return new Reply(created ? 201 : 200, { origin: serializeReturnOrigin(row) });
  },
});

// DELETE /api/v1/connect/return-origins?origin=… — remove a registered origin (owner, as above); flows already started
// towards it are refused at the callback
export const removeReturnOriginHandler = route({
  auth: "any",
  query: removeOriginQuerySchema,
  handle: async ({ db, query, caller }) => {
    const profileId = resolveProfileId(caller, query.profileId);
    await db((tx) => removeReturnOrigin(tx, profileId, query.origin));
    return { success: true };
  },
});
