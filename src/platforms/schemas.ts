import { z } from "zod";
import { platformIds } from "./catalog.js";

/** One network's capability contract, as GET /api/v1/platforms lists it. */
export const platformContractSchema = z.strictObject({
  platform: z.enum(platformIds),
  displayName: z.string(),
  accountType: z.enum(["social_profile", "business_account", "page", "channel", "community"]),
  supportStatus: z.enum(["full", "partial", "unsupported"]),
  scopes: z.array(z.string()),
  publish: z.strictObject({
    supported: z.boolean(),
    text: z.boolean(),
    images: z.boolean(),
    video: z.boolean(),
    requiresMedia: z.boolean(),
    supportedMediaTypes: z.array(z.string()),
    scheduling: z.boolean(),
    maxTextLength: z.number().int().nullable(),
  }),
  analytics: z.strictObject({ supported: z.boolean() }),
  requirements: z.array(z.string()),
  notes: z.array(z.string()),
});

export const platformCatalogResponse = z.strictObject({ platforms: z.array(platformContractSchema) });
