import { timingNotes } from "./rules.js";
import { nextScheduledAt, type ScheduleRow } from "./schedules.js";

const iso = (d: Date | null) => (d === null ? null : new Date(d).toISOString());

/** A schedule as the API answers it; `next_scheduled_at` comes from the one occurrence generator, from `now`. */
export function serializeSchedule(row: ScheduleRow, now: Date, pendingAt: Date | null = null) {
  return {
    id: row.id,
    profile_id: row.profile_id,
    name: row.name,
    content: row.content,
    template_id: row.template_id,
    variables: row.variables,
    platforms: row.platforms,
    media: row.media as Record<string, unknown>[],
    recurrence_pattern: row.recurrence_pattern,
    recurrence_config: row.recurrence_config as Record<string, unknown>,
    time_of_day: row.time_of_day,
    timezone: row.timezone,
    starts_at: iso(row.starts_at),
    ends_at: iso(row.ends_at),
    max_occurrences: row.max_occurrences,
    is_active: row.is_active,
    paused_reason: row.paused_reason,
    next_scheduled_at: iso(nextScheduledAt(row, now, pendingAt)),
    last_posted_at: iso(row.last_posted_at),
    occurrence_count: row.occurrence_count,
    skipped_count: row.skipped_count,
    last_error: row.last_error,
    last_error_at: iso(row.last_error_at),
    notes: timingNotes({ recurrencePattern: row.recurrence_pattern, recurrenceConfig: row.recurrence_config }),
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

/** The create and update answers: the schedule, plus the contract's camelCase names for the create answer. */
export function serializeSavedSchedule(row: ScheduleRow, now: Date, pendingAt: Date | null = null) {
  const s = serializeSchedule(row, now, pendingAt);
  return { ...s, recurrencePattern: s.recurrence_pattern, timeOfDay: s.time_of_day, nextScheduledAt: s.next_scheduled_at };
}
