// The one function from its own entry point: the package index would bring the formatting code (and date-fns's
// English locale) into every bundle that parses a schedule.
import { fromZonedTime } from "date-fns-tz/fromZonedTime";
import { z } from "zod";
import { assertUrlWithoutDns, outboundAllowLoopback, UnsafeUrlError } from "../core/net/guard.js";
import { platformIds } from "../platforms/catalog.js";
import { timezoneSchema } from "../profiles/timezone.js";

export const platformSchema = z.enum(platformIds);

/**
 * A media item as the contract sends it: uploaded media by `id` (from POST /api/v1/media/upload-url; the rest of its
 * record may come along and is ignored: the stored record is the truth), or any file by `public_url` and
 * `mime_type`. Unknown extra fields from that record are ignored, not refused.
 *
 * A `public_url` given directly is fetched later by the publish worker, so it must pass every rule of the outbound
 * guard (src/core/net/guard.ts) that needs no DNS: https (plain http only to a loopback host where
 * OUTBOUND_ALLOW_LOOPBACK is on), no credentials, no internal host name, no IP literal in a refused range. The
 * download checks it again, resolved, at every redirect hop. With an `id`, the stored record's URL is used instead.
 */
export const mediaItemSchema = z
  .object({
    id: z.uuid("Expected the id of uploaded media (from POST /api/v1/media/upload-url)").optional(),
    file_path: z.string().max(1024).optional(),
    public_url: z.url({ protocol: /^https?$/ }).optional(),
    mime_type: z.string().regex(/^[a-z]+\/[a-z0-9.+-]+$/i, "Expected a MIME type like image/jpeg").optional(),
    file_size: z.number().int().min(0).optional(),
    file_name: z.string().max(255).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.id !== undefined) return;
    if (m.public_url !== undefined) {
      try {
        assertUrlWithoutDns(m.public_url, { allowLoopback: outboundAllowLoopback() });
      } catch (error) {
        if (!(error instanceof UnsafeUrlError)) throw error;
        ctx.addIssue({ code: "custom", path: ["public_url"], message: error.message });
      }
    }
    if (m.public_url === undefined) ctx.addIssue({ code: "custom", path: ["public_url"], message: "Required unless id names uploaded media" });
    if (m.mime_type === undefined) ctx.addIssue({ code: "custom", path: ["mime_type"], message: "Required with public_url" });
  });

export type MediaItemInput = z.infer<typeof mediaItemSchema>;

/** `{{name}}` values for a post made from a template (src/templates/render.ts): names as the template writes them. */
export const templateVariablesSchema = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "Expected a variable name like product_name"), z.string().max(10_000))
  .refine((v) => Object.keys(v).length <= 100, "At most 100 variables");

const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$/;

export const createPostSchema = z
  .strictObject({
    profileId: z.uuid().optional(),
    platform: platformSchema.optional(),
    platforms: z.array(platformSchema).min(1).max(platformIds.length).optional(),
    content: z.string().max(100_000).optional(),
    // A post made from a template: its content rendered with `variables`; its platforms and media unless given here.
    templateId: z.uuid().optional(),
    variables: templateVariablesSchema.optional(),
    scheduleDate: z.string().regex(isoDateTime, "Expected an ISO-8601 date-time, e.g. 2026-04-12T09:00:00Z").optional(),
    timezone: timezoneSchema.optional(),
    media: z.array(mediaItemSchema).max(10).optional(),
  })
  .superRefine((body, ctx) => {
    if (body.templateId !== undefined && body.content !== undefined) {
      ctx.addIssue({ code: "custom", path: ["content"], message: "Send either content or templateId, not both" });
    }
    if (body.variables !== undefined && body.templateId === undefined) {
      ctx.addIssue({ code: "custom", path: ["variables"], message: "Only meaningful with templateId" });
    }
    if (body.platform && body.platforms) {
      ctx.addIssue({ code: "custom", path: ["platforms"], message: "Send either platform or platforms, not both" });
    }
    if (!body.platform && !body.platforms && body.templateId === undefined) {
      ctx.addIssue({ code: "custom", path: ["platforms"], message: "Required: the platforms to publish to" });
    }
    if (body.platforms && new Set(body.platforms).size !== body.platforms.length) {
      ctx.addIssue({ code: "custom", path: ["platforms"], message: "Each platform may appear once" });
    }
    if (body.templateId === undefined && body.content === undefined) {
      ctx.addIssue({ code: "custom", path: ["content"], message: "Required: the post's text (or templateId)" });
    } else if (body.templateId === undefined && !body.content?.trim() && !body.media?.length) {
      ctx.addIssue({ code: "custom", path: ["content"], message: "Required unless media is attached" });
    }
    if (body.timezone && !body.scheduleDate) {
      ctx.addIssue({ code: "custom", path: ["timezone"], message: "Only meaningful with scheduleDate" });
    }
    if (body.scheduleDate && Number.isNaN(scheduleInstant(body.scheduleDate, body.timezone).getTime())) {
      ctx.addIssue({ code: "custom", path: ["scheduleDate"], message: "Not a real date-time" });
    }
  });

export type CreatePostInput = z.infer<typeof createPostSchema>;

/**
 * The instant a `scheduleDate` names: as given when it carries an offset (`Z`, `+01:00`), otherwise a wall-clock time
 * in `timezone` (UTC when none is given). Impossible calendar dates (2026-02-30) give an invalid Date, not a rollover.
 */
