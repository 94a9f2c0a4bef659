import type { Tx } from "../core/db.js";
import { AppError, notFound } from "../core/errors.js";
import { keysetPage, type Page, type PageSpec } from "../core/pagination.js";
import { effectivePlan, plans } from "../core/plans.js";
import { assertProfileVisible } from "../core/profile-scope.js";
import { postsPerMonthLimit } from "../core/quota.js";
import type { Platform } from "../platforms/catalog.js";
import type { MediaItemInput } from "../posts/schemas.js";
import { refreshPostStatus } from "../publishing/events.js";
import { nextOccurrence, occurrences, type Schedule } from "./occurrences.js";
import { compileSchedule, formatTimeOfDay, parseTimeOfDay, timingNotes, type RecurrenceConfig, type RecurrencePattern, type ScheduleTiming } from "./rules.js";
import type { CreateScheduleInput, UpdateScheduleInput } from "./schemas.js";

const forbidden = (message: string) => new AppError("forbidden", message);

export interface ScheduleRow {
  id: string;
  profile_id: string;
  name: string;
  content: string | null;
  template_id: string | null;
  variables: Record<string, string>;
  platforms: Platform[];
  media: MediaItemInput[];
  recurrence_pattern: RecurrencePattern;
  recurrence_config: RecurrenceConfig;
  time_of_day: string;
  timezone: string;
  starts_at: Date | null;
  ends_at: Date | null;
  max_occurrences: number | null;
  anchor_at: Date;
  is_active: boolean;
  paused_reason: string | null;
  next_occurrence_at: Date | null;
  occurrence_count: number;
  skipped_count: number;
  last_posted_at: Date | null;
  last_error: string | null;
  last_error_at: Date | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface Warning {
  code: string;
  message: string;
}

export function timingOf(row: Pick<ScheduleRow, "recurrence_pattern" | "recurrence_config" | "time_of_day" | "timezone" | "starts_at" | "ends_at" | "max_occurrences">): ScheduleTiming {
  return {
    recurrencePattern: row.recurrence_pattern,
    recurrenceConfig: row.recurrence_config,
    timeOfDay: row.time_of_day,
    timezone: row.timezone,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    maxOccurrences: row.max_occurrences,
  };
}

/** The generator's view of a stored schedule (stored rows were checked when saved). */
export function scheduleOfRow(row: ScheduleRow): Schedule {
  return compileSchedule(timingOf(row), row.anchor_at, { checkFires: false });
}

/**
 * What `next_scheduled_at` shows: for an active schedule, its next post still to publish (one already made and
 * pending, or the next occurrence not yet made; a skipped occurrence is passed); for a paused one, the occurrence
 * resuming now would start from. Null once the schedule has ended.
 */
export function nextScheduledAt(row: ScheduleRow, now: Date, pendingAt: Date | null = null): Date | null {
  try {
    const schedule = scheduleOfRow(row);
    if (!row.is_active) return nextOccurrence(schedule, now)?.at ?? null;
    const from = row.next_occurrence_at && row.next_occurrence_at > now ? row.next_occurrence_at : now;
    const upcoming = row.next_occurrence_at ? (nextOccurrence(schedule, from)?.at ?? null) : null;
    if (pendingAt && (!upcoming || pendingAt < upcoming)) return pendingAt;
    return upcoming;
  } catch {
    return null;
  }
}

/** Per schedule, the earliest occurrence at or after `now` whose post is made and still waiting to publish. */
export async function pendingOccurrences(tx: Tx, scheduleIds: string[], now: Date): Promise<Map<string, Date>> {
  if (!scheduleIds.length) return new Map();
  const rows = await tx<{ id: string; at: Date }[]>`
    select recurring_schedule_id as id, min(occurrence_at) as at from public.posts
    where recurring_schedule_id = any(${scheduleIds}::uuid[]) and status = 'scheduled' and occurrence_at >= ${now}
    group by recurring_schedule_id`;
  return new Map(rows.map((r) => [r.id, r.at]));
}

/**
 * Occurrences become posts this far ahead: well beyond one job period, so a backlog (many schedules due in the same
 * minute) has a dozen runs to be made before its time; posts due within the publish lookahead are queued at once.
 */
export const HORIZON_MS = 15 * 60_000;

const DRY_RUN = Symbol("dry run");
const DAY = 86_400_000;

interface ContentFields {
  content: string | null;
  templateId: string | null;
  variables: Record<string, string>;
  platforms: Platform[] | null;
  media: MediaItemInput[];
  timezone: string;
}

/**
 * Every check an API post gets (posting rules, media, a ready connection per network, the template and its
 * variables), by making the occurrence's post inside a savepoint and rolling it back. Errors name the post's fields,
 * which are the schedule's too. Post creation loads on the first check (reads of schedules never need it).
 */
async function checkAsPost(tx: Tx, fields: ContentFields, who: { profileId: string; userId: string }, at: Date, now: Date): Promise<Platform[]> {
  const scheduleDate = new Date(Math.min(Math.max(at.getTime(), now.getTime() + 60_000), now.getTime() + 300 * DAY));
  let platforms: Platform[] = [];
  const { createPost } = await import("../posts/posts.js");
  try {
    await tx.savepoint(async (sp) => {
      const made = await createPost(
        sp,
        {
          profileId: who.profileId,
          userId: who.userId,
          ...(fields.templateId ? { templateId: fields.templateId, variables: fields.variables } : { content: fields.content ?? "" }),
          ...(fields.platforms ? { platforms: fields.platforms } : {}),
          ...(fields.media.length || !fields.templateId ? { media: fields.media } : {}),
          scheduleDate: scheduleDate.toISOString(),
          timezone: fields.timezone,
        },
        now,
      );
      platforms = made.platforms;
      throw DRY_RUN;
    });
  } catch (error) {
    if (error !== DRY_RUN) throw error;
  }
  return platforms;
}

/** A warning when the schedule alone makes more posts within 31 days than the profile owner's plan allows a month. */
async function quotaWarnings(tx: Tx, profileId: string, schedule: Schedule, now: Date): Promise<Warning[]> {
  const [sub] = await tx<{ status: string; plan: string }[]>`select status, plan from public.profile_owner_subscription(${profileId})`;
  if (!sub) return [];
  const plan = effectivePlan(sub.status, sub.plan);
  const limit = postsPerMonthLimit(plan);
  if (limit === null) return [];
  const next = occurrences(schedule, { from: now, limit: limit + 1 });
  if (next.length <= limit || next[limit]!.at.getTime() - next[0]!.at.getTime() >= 31 * DAY) return [];
  return [
    {
      code: "exceeds_monthly_posts",
      message:
        `This schedule alone makes more than ${limit.toLocaleString("en-GB")} posts within 31 days, the ${plans[plan].name} plan's ` +
        "monthly posts: occurrences past the quota are skipped (each is recorded on the schedule and announced as recurring.occurrence_skipped).",
    },
  ];
}

const noteWarnings = (timing: ScheduleTiming): Warning[] => timingNotes(timing).map((message) => ({ code: "short_month_last_day", message }));

const normaliseTime = (value: string) => formatTimeOfDay(parseTimeOfDay(value)!);

export async function createSchedule(
  tx: Tx,
  input: CreateScheduleInput & { profileId: string; userId: string },
  now: Date,
): Promise<{ row: ScheduleRow; warnings: Warning[] }> {
  await assertProfileVisible(tx, input.profileId);
  const timing: ScheduleTiming = {
    recurrencePattern: input.recurrencePattern,
    recurrenceConfig: input.recurrenceConfig,
    timeOfDay: input.timeOfDay,
    timezone: input.timezone,
    startsAt: input.startsAt ? new Date(input.startsAt) : null,
    endsAt: input.endsAt ? new Date(input.endsAt) : null,
    maxOccurrences: input.maxOccurrences ?? null,
  };
  const anchor = timing.startsAt ?? now;
  const schedule = compileSchedule(timing, anchor);
  const first = nextOccurrence(schedule, now);
  if (!first) throw endedError(timing);
  const fields: ContentFields = {
    content: input.content ?? null,
    templateId: input.templateId ?? null,
    variables: input.variables ?? {},
    platforms: input.platforms ?? null,
    media: input.media ?? [],
    timezone: input.timezone,
  };
  const platforms = await checkAsPost(tx, fields, input, first.at, now);
  const [row] = await tx<ScheduleRow[]>`
    insert into public.recurring_schedules (profile_id, name, content, template_id, variables, platforms, media,
      recurrence_pattern, recurrence_config, time_of_day, timezone, starts_at, ends_at, max_occurrences, anchor_at,
      is_active, next_occurrence_at, created_by)
    values (${input.profileId}, ${input.name}, ${fields.content}, ${fields.templateId}, ${tx.json(fields.variables)}, ${platforms},
      ${tx.json(fields.media as never)}, ${timing.recurrencePattern}, ${tx.json(timing.recurrenceConfig as never)},
      ${normaliseTime(timing.timeOfDay)}, ${timing.timezone}, ${timing.startsAt}, ${timing.endsAt}, ${timing.maxOccurrences},
      ${anchor}, ${input.isActive}, ${first.at}, ${input.userId})
    returning *`;
  const warnings = [...noteWarnings(timing), ...(await quotaWarnings(tx, input.profileId, schedule, now))];
  return { row: row!, warnings };
}

function endedError(timing: ScheduleTiming): AppError {
  const field = timing.endsAt ? "endsAt" : timing.maxOccurrences ? "maxOccurrences" : "recurrenceConfig.rrule";
  const message = "The schedule has no occurrence left after now";
  return new AppError("validation_error", `${field}: ${message}`, { details: [{ field, message }] });
}

export async function getScheduleOrThrow(tx: Tx, scheduleId: string): Promise<ScheduleRow> {
  const [row] = await tx<ScheduleRow[]>`select * from public.recurring_schedules where id = ${scheduleId}`;
  if (!row) throw notFound("Recurring schedule");
  return row;
}

export async function listSchedules(tx: Tx, profileId: string, page: PageSpec): Promise<Page<ScheduleRow>> {
  return keysetPage(tx, page, (after, take) => tx<ScheduleRow[]>`
    select * from public.recurring_schedules
    where profile_id = ${profileId} and ${after}
    order by created_at desc, id desc
    limit ${take}`);
}

/**
 * Cancels the schedule's posts that are still waiting to publish (all of them, or those of occurrences from `from`
 * on), as DELETE /api/v1/scheduled-posts would one by one. Returns how many posts were canceled.
 */
export async function cancelPendingPosts(tx: Tx, scheduleId: string, from?: Date): Promise<number> {
  const canceled = await tx<{ post_id: string }[]>`
    update public.post_targets t set status = 'canceled'
    from public.posts p
    where p.id = t.post_id and p.profile_id = t.profile_id and p.recurring_schedule_id = ${scheduleId}
      and t.status = 'pending' and ${from ? tx`p.occurrence_at >= ${from}` : tx`true`}
    returning t.post_id`;
  const posts = [...new Set(canceled.map((c) => c.post_id))];
  for (const postId of posts) await refreshPostStatus(tx, postId);
  return posts.length;
}

/**
 * Applies a change. A new zone, time, rule, start, end or count restarts the rule from now (`next_scheduled_at` is
 * recomputed); a new content or target list applies from the next occurrence; pausing keeps the rule as it is, and
 * resuming continues from now: occurrences missed while paused never fire. Posts already made for occurrences still
 * ahead are canceled (and made again from the new settings) whenever anything but the name changes.
 */
export async function updateSchedule(tx: Tx, scheduleId: string, patch: UpdateScheduleInput, now: Date): Promise<{ row: ScheduleRow; warnings: Warning[] }> {
  const current = await getScheduleOrThrow(tx, scheduleId);
  const patternChanged = patch.recurrencePattern !== undefined && patch.recurrencePattern !== current.recurrence_pattern;
  const timing: ScheduleTiming = {
    recurrencePattern: patch.recurrencePattern ?? current.recurrence_pattern,
    recurrenceConfig: patch.recurrenceConfig ?? (patternChanged ? {} : current.recurrence_config),
    timeOfDay: patch.timeOfDay ?? current.time_of_day,
    timezone: patch.timezone ?? current.timezone,
    startsAt: patch.startsAt === undefined ? current.starts_at : patch.startsAt === null ? null : new Date(patch.startsAt),
    endsAt: patch.endsAt === undefined ? current.ends_at : patch.endsAt === null ? null : new Date(patch.endsAt),
    maxOccurrences: patch.maxOccurrences === undefined ? current.max_occurrences : patch.maxOccurrences,
  };
  const timingKeys = ["recurrencePattern", "recurrenceConfig", "timeOfDay", "timezone", "startsAt", "endsAt", "maxOccurrences"] as const;
  const timingChanged = timingKeys.some((k) => patch[k] !== undefined);
  const anchor = timingChanged ? (timing.startsAt && timing.startsAt > now ? timing.startsAt : now) : current.anchor_at;
  const schedule = compileSchedule(timing, anchor, { checkFires: timingChanged });
  const first = nextOccurrence(schedule, now);
  if (timingChanged && !first) throw endedError(timing);

  const contentKeys = ["content", "templateId", "variables", "platforms", "media"] as const;
  const contentChanged = contentKeys.some((k) => patch[k] !== undefined);
  const templateId = patch.templateId !== undefined ? patch.templateId : patch.content !== undefined ? null : current.template_id;
  const fields: ContentFields = {
    content: patch.content !== undefined ? patch.content : templateId ? null : current.content,
    templateId,
    variables: patch.variables ?? (templateId ? current.variables : {}),
    platforms: patch.platforms ?? current.platforms,
    media: patch.media ?? current.media,
    timezone: timing.timezone,
  };
  if (fields.content === null && !fields.templateId) {
    throw new AppError("validation_error", "content: Required: the text to post (or a templateId)", {
      details: [{ field: "content", message: "Required: the text to post (or a templateId)" }],
    });
  }
  const resuming = patch.isActive === true && !current.is_active;
  const isActive = patch.isActive ?? current.is_active;
  // Content is checked again when it changes, and when a schedule resumes (its accounts may have changed meanwhile).
  if ((contentChanged || resuming) && first) await checkAsPost(tx, fields, { profileId: current.profile_id, userId: current.created_by }, first.at, now);

  const nameOnly = Object.keys(patch).every((k) => k === "name");
  if (!nameOnly) await cancelPendingPosts(tx, scheduleId, now);
  const [row] = await tx<ScheduleRow[]>`
    update public.recurring_schedules set
      name = ${patch.name ?? current.name},
      content = ${fields.content}, template_id = ${fields.templateId}, variables = ${tx.json(fields.variables)},
      platforms = ${fields.platforms}, media = ${tx.json(fields.media as never)},
      recurrence_pattern = ${timing.recurrencePattern}, recurrence_config = ${tx.json(timing.recurrenceConfig as never)},
      time_of_day = ${normaliseTime(timing.timeOfDay)}, timezone = ${timing.timezone},
      starts_at = ${timing.startsAt}, ends_at = ${timing.endsAt}, max_occurrences = ${timing.maxOccurrences},
      anchor_at = ${anchor}, is_active = ${isActive},
      paused_reason = ${isActive ? null : patch.isActive === false ? "Paused" : current.paused_reason},
      next_occurrence_at = ${nameOnly ? current.next_occurrence_at : (first?.at ?? null)}
    where id = ${scheduleId}
    returning *`;
  if (!row) throw forbidden("Only the schedule's creator, owners and admins can change it");
  const warnings = timingChanged ? [...noteWarnings(timing), ...(await quotaWarnings(tx, current.profile_id, schedule, now))] : [];
  return { row, warnings };
}

/** Deletes a schedule and cancels its posts still waiting to publish; its published posts stay (unlinked). */
export async function deleteSchedule(tx: Tx, scheduleId: string): Promise<number> {
  await getScheduleOrThrow(tx, scheduleId);
  const canceled = await cancelPendingPosts(tx, scheduleId);
  const deleted = await tx`delete from public.recurring_schedules where id = ${scheduleId} returning id`;
  if (!deleted.length) throw forbidden("Only the schedule's creator, owners and admins can delete it");
  return canceled;
}
