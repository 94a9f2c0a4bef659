import { z } from "zod";
import { timezoneSchema } from "./timezone.js";

export { timezoneSchema };

export const createProfileSchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  description: z.string().max(1000).nullish(),
  timezone: timezoneSchema.optional(),
});

export const updateProfileSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    description: z.string().max(1000).nullable().optional(),
    timezone: timezoneSchema.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, "Send at least one of name, description, timezone");

/** A profile as the API answers it, with the caller's own role in it. */
export const profileSchema = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  timezone: z.string(),
  role: z.string(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});

export const profileListResponse = z.strictObject({ profiles: z.array(profileSchema), nextCursor: z.string().nullable() });
export const profileResponse = z.strictObject({ profile: profileSchema });
export const profileChangedResponse = z.strictObject({ success: z.literal(true), profile: profileSchema });
export const profileDeletedResponse = z.strictObject({ success: z.literal(true) });
