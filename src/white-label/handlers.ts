import { route } from "../core/api.js";
import { AppError } from "../core/errors.js";
import { Reply } from "../core/http.js";
import { brandForProfileTx } from "./branding.js";
import {
  accountQuerySchema,
  appBodySchema,
  appPlatformSchema,
  appResponse,
  appsResponse,
  brandingBodySchema,
  brandingResponse,
  effectiveBrandingResponse,
  successResponse,
  whiteLabelResponse,
} from "./schemas.js";
import { serializeApp, serializeBrand, serializeBranding } from "./serialize.js";
import { deleteApp, getBranding, listApps, managedAccount, saveApp, saveBranding } from "./white-label.js";

/**
 * White-label (the add-on): the billing owner's branding and own network apps. Owner routes take the browser session
 * of the account's owner (`?profileId=` names the account through one of its profiles: 403 for anyone but its billing
 * owner, admins included), and answer 402 without the add-on.
 */

const platformOf = (value: string) => {
  const parsed = appPlatformSchema.safeParse(value);
  if (!parsed.success) throw new AppError("not_found", `No white-label app for '${value}': apps exist for ${appPlatformSchema.options.join(", ")}`);
  return parsed.data;
};

// The account's white-label settings: whether the add-on is held, its branding and its apps (never their secrets)
export const getWhiteLabelRoute = route("GET /api/v1/white-label", {
  auth: "session",
  query: accountQuerySchema,
  response: whiteLabelResponse,
  handle: async ({ db, caller, query }) =>
    db(async (tx) => {
      const account = await managedAccount(tx, caller.userId, query.profileId);
      const branding = await getBranding(tx, account.userId);
      const apps = await listApps(tx, account.userId);
      return {
        whiteLabel: { active: account.active, branding: branding ? serializeBranding(branding) : null, apps: apps.map(serializeApp) },
      };
    }),
});

// Set the branding: display name, logo (a media id), accent colour (#rrggbb) and support URL; a field left out is cleared
export const putBrandingRoute = route("PUT /api/v1/white-label/branding", {
  auth: "session",
  query: accountQuerySchema,
  body: brandingBodySchema,
  response: brandingResponse,
  handle: async ({ db, caller, query, body }) =>
    db(async (tx) => {
      const account = await managedAccount(tx, caller.userId, query.profileId);
      return { branding: serializeBranding(await saveBranding(tx, account.userId, body)) };
    }),
});

// The branding a profile's people see (any member; an API key: its own profile): the owner's while the add-on is held, else ours
export const getEffectiveBrandingRoute = route("GET /api/v1/white-label/branding", {
  auth: "any",
  profile: "query",
  service: true,
  query: accountQuerySchema,
  response: effectiveBrandingResponse,
  handle: async ({ serviceDb, profileId }) => ({ branding: serializeBrand(await serviceDb((tx) => brandForProfileTx(tx, profileId))) }),
});

// The account's own network apps (client ids and options; secrets are never returned)
export const listAppsRoute = route("GET /api/v1/white-label/apps", {
  auth: "session",
  query: accountQuerySchema,
  response: appsResponse,
  handle: async ({ db, caller, query }) =>
    db(async (tx) => {
      const account = await managedAccount(tx, caller.userId, query.profileId);
      return { apps: (await listApps(tx, account.userId)).map(serializeApp) };
    }),
});

// Save the account's app for a network, after checking it with the network; new connections of the account's profiles use it
export const putAppRoute = route("PUT /api/v1/white-label/apps/:platform", {
  auth: "session",
  service: true,
  query: accountQuerySchema,
  body: appBodySchema,
  response: appResponse,
  status: [200, 201],
  handle: async ({ db, serviceDb, caller, query, body, params }) => {
    const platform = platformOf(params.platform);
    const account = await db((tx) => managedAccount(tx, caller.userId, query.profileId));
    const saved = await saveApp(db, serviceDb, account, platform, body);
    return new Reply(saved.created ? 201 : 200, { app: serializeApp(saved.row) });
  },
});

// Remove the account's app for a network (409 while connections made with it remain; they refresh through it)
export const deleteAppRoute = route("DELETE /api/v1/white-label/apps/:platform", {
  auth: "session",
  service: true,
  query: accountQuerySchema,
  response: successResponse,
  handle: async ({ db, serviceDb, caller, query, params }) => {
    const platform = platformOf(params.platform);
    const account = await db((tx) => managedAccount(tx, caller.userId, query.profileId));
    await deleteApp(db, serviceDb, account, platform);
    return { success: true as const };
  },
});

export const whiteLabelRoutes = [
  getWhiteLabelRoute,
  putBrandingRoute,
  getEffectiveBrandingRoute,
  listAppsRoute,
  putAppRoute,
  deleteAppRoute,
];
