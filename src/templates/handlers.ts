import { route } from "../core/api.js";
import { created } from "../core/http.js";
import { pageOf } from "../core/pagination.js";
import { resolveProfileId } from "../core/profile-scope.js";
import {
  createTemplateSchema,
  listTemplatesQuerySchema,
  templateDeletedResponse,
  templateListResponse,
  templateResponse,
  templateSavedResponse,
  updateTemplateSchema,
} from "./schemas.js";
import { serializeTemplate } from "./serialize.js";
import { asNameConflict, createTemplate, deleteTemplate, getTemplateOrThrow, listTemplates, updateTemplate } from "./templates.js";

// The profile's templates, newest first: filter by category, favorites and a search of name and content
export const listTemplatesRoute = route("GET /api/v1/templates", {
  auth: "any",
  query: listTemplatesQuerySchema,
  profile: "query",
  response: templateListResponse,
  handle: async ({ db, query, profileId }) => {
    const filter = { profileId, category: query.category, favorites: query.favorites === "true", search: query.search };
    const page = await db((tx) => listTemplates(tx, filter, pageOf(query)));
    return { templates: page.rows.map(serializeTemplate), nextCursor: page.nextCursor };
  },
});

// Save a template (owners and admins)
export const createTemplateRoute = route("POST /api/v1/templates", {
  auth: "any",
  body: createTemplateSchema,
  profile: "body",
  response: templateSavedResponse,
  status: 201,
  handle: async ({ db, body, caller, profileId }) => {
    const row = await db((tx) => createTemplate(tx, { ...body, profileId, userId: caller.userId })).catch((error: unknown) => {
      throw asNameConflict(error, body.name);
    });
    return created({ success: true as const, template: serializeTemplate(row) });
  },
});

// One template with its media and variables
export const getTemplateRoute = route("GET /api/v1/templates/:templateId", {
  auth: "any",
  response: templateResponse,
  handle: async ({ db, params }) => ({ template: serializeTemplate(await db((tx) => getTemplateOrThrow(tx, params.templateId))) }),
});

// Change a template (owners and admins) or count a use of it (`increment_usage`, any member)
export const updateTemplateRoute = route("PATCH /api/v1/templates/:templateId", {
  auth: "any",
  body: updateTemplateSchema,
  response: templateSavedResponse,
  handle: async ({ db, params, body, caller }) => {
    const { profileId, ...changes } = body;
    if (profileId !== undefined) resolveProfileId(caller, profileId);
    const row = await db((tx) => updateTemplate(tx, params.templateId, changes)).catch((error: unknown) => {
      throw asNameConflict(error, changes.name);
    });
    return { success: true as const, template: serializeTemplate(row) };
  },
});

// Remove a template (owners and admins); posts made from it keep their content
export const deleteTemplateRoute = route("DELETE /api/v1/templates/:templateId", {
  auth: "any",
  response: templateDeletedResponse,
  handle: async ({ db, params }) => {
    await db((tx) => deleteTemplate(tx, params.templateId));
    return { success: true as const };
  },
});

export const templateRoutes = [listTemplatesRoute, createTemplateRoute, getTemplateRoute, updateTemplateRoute, deleteTemplateRoute];
