import { z } from "zod";
import { platformIds } from "../platforms/catalog.js";
import { mediaItemSchema, platformSchema } from "../posts/schemas.js";
import { MAX_OCCURRENCES, recurrencePatterns } from "./rules.js";

const weekday = z.number().int().min(0, "0–6 (Sunday–Saturday)").max(6, "0–6 (Sunday–Saturday)");

/** The contract's `day_of_week` / `day_of_month`, several days for weekly, and an RRULE for `custom`. */
export const recurrenceConfigSchema = z.strictObject({
  day_of_week: weekday.optional(),
  days_of_week: z.array(weekday).min(1).max(7).optional(),
  day_of_month: z.number().int().min(1, "1–31").max(31, "1–31").optional(),
  rrule: z.string().trim().min(1).max(500).optional(),
});

const timeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, "Expected a time of day HH:MM or HH:MM:SS (00:00 to 23:59:59)");
/** The zone is checked against the runtime's IANA database when the schedule is compiled (400 naming `timezone`). */
const timezone = z.string().min(1).max(64);
const instant = z.iso.datetime({ offset: true, message: "Expected an ISO-8601 date-time with an offset, e.g. 2027-01-01T09:00:00Z" });
const variables = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "A variable name"), z.string().max(10_000));

const contentFields = {
  content: z.string().max(100_000).optional(),
  templateId: z.uuid().optional(),
  variables: variables.optional(),
  platforms: z.array(platformSchema).min(1).max(platformIds.length).optional(),
  media: z.array(mediaItemSchema).max(10).optional(),
};

export const createScheduleSchema = z
  .strictObject({
    profileId: z.uuid().optional(),
    name: z.string().trim().min(1).max(200),
    ...contentFields,
    recurrencePattern: z.enum(recurrencePatterns),
    recurrenceConfig: recurrenceConfigSchema.default({}),
    timeOfDay,
    timezone,
    startsAt: instant.optional(),
    endsAt: instant.optional(),
    maxOccurrences: z.number().int().min(1).max(MAX_OCCURRENCES).optional(),
    isActive: z.boolean().default(true),
  })
  .superRefine((body, ctx) => {
    if (body.content !== undefined && body.templateId !== undefined) {
      ctx.addIssue({ code: "custom", path: ["templateId"], message: "Send content or templateId, not both" });
    }
    if (body.content === undefined && body.templateId === undefined) {
      ctx.addIssue({ code: "custom", path: ["content"], message: "Required: the text to post (or a templateId)" });
    }
    if (body.variables !== undefined && body.templateId === undefined) {
      ctx.addIssue({ code: "custom", path: ["variables"], message: "Only meaningful with templateId" });
    }
    if (body.platforms && new Set(body.platforms).size !== body.platforms.length) {
      ctx.addIssue({ code: "custom", path: ["platforms"], message: "Each platform may appear once" });
    }
  });
export type CreateScheduleInput = z.infer<typeof createScheduleSchema>;

export const updateScheduleSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    content: z.string().max(100_000).optional(),
    templateId: z.uuid().nullable().optional(),
    variables: variables.optional(),
    platforms: z.array(platformSchema).min(1).max(platformIds.length).optional(),
    media: z.array(mediaItemSchema).max(10).optional(),
    recurrencePattern: z.enum(recurrencePatterns).optional(),
    recurrenceConfig: recurrenceConfigSchema.optional(),
    timeOfDay: timeOfDay.optional(),
    timezone: timezone.optional(),
    startsAt: instant.nullable().optional(),
    endsAt: instant.nullable().optional(),
    maxOccurrences: z.number().int().min(1).max(MAX_OCCURRENCES).nullable().optional(),
    isActive: z.boolean().optional(),
  })
  .superRefine((body, ctx) => {
    if (Object.keys(body).length === 0) ctx.addIssue({ code: "custom", path: [], message: "Send at least one field to change" });
    if (body.content !== undefined && body.templateId) {
      ctx.addIssue({ code: "custom", path: ["templateId"], message: "Send content or templateId, not both" });
    }
    if (body.platforms && new Set(body.platforms).size !== body.platforms.length) {
      ctx.addIssue({ code: "custom", path: ["platforms"], message: "Each platform may appear once" });
    }
  });
export type UpdateScheduleInput = z.infer<typeof updateScheduleSchema>;

export const listSchedulesQuerySchema = z.strictObject({
  profileId: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional(),
});

export const occurrencesQuerySchema = z.strictObject({
  count: z.coerce.number().int().min(1).max(100).default(10),
  from: instant.optional(),
});

// ---------------------------------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------------------------------
const isoOrNull = z.iso.datetime().nullable();

/** A schedule as the contract lists it (snake_case), with what else a scheduler's users need to see. */
export const scheduleSchema = z.strictObject({
  id: z.uuid(),
  profile_id: z.uuid(),
  name: z.string(),
  content: z.string().nullable(),
  template_id: z.uuid().nullable(),
  variables: z.record(z.string(), z.string()),
  platforms: z.array(z.string()),
  media: z.array(z.record(z.string(), z.unknown())),
  recurrence_pattern: z.enum(recurrencePatterns),
  recurrence_config: z.record(z.string(), z.unknown()),
  time_of_day: z.string(),
  timezone: z.string(),
  starts_at: isoOrNull,
  ends_at: isoOrNull,
  max_occurrences: z.number().int().nullable(),
  is_active: z.boolean(),
  paused_reason: z.string().nullable(),
  next_scheduled_at: isoOrNull,
  last_posted_at: isoOrNull,
  occurrence_count: z.number().int(),
  skipped_count: z.number().int(),
  last_error: z.string().nullable(),
  last_error_at: isoOrNull,
  /** Time rules that apply to this schedule, in words (e.g. a monthly day 31 in shorter months). */
  notes: z.array(z.string()),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});

export const warningSchema = z.strictObject({ code: z.string(), message: z.string() });

/** The contract's create answer names `recurrencePattern`, `timeOfDay` and `nextScheduledAt` (camelCase) too. */
export const savedScheduleSchema = scheduleSchema.extend({
  recurrencePattern: z.enum(recurrencePatterns),
  timeOfDay: z.string(),
  nextScheduledAt: isoOrNull,
});

export const scheduleSavedResponse = z.strictObject({ success: z.literal(true), schedule: savedScheduleSchema, warnings: z.array(warningSchema) });
export const scheduleListResponse = z.strictObject({ schedules: z.array(scheduleSchema), nextCursor: z.string().nullable() });
export const scheduleResponse = z.strictObject({ schedule: scheduleSchema });
export const scheduleDeletedResponse = z.strictObject({ success: z.literal(true), canceledPosts: z.number().int() });
export const occurrencesResponse = z.strictObject({
  occurrences: z.array(z.strictObject({ scheduledAt: z.iso.datetime(), localTime: z.string() })),
});
