import { route } from "../core/api.js";
import { AppError } from "../core/errors.js";
import { created } from "../core/http.js";
import { pageOf, pageOfRows, pageQuerySchema, type Page } from "../core/pagination.js";
import {
  createProfile,
  deleteProfile,
  getProfileOrThrow,
  getProfileSql,
  listProfiles,
  listProfilesSql,
  profileOrThrow,
  serializeProfile,
  updateProfile,
  type ProfileRow,
} from "./profiles.js";
import {
  createProfileSchema,
  profileChangedResponse,
  profileDeletedResponse,
  profileListResponse,
  profileResponse,
  updateProfileSchema,
} from "./schemas.js";

// The profiles the caller belongs to (an API key sees its own profile only)
export const listProfilesRoute = route("GET /api/v1/profiles", {
  auth: "any",
  query: pageQuerySchema,
  response: profileListResponse,
  handle: async ({ db, query }) => profileList(await db((tx) => listProfiles(tx, pageOf(query)))),
  // An API key's list in one round trip (the key lookup and the list in one message): the same statement and page.
  apiKeyRead: ({ query }) => {
    const page = pageOf(query);
    return { sql: listProfilesSql(page), answer: (rows) => profileList(pageOfRows(rows as ProfileRow[], page)) };
  },
});

const profileList = (page: Page<ProfileRow>) => ({ profiles: page.rows.map(serializeProfile), nextCursor: page.nextCursor });

// Create a profile; the caller becomes its owner
export const createProfileRoute = route("POST /api/v1/profiles", {
  auth: "any",
  body: createProfileSchema,
  response: profileChangedResponse,
  status: 201,
  handle: async ({ db, body, caller }) => {
    if (caller.kind === "apiKey") {
      throw new AppError("forbidden", "API keys are scoped to one profile; create profiles from a signed-in session");
    }
    const profile = await db((tx) => createProfile(tx, caller.userId, body));
    return created({ success: true as const, profile: serializeProfile(profile) });
  },
});

export const getProfileRoute = route("GET /api/v1/profiles/:profileId", {
  auth: "any",
  response: profileResponse,
  handle: async ({ db, params }) => ({ profile: serializeProfile(await db((tx) => getProfileOrThrow(tx, params.profileId))) }),
  // An API key's read in one round trip with its lookup: the same statement (a key sees its own profile only).
  apiKeyRead: ({ params }) => ({
    sql: getProfileSql(params.profileId),
    answer: (rows) => ({ profile: serializeProfile(profileOrThrow(rows as ProfileRow[])) }),
  }),
});

// Rename, describe or move time zone (owner or admin)
export const updateProfileRoute = route("PATCH /api/v1/profiles/:profileId", {
  auth: "any",
  body: updateProfileSchema,
  response: profileChangedResponse,
  handle: async ({ db, params, body }) => {
    const profile = await db((tx) => updateProfile(tx, params.profileId, body));
    return { success: true as const, profile: serializeProfile(profile) };
  },
});

// Delete a profile and everything in it (owner only)
export const deleteProfileRoute = route("DELETE /api/v1/profiles/:profileId", {
  auth: "any",
  response: profileDeletedResponse,
  handle: async ({ db, params }) => {
    await db((tx) => deleteProfile(tx, params.profileId));
    return { success: true as const };
  },
});

export const profileRoutes = [listProfilesRoute, createProfileRoute, getProfileRoute, updateProfileRoute, deleteProfileRoute];
