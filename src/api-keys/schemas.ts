import { z } from "zod";
import { pageQuerySchema } from "../core/pagination.js";

export const createApiKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  profileId: z.uuid(),
});

export const listApiKeysQuerySchema = pageQuerySchema.extend({ profileId: z.uuid().optional() });

export const KEY_WARNING = "Save this key now. It will not be shown again.";

/** A key as lists show it: by its last characters only. */
export const apiKeySchema = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  key: z.string().startsWith("..."),
  profile_id: z.uuid(),
  status: z.string(),
  created_at: z.iso.datetime(),
  last_used_at: z.iso.datetime().nullable(),
});

export const apiKeyListResponse = z.strictObject({ apiKeys: z.array(apiKeySchema), nextCursor: z.string().nullable() });

/** The one answer that carries the full key. */
export const apiKeyCreatedResponse = z.strictObject({
  success: z.literal(true),
  apiKey: z.strictObject({
    id: z.uuid(),
    name: z.string(),
    key: z.string().startsWith("ak_"),
    profileId: z.uuid(),
    status: z.string(),
    createdAt: z.iso.datetime(),
  }),
  warning: z.string(),
});

export const apiKeyRevokedResponse = z.strictObject({ success: z.literal(true), message: z.string() });
