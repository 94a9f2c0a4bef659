import { z } from "zod";
import { route } from "../core/api.js";
import type { AuthMode } from "../core/auth.js";
import { created } from "../core/http.js";
import { decodeCursor, nextCursor, pageQuerySchema } from "../core/pagination.js";
import { resolveProfileId } from "../core/profile-scope.js";
import { createApiKey, listApiKeys, revokeApiKey, serializeApiKey } from "./api-keys.js";

export const createApiKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  profileId: z.uuid(),
});

const listApiKeysQuerySchema = pageQuerySchema.extend({ profileId: z.uuid().optional() });

export const KEY_WARNING = "Save this key now. It will not be shown again.";

/**
 * The same three handlers serve `/api/v1/api-keys` and the browser's `/api/api-keys` (session only). With an API key
 * one may list and revoke keys, only ever of the key's own profile (RLS enforces it; a `profileId` filter naming
 * another profile answers 404), but never create one: creating a key needs a signed-in session, so a leaked key
 * cannot mint a successor that survives its own revocation (403 `forbidden`).
 */
function apiKeyHandlers<A extends AuthMode>(auth: A) {
  return {
    // GET …/api-keys — the caller's keys, newest first, shown by suffix only
    list: route({
      auth,
      query: listApiKeysQuerySchema,
      handle: async ({ db, query, caller }) => {
        const profileId = caller?.kind === "apiKey" ? resolveProfileId(caller, query.profileId) : query.profileId;
        const page = await db((tx) =>
          listApiKeys(tx, { profileId, limit: query.limit, before: decodeCursor(query.cursor) }),
        );
        return { apiKeys: page.rows.map(serializeApiKey), nextCursor: nextCursor(page) };
      },
    }),
    // POST …/api-keys — create a key for a profile; the full key is in this response and nowhere else
    create: route({
      auth: "session",
      body: createApiKeySchema,
      handle: async ({ db, body, caller }) => {
        const { row, key } = await db((tx) => createApiKey(tx, caller!.userId, body));
        return created({
          success: true,
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
    // DELETE …/api-keys/:keyId — revoke a key, effective from the next request
    revoke: route({
      auth,
      handle: async ({ db, params }) => {
        await db((tx) => revokeApiKey(tx, params.keyId!));
        return { success: true, message: "API key revoked" };
      },
    }),
  };
}

export const apiKeysV1 = apiKeyHandlers("any");
export const apiKeysBrowser = apiKeyHandlers("session");
