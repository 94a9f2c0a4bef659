import { randomUUID } from "node:crypto";
import { z } from "zod";
import { open, seal } from "../core/crypto.js";
import { env, facebookLoginConfigIdSchema, type Env } from "../core/env.js";
import { AppError } from "../core/errors.js";
import { log } from "../core/log.js";
import type { PlatformRegistry } from "../platforms/registry.js";
import { adapterConfig, createPlatformRegistry, getAdapter } from "../platforms/registry.js";
import { catalog, type Platform, type PublishablePlatform } from "../platforms/catalog.js";
import { PlatformError, type PlatformAdapter } from "../platforms/types.js";
import type { ServiceDb, Tx } from "../core/pg.js";

/**
 * A white-label account's own network apps (bring your own OAuth client), and which adapter a connection uses.
 *
 * - New connections of a profile use its billing owner's app for the network while the owner's subscription carries
 *   the add-on, or until `white_label_apps_until` once it was lost (the end of that billing period); ours otherwise.
 *   The app chosen at connect/init travels with the flow's state to the callback, and the connection records it
 *   (`connections.oauth_app_id`).
 * - A connection's tokens are bound to the client that obtained them, so refreshing and publishing always use the app
 *   the connection was made with (`adapterForConnection`), add-on or not; a connection made with ours (null) uses ours.
 * - Secrets are sealed for their row (src/core/crypto.ts) and opened only here, on the service connection.
 */

/** The networks an account can bring its own app for (every publishable network with an OAuth client). */
export const appPlatforms = ["twitter", "linkedin", "instagram", "facebook", "threads", "tiktok", "youtube", "pinterest", "reddit"] as const;
export type AppPlatform = (typeof appPlatforms)[number];

export function isAppPlatform(value: string): value is AppPlatform {
  return (appPlatforms as readonly string[]).includes(value);
}

/** The environment variables holding our own client for each network (overridden per app when building its adapter). */
const credentialVars: Record<AppPlatform, readonly [keyof Env, keyof Env]> = {
  twitter: ["TWITTER_CLIENT_ID", "TWITTER_CLIENT_SECRET"],
  linkedin: ["LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"],
  instagram: ["INSTAGRAM_CLIENT_ID", "INSTAGRAM_CLIENT_SECRET"],
  facebook: ["FACEBOOK_CLIENT_ID", "FACEBOOK_CLIENT_SECRET"],
  threads: ["THREADS_CLIENT_ID", "THREADS_CLIENT_SECRET"],
  tiktok: ["TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"],
  youtube: ["YOUTUBE_CLIENT_ID", "YOUTUBE_CLIENT_SECRET"],
  pinterest: ["PINTEREST_APP_ID", "PINTEREST_APP_SECRET"],
  reddit: ["REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"],
};

/**
 * What each network's app needs besides its client id and secret (non-secret, stored in `options`): Meta's Facebook
 * Login for Business configuration id, Google's project id and whether the project passed Google's audit (uploads
 * from unaudited projects end private), TikTok's audit status (unaudited apps post to private accounts only), and
 * Reddit's User-Agent (Reddit requires each app's own descriptive one).
 */
export const appOptionSchemas = {
  twitter: z.strictObject({}),
  linkedin: z.strictObject({}),
  instagram: z.strictObject({}),
  facebook: z.strictObject({ configId: facebookLoginConfigIdSchema.optional() }),
  threads: z.strictObject({}),
  tiktok: z.strictObject({ appAudited: z.boolean().optional() }),
  youtube: z.strictObject({
    projectId: z.string().trim().min(1).max(64).regex(/^[a-z][a-z0-9-]*$/, "A Google Cloud project id (lowercase letters, digits and -)").optional(),
    projectAudited: z.boolean().optional(),
  }),
  pinterest: z.strictObject({}),
  reddit: z.strictObject({
    userAgent: z
      .string()
      .trim()
      .min(10)
      .max(256)
      .regex(/^[\x20-\x7e]+$/, "Printable ASCII only")
      .describe("Reddit's format: <platform>:<app id>:<version> (by /u/<username>)"),
  }),
} satisfies Record<AppPlatform, z.ZodType>;

/** An app row as the service connection reads it (the secret still sealed). */
export interface AppRow {
  id: string;
  user_id: string;
  platform: AppPlatform;
  client_id: string;
  client_secret_enc: string;
  options: Record<string, unknown>;
  updated_at: Date;
}

const appColumns = "a.id, a.user_id, a.platform, a.client_id, a.client_secret_enc, a.options, a.updated_at";

