import { z } from "zod";

/** GET /api/v1: the API's version, how to authenticate, what it offers and what it costs. */
export const discoveryResponse = z.strictObject({
  name: z.string(),
  version: z.string(),
  auth: z.strictObject({ header: z.string(), scheme: z.string(), browser: z.string() }),
  endpoints: z.array(z.string()),
  billing: z.strictObject({
    apiKeysRequirePaidPlan: z.boolean(),
    inactiveSubscriptionStatus: z.number().int(),
    freeTrial: z.boolean(),
    currency: z.string(),
    plans: z.array(
      z.strictObject({
        id: z.string(),
        name: z.string(),
        pricePerMonth: z.number(),
        profiles: z.number().int().nullable(),
        postsPerMonth: z.number().int().nullable(),
        apiRequestsPerMonth: z.number().int().nullable(),
        apiKeys: z.boolean(),
        webhooks: z.boolean(),
      }),
    ),
  }),
  platforms: z.array(
    z.strictObject({
      platform: z.string(),
      displayName: z.string(),
      supportStatus: z.string(),
      text: z.boolean(),
      images: z.boolean(),
      video: z.boolean(),
      requiresMedia: z.boolean(),
      scheduling: z.boolean(),
      analytics: z.boolean(),
    }),
  ),
  docs: z.string(),
  /** The OpenAPI 3.1 document (also as .yaml). */
  openapi: z.string(),
});
