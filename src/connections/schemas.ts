import { z } from "zod";
import { platformIds } from "../platforms/catalog.js";
import { MAX_RETURN_URL_LENGTH } from "./return-origins.js";

export const platformSchema = z.enum(platformIds);

// --- requests ----------------------------------------------------------------------------------------------------------

export const connectInitSchema = z.strictObject({
  platform: platformSchema,
  /** Where the browser is sent at the end: on APP_URL's origin or an origin the profile's owner registered. */
  returnUrl: z.url({ protocol: /^https?$/ }).max(MAX_RETURN_URL_LENGTH),
  profileId: z.uuid().optional(),
  /** Networks without a consent page (Bluesky): the handle (or DID) and an app password, used once and not stored. */
  credentials: z.strictObject({ identifier: z.string().trim().min(1).max(253), appPassword: z.string().min(1).max(128) }).optional(),
});

export const listConnectionsQuerySchema = z.strictObject({ profileId: z.uuid().optional(), platform: platformSchema.optional() });

export const updateConnectionSchema = z.strictObject({
  /** Keys to set (merged into the current settings); a key set to null is removed. */
  settings: z.record(z.string().max(64), z.unknown()),
});

export const returnOriginsQuerySchema = z.strictObject({ profileId: z.uuid().optional() });

export const addReturnOriginSchema = z.strictObject({
  /** An origin only: `https://app.example.com` (scheme, host, optional port). */
  origin: z.string().max(2048),
  profileId: z.uuid().optional(),
});

export const removeReturnOriginQuerySchema = z.strictObject({ origin: z.string().min(1).max(2048), profileId: z.uuid().optional() });

// --- responses (every success answer, exactly as sent) -------------------------------------------------------------------

const isoDateTime = z.iso.datetime();

export const successResponse = z.strictObject({ success: z.literal(true) });

/** connect/init: the consent page to open (or, for an app-password network, the returnUrl with the outcome). */
export const connectInitResponse = z.strictObject({ url: z.url(), error: z.null() });

export const readinessSchema = z.strictObject({
  status: z.enum(["ready", "needs_reconnect", "not_ready"]),
  canPublish: z.boolean(),
  canSchedule: z.boolean(),
  missingRequirements: z.array(z.string()),
  warnings: z.array(z.string()),
});

const connectionStatusSchema = z.enum(["connected", "needs_reconnect"]);

/** Whether the connection's tokens will keep working (src/connections/health.ts). */
export const tokenHealthSchema = z.strictObject({
  status: z.enum(["ok", "expiring", "needs_reconnect"]),
  /** When the connection stops working unless it is reconnected, when that is known. */
  expiresAt: isoDateTime.optional(),
  /** Why it needs reconnecting (the network's answer, or the expiry that passed). */
  reason: z.string().optional(),
});

/** A place an account can publish to, for the settings that choose one (Pinterest boards, Facebook Pages). */
const destinationSchema = z.strictObject({ id: z.string(), name: z.string() });

/** A connected account: who it is, what its network can do, and whether it can publish now. */
export const connectionSchema = z.strictObject({
  id: z.uuid(),
  platform: platformSchema,
  /** As the network shows it (X handles start with `@`). */
  username: z.string(),
  externalAccountId: z.string(),
  externalAccountName: z.string(),
  connectionStatus: connectionStatusSchema,
  avatarUrl: z.string().nullable(),
  settings: z.record(z.string(), z.unknown()),
  capabilities: z.strictObject({
    text: z.boolean(),
    images: z.boolean(),
    video: z.boolean(),
    scheduling: z.boolean(),
    analytics: z.boolean(),
  }),
  contract: z.strictObject({
    displayName: z.string(),
    supportStatus: z.enum(["full", "partial", "unsupported"]),
    publish: z.strictObject({ supported: z.boolean(), scheduling: z.boolean() }),
    notes: z.array(z.string()),
  }),
  readiness: readinessSchema,
  tokenHealth: tokenHealthSchema,
  /** Only for networks whose settings choose a destination, keyed by kind (`boards`, `pages`). */
  destinations: z.record(z.string(), z.array(destinationSchema)).optional(),
  tokenExpiresAt: isoDateTime.nullable(),
  lastSyncedAt: isoDateTime.nullable(),
  createdAt: isoDateTime,
});

export const listConnectionsResponse = z.strictObject({ connections: z.array(connectionSchema) });

export const connectionResponse = z.strictObject({ connection: connectionSchema });

/** Sync answers the part of the connection a sync can change the meaning of. */
export const syncConnectionResponse = z.strictObject({
  connection: connectionSchema.pick({ id: true, platform: true, connectionStatus: true, readiness: true }),
});

export const returnOriginSchema = z.strictObject({
  origin: z.string(),
  profileId: z.uuid(),
  createdBy: z.uuid(),
  createdAt: isoDateTime,
});

export const listReturnOriginsResponse = z.strictObject({
  /** APP_URL's origin: always allowed, never stored. */
  appOrigin: z.string(),
  origins: z.array(returnOriginSchema),
  /** How many origins a profile may register. */
  limit: z.number().int(),
});

export const returnOriginResponse = z.strictObject({ origin: returnOriginSchema });

/** The OAuth callback answers a 302 redirect to the returnUrl (the outcome in its query), with no body. */
export const redirectResponse = z.never().describe("302 redirect to the returnUrl; no body");