export function sealAppSecret(secret: string, appId: string): string {
  return seal(secret, { purpose: "white_label_apps.client_secret", rowId: appId });
}

/** A new app's id (chosen by the API: the secret is sealed for it). */
export const newAppId = (): string => randomUUID();

/** The adapter options an app's stored options map to. */
function adapterOptions(platform: AppPlatform, options: Record<string, unknown>): Record<string, unknown> {
  switch (platform) {
    case "reddit":
      return typeof options.userAgent === "string" ? { userAgent: options.userAgent } : {};
    case "tiktok":
      return typeof options.appAudited === "boolean" ? { appAudited: options.appAudited } : {};
    case "youtube":
      return typeof options.projectAudited === "boolean" ? { projectAudited: options.projectAudited } : {};
    case "facebook":
      return typeof options.configId === "string" ? { configId: options.configId } : {};
    default:
      return {};
  }
}

/**
 * The adapter for one client (the account's app): the network's hosts and options as this home configures them (the
 * local home: its sandbox), with the app's client and options over them.
 */
export function adapterForClient(
  platform: AppPlatform,
  client: { clientId: string; clientSecret: string; options?: Record<string, unknown> },
): Promise<PlatformAdapter> {
  const e = env();
  const [idVar, secretVar] = credentialVars[platform];
  // The app's credentials stand in for ours, so a server without its own client for the network still serves the app.
  const withClient = { ...e, [idVar]: client.clientId, [secretVar]: client.clientSecret } as Env;
  const config = {
    ...adapterConfig(platform, withClient),
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    ...adapterOptions(platform, client.options ?? {}),
  };
  return createPlatformRegistry(e, { [platform]: config }).get(platform);
}

let cache: { for: Env; adapters: Map<string, Promise<PlatformAdapter>> } | undefined;

/** The adapter for a stored app, built once per app version (its id and updated_at); its module loads on first use. */
export function adapterForApp(app: AppRow): Promise<PlatformAdapter> {
  const e = env();
  if (cache?.for !== e) cache = { for: e, adapters: new Map() };
  const key = `${app.id}:${app.updated_at.getTime()}`;
  let adapter = cache.adapters.get(key);
  if (!adapter) {
    const clientSecret = open(app.client_secret_enc, { purpose: "white_label_apps.client_secret", rowId: app.id });
    const pending = adapterForClient(app.platform, { clientId: app.client_id, clientSecret, options: app.options });
    for (const k of cache.adapters.keys()) if (k.startsWith(`${app.id}:`)) cache.adapters.delete(k);
    const adapters = cache.adapters;
    adapters.set(key, pending);
    // A module that failed to load is tried again on next use.
    pending.catch(() => {
      if (adapters.get(key) === pending) adapters.delete(key);
    });
    adapter = pending;
  }
  return adapter;
}

async function appById(tx: Tx, appId: string): Promise<AppRow | undefined> {
  const [row] = await tx.unsafe<AppRow[]>(`select ${appColumns} from public.white_label_apps a where a.id = $1`, [appId]);
  return row;
}

/**
 * The app new connections of `profileId` on `platform` use (service connection): its billing owner's app while the
 * add-on is held or its apps are still in use after losing it (`white_label_apps_until`); undefined: ours.
 */
export async function appForNewConnection(tx: Tx, profileId: string, platform: Platform): Promise<AppRow | undefined> {
  if (!isAppPlatform(platform)) return undefined;
  const [row] = await tx.unsafe<AppRow[]>(
    `select ${appColumns}
     from public.profiles p
     join public.billing_subscriptions s on s.user_id = p.created_by
     join public.white_label_apps a on a.user_id = p.created_by and a.platform = $2
     where p.id = $1 and (s.white_label or s.white_label_apps_until > now())`,
    [profileId, platform],
  );
  return row;
}

/**
 * The adapter a new connection of `profileId` on `platform` goes through, and the app it belongs to (null: ours).
 * Run on the service connection (the app's secret is not readable as the caller).
 */
export async function adapterForNewConnection(
  tx: Tx,
  platforms: PlatformRegistry,
  profileId: string,
  platform: Platform,
): Promise<{ adapter: PlatformAdapter; appId: string | null }> {
  const app = await appForNewConnection(tx, profileId, platform);
  return app ? { adapter: await adapterForApp(app), appId: app.id } : { adapter: await platforms.get(platform), appId: null };
}

