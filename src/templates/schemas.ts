import { z } from "zod";
import { catalog, platformIds } from "../platforms/catalog.js";
import { mediaItemSchema, platformSchema } from "../posts/schemas.js";

/**
 * The longest content a template may hold: the largest text any network publishes (Facebook's 63,206 characters
 * today). Each network's own limit is checked on the rendered text when a post is made from the template.
 */
export const maxTemplateContentLength = Math.max(
  ...Object.values(catalog).flatMap((c) => (c.publish.maxTextLength === null ? [] : [c.publish.maxTextLength])),
);

/** Code points, as the database's char_length counts them. */
const maxCodePoints = (max: number) => (s: string) => [...s].length <= max;

const name = z.string().trim().min(1, "Must not be empty").max(100);
const description = z.string().max(500);
const content = z
  .string()
  .refine((s) => s.trim().length > 0, "Must not be empty")
  .refine(maxCodePoints(maxTemplateContentLength), `At most ${maxTemplateContentLength} characters (the largest any network takes)`);
const category = z.string().trim().min(1, "Must not be empty").max(50).refine(maxCodePoints(50), "At most 50 characters");
const platforms = z
  .array(platformSchema)
  .max(platformIds.length)
  .refine((list) => new Set(list).size === list.length, "Each platform may appear once");
const media = z.array(mediaItemSchema).max(10);

export const createTemplateSchema = z.strictObject({
  profileId: z.uuid().optional(),
  name,
  description: description.nullable().optional(),
  content,
  platforms: platforms.optional(),
  category: category.nullable().optional(),
  media: media.optional(),
  is_favorite: z.boolean().optional(),
});
export type CreateTemplateInput = z.infer<typeof createTemplateSchema>;

export const updateTemplateSchema = z
  .strictObject({
    profileId: z.uuid().optional(),
    name: name.optional(),
    description: description.nullable().optional(),
    content: content.optional(),
    platforms: platforms.optional(),
    category: category.nullable().optional(),
    media: media.optional(),
    is_favorite: z.boolean().optional(),
    increment_usage: z.boolean().optional(),
  })
  .refine((b) => Object.entries(b).some(([k, v]) => k !== "profileId" && v !== undefined), {
    message: "Send at least one field to change",
    path: ["(body)"],
  });
export type UpdateTemplateInput = Omit<z.infer<typeof updateTemplateSchema>, "profileId">;

export const listTemplatesQuerySchema = z.strictObject({
  profileId: z.uuid().optional(),
  category: z.string().max(50).optional(),
  favorites: z.enum(["true", "false"]).optional(),
  search: z.string().trim().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional(),
});

export const templateProfileQuerySchema = z.strictObject({ profileId: z.uuid().optional() });

const templateMediaSchema = z.strictObject({
  id: z.uuid(),
  media_id: z.uuid().nullable(),
  file_path: z.string().nullable(),
  public_url: z.string(),
  mime_type: z.string(),
  file_size: z.number().nullable(),
  file_name: z.string().nullable(),
});

export const templateSchema = z.strictObject({
  id: z.uuid(),
  profile_id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  content: z.string(),
  platforms: z.array(z.string()),
  category: z.string().nullable(),
  is_favorite: z.boolean(),
  usage_count: z.number().int(),
  variables: z.array(z.string()),
  media: z.array(templateMediaSchema),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});

export const templateListResponse = z.strictObject({ templates: z.array(templateSchema), nextCursor: z.string().nullable() });
export const templateResponse = z.strictObject({ template: templateSchema });
export const templateSavedResponse = z.strictObject({ success: z.literal(true), template: templateSchema });
export const templateDeletedResponse = z.strictObject({ success: z.literal(true) });
