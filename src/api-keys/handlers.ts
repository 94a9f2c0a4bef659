import { route } from "../core/api.js";
import type { AuthMode } from "../core/auth.js";
import { created } from "../core/http.js";
import { pageOf } from "../core/pagination.js";
import { resolveProfileId } from "../core/profile-scope.js";
import { createApiKey, listApiKeys, revokeApiKey, serializeApiKey } from "./api-keys.js";
import {
  apiKeyCreatedResponse,
  apiKeyListResponse,
  apiKeyRevokedResponse,
  createApiKeySchema,
  KEY_WARNING,
  listApiKeysQuerySchema,
} from "./schemas.js";

export { createApiKeySchema, KEY_WARNING } from "./schemas.js";

/**
 * The same three routes serve `/api/v1/api-keys` and the browser's `/api/api-keys` (session only). With an API key
 * one may list and revoke keys, only ever of the key's own profile (RLS enforces it; a `profileId` filter naming
 * another profile answers 404), but never create one: creating a key needs a signed-in session, so a leaked key
 * cannot mint a successor that survives its own revocation (403 `forbidden`). A session's `profileId` filter is
 * optional, so these routes resolve it themselves rather than through `profile`.
 */
function apiKeyRoutes<A extends AuthMode>(path: "/api/v1/api-keys" | "/api/api-keys", auth: A) {
  return [
    // The caller's keys, newest first, shown by suffix only
    route(`GET ${path}`, {
      auth,
      query: listApiKeysQuerySchema,
      response: apiKeyListResponse,
      handle: async ({ db, query, caller }) => {
        const profileId = caller?.kind === "apiKey" ? resolveProfileId(caller, query.profileId) : query.profileId;
        const page = await db((tx) => listApiKeys(tx, { profileId }, pageOf(query)));
        return { apiKeys: page.rows.map(serializeApiKey), nextCursor: page.nextCursor };
      },
    }),
    // Create a key for a profile; the full key is in this response and nowhere else
    route(`POST ${path}`, {
      auth: "session",
      body: createApiKeySchema,
      response: apiKeyCreatedResponse,
      status: 201,
      handle: async ({ db, body, caller }) => {
        const { row, key } = await db((tx) => createApiKey(tx, caller.userId, body));
        return created({
          success: true as const,
          apiKey: {
            id: row.id,
            name: row.name,
            key,
            profileId: row.profile_id,
            status: row.status,
            createdAt: row.created_at.toISOString(),
          },
          warning: KEY_WARNING,
        });
      },
    }),
    // Revoke a key, effective from the next request
    route(`DELETE ${path}/:keyId`, {
      auth,
      response: apiKeyRevokedResponse,
      handle: async ({ db, params }) => {
        await db((tx) => revokeApiKey(tx, params.keyId));
        return { success: true as const, message: "API key revoked" };
      },
    }),
  ];
}

export const apiKeyRoutesV1 = apiKeyRoutes("/api/v1/api-keys", "any");
export const apiKeyRoutesBrowser = apiKeyRoutes("/api/api-keys", "session");
