import { z } from "zod";
import { isMediaType, mediaTypeIds, normalizeMimeType, type MediaType } from "./limits.js";

const controlCharacters = /[\u0000-\u001f\u007f]/;

export const uploadUrlSchema = z.strictObject({
  profileId: z.uuid().optional(),
  fileName: z
    .string()
    .trim()
    .min(1)
    .max(255)
    .refine((name) => !controlCharacters.test(name), "Must not contain control characters"),
  contentType: z
    .string()
    .max(255)
    .transform(normalizeMimeType)
    .refine(isMediaType, { error: (issue) => `Unsupported media type '${String(issue.input)}'; send one of ${mediaTypeIds.join(", ")}` })
    .transform((value) => value as MediaType),
  fileSize: z.number().int().min(1, "Must be at least 1 byte").max(Number.MAX_SAFE_INTEGER),
});

export type UploadUrlInput = z.infer<typeof uploadUrlSchema>;

export const deleteMediaSchema = z.strictObject({
  profileId: z.uuid().optional(),
  filePath: z.string().min(1).max(1024),
});

/** A media record as the API answers it (`post_id` is empty and `sort_order` 0 until a post uses it). */
export const mediaSchema = z.strictObject({
  id: z.uuid(),
  post_id: z.string(),
  file_path: z.string(),
  public_url: z.string(),
  mime_type: z.string(),
  file_size: z.number().int(),
  file_name: z.string(),
  sort_order: z.number().int(),
  created_at: z.iso.datetime(),
});

export const uploadUrlResponse = z.strictObject({
  upload: z.strictObject({ bucket: z.string(), path: z.string(), token: z.string(), signedUrl: z.string() }),
  media: mediaSchema,
});

export const mediaDeletedResponse = z.strictObject({ success: z.literal(true), filePath: z.string() });
