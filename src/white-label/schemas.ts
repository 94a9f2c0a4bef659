import { z } from "zod";
import { appPlatforms } from "./apps.js";

// Every owner route names the account through one of its profiles (`?profileId=`, optional): the caller must be that
// profile's billing owner (403 otherwise). Without it, the caller's own account.
export const accountQuerySchema = z.strictObject({ profileId: z.uuid().optional() });

// GET /api/v1/white-label/branding?profileId= (any member of the profile)
export const brandingQuerySchema = z.strictObject({ profileId: z.uuid() });

const httpUrl = z
  .string()
  .trim()
  .max(2048)
  .refine((v) => URL.canParse(v) && ["https:", "http:"].includes(new URL(v).protocol), "Must be an http(s) URL");

// PUT /api/v1/white-label/branding: the whole branding (a field left out is cleared).
export const brandingBodySchema = z.strictObject({
  displayName: z.string().trim().min(1, "Required").max(60, "At most 60 characters"),
  logoMediaId: z.uuid().nullable().optional(),
  accentColor: z
    .string()
    .regex(/^#[0-9A-Fa-f]{6}$/, "A colour as #rrggbb")
    .transform((v) => v.toLowerCase())
    .nullable()
    .optional(),
  supportUrl: httpUrl.nullable().optional(),
});
export type BrandingBody = z.infer<typeof brandingBodySchema>;

export const appPlatformSchema = z.enum(appPlatforms, { error: `One of ${appPlatforms.join(", ")} (Bluesky has no OAuth app)` });

// PUT /api/v1/white-label/apps/{platform}: the app's client (Meta: app id and secret; TikTok: client key and secret;
// Google: OAuth client id and secret) and the network's extras in `options` (checked per network).
export const appBodySchema = z.strictObject({
  clientId: z.string().trim().min(1, "Required").max(256).regex(/^\S+$/, "No spaces"),
  clientSecret: z.string().min(1, "Required").max(512).regex(/^\S+$/, "No spaces"),
  options: z.record(z.string(), z.unknown()).default({}),
});
export type AppBody = z.infer<typeof appBodySchema>;

export const brandingSchema = z.strictObject({
  displayName: z.string(),
  logoMediaId: z.uuid().nullable(),
  logoUrl: z.string().nullable(),
  accentColor: z.string().nullable(),
  supportUrl: z.string().nullable(),
  updatedAt: z.string(),
});

export const appSchema = z.strictObject({
  id: z.uuid(),
  platform: appPlatformSchema,
  clientId: z.string(),
  /** Always true: the secret is stored (sealed) and never returned. */
  hasClientSecret: z.literal(true),
  options: z.record(z.string(), z.unknown()),
  validatedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const whiteLabelResponse = z.strictObject({
  whiteLabel: z.strictObject({
    /** The add-on is held now (branding shown, the apps used for new connections). */
    active: z.boolean(),
    branding: brandingSchema.nullable(),
    apps: z.array(appSchema),
  }),
});

export const brandingResponse = z.strictObject({ branding: brandingSchema });
export const appsResponse = z.strictObject({ apps: z.array(appSchema) });
export const appResponse = z.strictObject({ app: appSchema });
export const successResponse = z.strictObject({ success: z.literal(true) });

export const effectiveBrandingResponse = z.strictObject({
  branding: z.strictObject({
    whiteLabel: z.boolean(),
    displayName: z.string(),
    logoUrl: z.string().nullable(),
    accentColor: z.string(),
    supportUrl: z.string().nullable(),
  }),
});