/**
 * The adapter for a flow's callback: the app chosen when the flow started (it must still belong to the profile's
 * billing owner), or ours.
 */
export async function adapterForFlow(
  tx: Tx,
  platforms: PlatformRegistry,
  flow: { profileId: string; platform: Platform; appId: string | null },
): Promise<PlatformAdapter> {
  if (!flow.appId) return platforms.get(flow.platform);
  const [app] = await tx.unsafe<AppRow[]>(
    `select ${appColumns} from public.white_label_apps a join public.profiles p on p.created_by = a.user_id
     where a.id = $1 and p.id = $2 and a.platform = $3`,
    [flow.appId, flow.profileId, flow.platform],
  );
  if (!app) throw new PlatformError("auth_error", "The app this connection was started with is no longer available");
  return adapterForApp(app);
}

/**
 * The adapter a stored connection refreshes and publishes through: the app it was made with (its tokens are bound to
 * that client), else ours. `row` is the connection as read on the service connection (`oauth_app_id` selected).
 */
export async function adapterForConnection(
  tx: Tx,
  row: { platform: Platform; oauth_app_id?: string | null },
  platforms?: PlatformRegistry,
): Promise<PlatformAdapter> {
  const ours = () => (platforms ? platforms.get(row.platform) : getAdapter(row.platform));
  if (!row.oauth_app_id) return ours();
  const app = await appById(tx, row.oauth_app_id);
  if (!app) {
    log.error("a connection's app is missing", { appId: row.oauth_app_id });
    throw new PlatformError("auth_error", "The app this connection was made with no longer exists; reconnect the account");
  }
  return adapterForApp(app);
}

/**
 * As `adapterForConnection`, for credentials `liveCredentials` just read (the publish path and account sync): no
 * database round trip unless the connection was made with a customer's app.
 */
export async function adapterForCredentials(
  serviceDb: ServiceDb,
  credentials: { platform: Platform; oauthAppId: string | null },
  platforms?: PlatformRegistry,
): Promise<PlatformAdapter> {
  const row = { platform: credentials.platform, oauth_app_id: credentials.oauthAppId };
  if (!row.oauth_app_id) return platforms ? platforms.get(row.platform) : getAdapter(row.platform);
  return serviceDb((tx) => adapterForConnection(tx, row, platforms));
}

// --- validation on save --------------------------------------------------------------------------------------------

/** A code no network ever issued: exchanging it tells a refused client apart from a refused code. */
const PROBE_CODE = "amplify-white-label-probe";

/**
 * Whether a token endpoint's refusal is about the client (wrong id or secret) rather than the code. OAuth 2.0 answers
 * `invalid_client` (401) or `unauthorized_client`; Meta's Graph answers code 1/101 ("Error validating client
 * secret", "Invalid application ID") or Instagram's "Invalid platform app"; Pinterest and Reddit answer 401.
 */
function refusesClient(error: PlatformError): boolean {
  if (error.details.status === 401) return true;
  const code = error.details.platformCode ?? "";
  if (["invalid_client", "unauthorized_client", "1", "101"].includes(code)) return true;
  return /client secret|invalid application|platform app|client authentication|client key/i.test(error.message);
}

/**
 * Validates an app with a harmless call to the network: the authorization-code exchange with a code that was never
 * issued. A network that knows the client answers that the code is invalid; one that does not answers that the client
 * is. Nothing is created on the network. Throws a 400 naming `clientSecret` when the network refuses the client, 503
 * when it does not answer usefully.
 */
export async function validateApp(
  platform: AppPlatform,
  client: { clientId: string; clientSecret: string; options: Record<string, unknown> },
  redirectUri: string,
): Promise<void> {
  const name = catalog[platform as PublishablePlatform].displayName;
  const adapter = await adapterForClient(platform, client);
  try {
    await adapter.exchangeCode({ code: PROBE_CODE, codeVerifier: "a".repeat(64), redirectUri });
  } catch (error) {
    if (!(error instanceof PlatformError)) throw error;
    if (refusesClient(error)) {
      throw new AppError("validation_error", `${name} did not accept this client id and secret`, {
        details: [{ field: "clientSecret", message: `${name} refused the client credentials: ${error.message}` }],
      });
    }
    if (error.category === "auth_error" || error.category === "unknown") return; // the code was refused: the client is known
    throw new AppError("service_unavailable", `${name} did not answer the check of these credentials (${error.category}); try again shortly`);
  }
  // A network that accepted a code it never issued: nothing to learn from it, and nothing to hold against the app.
}
