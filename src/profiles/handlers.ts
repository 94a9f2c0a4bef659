import { route } from "../core/api.js";
import { AppError } from "../core/errors.js";
import { created } from "../core/http.js";
import { decodeCursor, nextCursor, pageQuerySchema } from "../core/pagination.js";
import { createProfile, deleteProfile, getProfileOrThrow, listProfiles, serializeProfile, updateProfile } from "./profiles.js";
import { createProfileSchema, updateProfileSchema } from "./schemas.js";

// GET /api/v1/profiles — the profiles the caller belongs to (an API key sees its own profile only)
export const listProfilesHandler = route({
  auth: "any",
  query: pageQuerySchema,
  handle: async ({ db, query }) => {
    const page = await db((tx) => listProfiles(tx, { limit: query.limit, before: decodeCursor(query.cursor) }));
    return {
      profiles: page.rows.map(serializeProfile),
      nextCursor: nextCursor(page),
    };
  },
});

// POST /api/v1/profiles — create a profile; the caller becomes its owner
export const createProfileHandler = route({
  auth: "any",
  body: createProfileSchema,
  handle: async ({ db, body, caller }) => {
    if (caller.kind === "apiKey") {
      throw new AppError("forbidden", "API keys are scoped to one profile; create profiles from a signed-in session");
    }
    const profile = await db((tx) => createProfile(tx, caller.userId, body));
    return created({ success: true, profile: serializeProfile(profile) });
  },
});

// GET /api/v1/profiles/:profileId — one profile
export const getProfileHandler = route({
  auth: "any",
  handle: async ({ db, params }) => ({ profile: serializeProfile(await db((tx) => getProfileOrThrow(tx, params.profileId!))) }),
});

// PATCH /api/v1/profiles/:profileId — rename, describe or move time zone (owner or admin)
export const updateProfileHandler = route({
  auth: "any",
  body: updateProfileSchema,
  handle: async ({ db, params, body }) => {
    const profile = await db((tx) => updateProfile(tx, params.profileId!, body));
    return { success: true, profile: serializeProfile(profile) };
  },
});

// DELETE /api/v1/profiles/:profileId — delete a profile and everything in it (owner only)
export const deleteProfileHandler = route({
  auth: "any",
  handle: async ({ db, params }) => {
    await db((tx) => deleteProfile(tx, params.profileId!));
    return { success: true };
  },
});
