import { route } from "../core/api.js";
import { Reply } from "../core/http.js";
import { pageOf } from "../core/pagination.js";
import { recurringJob } from "./job.js";
import { occurrences } from "./occurrences.js";
import { createSchedule, deleteSchedule, getScheduleOrThrow, HORIZON_MS, listSchedules, pendingOccurrences, scheduleOfRow, updateSchedule, type ScheduleRow } from "./schedules.js";
import {
  createScheduleSchema,
  listSchedulesQuerySchema,
  occurrencesQuerySchema,
  occurrencesResponse,
  scheduleDeletedResponse,
  scheduleListResponse,
  scheduleResponse,
  scheduleSavedResponse,
  updateScheduleSchema,
} from "./schemas.js";
import { serializeSavedSchedule, serializeSchedule } from "./serialize.js";

/** A schedule whose next occurrence is already within the horizon is materialised now rather than at the next sweep. */
async function materialiseSoon(row: ScheduleRow, now: Date): Promise<void> {
  if (row.is_active && row.next_occurrence_at && row.next_occurrence_at.getTime() <= now.getTime() + HORIZON_MS) {
    await recurringJob.enqueue({ scheduleId: row.id });
  }
}

// The profile's recurring schedules, newest first
export const listSchedulesRoute = route("GET /api/v1/recurring-schedules", {
  auth: "any",
  query: listSchedulesQuerySchema,
  profile: "query",
  response: scheduleListResponse,
  handle: async ({ db, query, profileId, clock }) => {
    const now = clock.now();
    const { page, pending } = await db(async (tx) => {
      const page = await listSchedules(tx, profileId, pageOf(query));
      return { page, pending: await pendingOccurrences(tx, page.rows.map((r) => r.id), now) };
    });
    return { schedules: page.rows.map((r) => serializeSchedule(r, now, pending.get(r.id))), nextCursor: page.nextCursor };
  },
});

// Create a recurring schedule. Each occurrence is checked and counted as a post when it is made.
export const createScheduleRoute = route("POST /api/v1/recurring-schedules", {
  auth: "any",
  body: createScheduleSchema,
  profile: "body",
  response: scheduleSavedResponse,
  status: 201,
  handle: async ({ db, body, caller, profileId, clock }) => {
    const now = clock.now();
    const { row, warnings } = await db((tx) => createSchedule(tx, { ...body, profileId, userId: caller.userId }, now));
    await materialiseSoon(row, now);
    return new Reply(201, { success: true as const, schedule: serializeSavedSchedule(row, now), warnings });
  },
});

// One schedule
export const getScheduleRoute = route("GET /api/v1/recurring-schedules/:scheduleId", {
  auth: "any",
  response: scheduleResponse,
  handle: async ({ db, params, clock }) => {
    const now = clock.now();
    const { row, pending } = await db(async (tx) => {
      const row = await getScheduleOrThrow(tx, params.scheduleId);
      return { row, pending: await pendingOccurrences(tx, [row.id], now) };
    });
    return { schedule: serializeSchedule(row, now, pending.get(row.id)) };
  },
});

// Change, pause (isActive: false) or resume a schedule
export const updateScheduleRoute = route("PATCH /api/v1/recurring-schedules/:scheduleId", {
  auth: "any",
  body: updateScheduleSchema,
  response: scheduleSavedResponse,
  handle: async ({ db, params, body, clock }) => {
    const now = clock.now();
    const { row, warnings, pending } = await db(async (tx) => {
      const saved = await updateSchedule(tx, params.scheduleId, body, now);
      return { ...saved, pending: await pendingOccurrences(tx, [params.scheduleId], now) };
    });
    await materialiseSoon(row, now);
    return { success: true as const, schedule: serializeSavedSchedule(row, now, pending.get(row.id)), warnings };
  },
});

// Delete a schedule; its posts still waiting to publish are canceled
export const deleteScheduleRoute = route("DELETE /api/v1/recurring-schedules/:scheduleId", {
  auth: "any",
  response: scheduleDeletedResponse,
  handle: async ({ db, params }) => ({ success: true as const, canceledPosts: await db((tx) => deleteSchedule(tx, params.scheduleId)) }),
});

// The next occurrences (UTC instants and the zone's wall-clock times) at or after `from` (default now)
export const scheduleOccurrencesRoute = route("GET /api/v1/recurring-schedules/:scheduleId/occurrences", {
  auth: "any",
  query: occurrencesQuerySchema,
  response: occurrencesResponse,
  handle: async ({ db, params, query, clock }) => {
    const row = await db((tx) => getScheduleOrThrow(tx, params.scheduleId));
    const from = query.from ? new Date(query.from) : clock.now();
    const list = occurrences(scheduleOfRow(row), { from, limit: query.count });
    return { occurrences: list.map((o) => ({ scheduledAt: o.at.toISOString(), localTime: o.localTime })) };
  },
});

export const recurringRoutes = [
  listSchedulesRoute,
  createScheduleRoute,
  getScheduleRoute,
  updateScheduleRoute,
  deleteScheduleRoute,
  scheduleOccurrencesRoute,
];