export function scheduleInstant(scheduleDate: string, timezone?: string): Date {
  const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/.test(scheduleDate);
  if (hasOffset) return new Date(scheduleDate);
  const [date, time] = scheduleDate.split("T");
  const [y, m, d] = (date ?? "").split("-").map(Number);
  const [hh, mm] = (time ?? "").split(":").map(Number);
  // Reject impossible calendar dates (2026-02-30) instead of letting them roll over.
  const probe = new Date(Date.UTC(y!, m! - 1, d!, hh!, mm!));
  if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== m! - 1 || probe.getUTCDate() !== d || hh! > 23 || mm! > 59) {
    return new Date(Number.NaN);
  }
  return fromZonedTime(scheduleDate, timezone ?? "UTC");
}

export const postStatuses = ["scheduled", "publishing", "published", "partially_published", "failed", "canceled"] as const;

export const listPostsQuerySchema = z.strictObject({
  profileId: z.uuid().optional(),
  status: z.enum(postStatuses).optional(),
  /** Only the posts a recurring schedule made (src/recurring). */
  recurringScheduleId: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional(),
});

export const targetStatuses = ["pending", "publishing", "published", "failed", "canceled"] as const;

export const listScheduledQuerySchema = z.strictObject({
  profileId: z.uuid().optional(),
  status: z.enum(targetStatuses).optional(),
  platform: platformSchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

export const retryBodySchema = z.strictObject({ profileId: z.uuid().optional() });

export const jobLogsQuerySchema = z.strictObject({
  profileId: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  platform: platformSchema.optional(),
  status: z.enum(["success", "failed", "rate_limited"]).optional(),
  postId: z.uuid().optional(),
  cursor: z.string().max(200).optional(),
});

export const metricsQuerySchema = z.strictObject({
  profileId: z.uuid().optional(),
  days: z.coerce.number().int().min(1).max(90).default(30),
  platform: platformSchema.optional(),
});

const isoOrNull = z.iso.datetime().nullable();

/** One network's outcome inside a post. */
export const postTargetSchema = z.strictObject({
  id: z.uuid(),
  platform: z.string(),
  status: z.string(),
  external_post_id: z.string().nullable(),
  external_url: z.string().nullable(),
  error_message: z.string().nullable(),
  error_category: z.string().nullable(),
  attempts: z.number().int(),
  published_at: isoOrNull,
  next_attempt_at: isoOrNull,
  /** Present when the target's connection will not be usable when it is due (reconnect before then). */
  warning: z.string().optional(),
});

export const postSchema = z.strictObject({
  id: z.uuid(),
  profile_id: z.uuid(),
  content: z.string(),
  status: z.string(),
  scheduled_for: isoOrNull,
  published_at: isoOrNull,
  created_at: z.iso.datetime(),
  /** The template the post was made from (null when it was not, or the template was deleted since). */
  template_id: z.uuid().nullable(),
  /** The recurring schedule that made the post and the occurrence it is (null for ordinary posts). */
  recurring_schedule_id: z.uuid().nullable(),
  occurrence_at: isoOrNull,
  targets: z.array(postTargetSchema),
  media: z.array(
    z.strictObject({
      id: z.string(),
      public_url: z.string(),
      mime_type: z.string(),
      file_size: z.number().nullable(),
      file_name: z.string().nullable(),
      file_path: z.string().nullable(),
    }),
  ),
});

/** POST /api/v1/post: a scheduled post, or an immediate one with each network's outcome as it stands (published inline, or queued). */
export const createPostResponse = z.union([
  z.strictObject({ success: z.literal(true), postId: z.uuid(), scheduled: z.literal(true), scheduledAt: z.iso.datetime() }),
  z.strictObject({
    success: z.literal(true),
    postId: z.uuid(),
    status: z.string(),
    targets: z.array(
      z.strictObject({
        /** The target's id (GET /api/v1/posts/{postId} lists it; a failed one is retried by it). */
        id: z.uuid().optional(),
        platform: z.string(),
        status: z.string(),
        external_post_id: z.string().nullable(),
        url: z.string().optional(),
        error_category: z.string().nullable().optional(),
        error_message: z.string().nullable().optional(),
        /** A pending target's next attempt (the queue has it). */
        next_attempt_at: z.iso.datetime().optional(),
      }),
    ),
  }),
]);

export const postListResponse = z.strictObject({ posts: z.array(postSchema), nextCursor: z.string().nullable() });
export const postResponse = z.strictObject({ post: postSchema });

export const scheduledPostSchema = z.strictObject({
  id: z.uuid(),
  post_id: z.uuid(),
  platform: z.string(),
  content: z.string(),
  scheduled_at: isoOrNull,
  status: z.string(),
  attempts: z.number().int(),
  external_post_id: z.string().nullable(),
  error_message: z.string().nullable(),
  error_category: z.string().nullable(),
  /** Present when the target's connection will not be usable when it is due (reconnect before then), as in post reads. */
  warning: z.string().optional(),
});

export const scheduledListResponse = z.strictObject({ scheduledPosts: z.array(scheduledPostSchema), nextCursor: z.string().nullable() });
export const scheduledCanceledResponse = z.strictObject({ success: z.literal(true), postId: z.uuid() });
export const retryQueuedResponse = z.strictObject({ success: z.literal(true), message: z.string() });
