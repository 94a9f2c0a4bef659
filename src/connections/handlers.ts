import { z } from "zod";
import { route } from "../core/api.js";
import { AppError } from "../core/errors.js";
import { resolveProfileId } from "../core/profile-scope.js";
import { assertProfileVisible } from "../profiles/profiles.js";
import { catalog, platformIds, type Platform } from "../platforms/catalog.js";
import {
  completeConnect,
  deleteConnection,
  getConnectionOrThrow,
  listConnections,
  startConnect,
  syncConnection,
} from "./connections.js";
import { serializeConnection } from "./serialize.js";

export const platformSchema = z.enum(platformIds);

const connectInitSchema = z.strictObject({
  platform: platformSchema,
  returnUrl: z.url({ protocol: /^https?$/ }),
  profileId: z.uuid().optional(),
});

// POST /api/v1/connect/init — start connecting an account: returns the network's consent URL
export const connectInitHandler = route({
  auth: "any",
  body: connectInitSchema,
  handle: async ({ db, body, caller }) => {
    const profileId = resolveProfileId(caller, body.profileId);
    if (!catalog[body.platform].publish.supported) {
      throw new AppError("bad_request", `${catalog[body.platform].displayName} is not supported: ${catalog[body.platform].notes.join(" ")}`);
    }
    const url = await db((tx) => startConnect(tx, { userId: caller.userId, profileId, platform: body.platform, returnUrl: body.returnUrl }));
    return { url, error: null };
  },
});

// GET /api/connect/callback/:platform — where the network sends the user back; redirects on to the returnUrl
export const connectCallbackHandler = route({
  auth: "none",
  handle: async ({ req, params }) => {
    const parsed = platformSchema.safeParse(params.platform);
    if (!parsed.success) throw new AppError("not_found", "Unknown platform");
    const location = await completeConnect(parsed.data as Platform, new URL(req.url).searchParams);
    return new Response(null, { status: 302, headers: { location, "cache-control": "no-store" } });
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

// POST /api/v1/connections/:connectionId/sync — refresh the token and account metadata
export const syncConnectionHandler = route({
  auth: "any",
  handle: async ({ db, params }) => {
    await db((tx) => getConnectionOrThrow(tx, params.connectionId!));
    await syncConnection(params.connectionId!);
    const row = await db((tx) => getConnectionOrThrow(tx, params.connectionId!));
    const c = serializeConnection(row);
    return { connection: { id: c.id, platform: c.platform, connectionStatus: c.connectionStatus, readiness: c.readiness } };
  },
});
