import type { Claims, Tx } from "../core/db.js";
import { AppError } from "../core/errors.js";
import type { JobContext } from "../core/jobs/index.js";
import { LOOKAHEAD_SECONDS } from "../core/jobs/outbox.js";
import { consumePostQuota } from "../core/quota.js";
import { createPost } from "../posts/posts.js";
import { publishJob } from "../publishing/job.js";
import { nextOccurrence } from "./occurrences.js";
import { HORIZON_MS, scheduleOfRow, type ScheduleRow } from "./schedules.js";

/**
 * Materialisation: each occurrence of an active schedule becomes a post ahead of time (within HORIZON_MS), so it is
 * queued and published on its second like any scheduled post.
 *
 * - The post is made as the schedule's creator through `createPost` and `consumePostQuota` in one transaction as that
 *   user (RLS applies), after the posting rate limit: the same checks as POST /api/v1/post.
 * - Exactly once: the unique index on (schedule, occurrence instant) refuses a second live post for an occurrence, so
 *   a retried or concurrent run makes nothing twice; the schedule then moves on with a compare-and-set on its
 *   `next_occurrence_at`.
 * - An occurrence that cannot be posted is skipped: `last_error`, `skipped_count` and a `recurring.occurrence_skipped`
 *   event; the schedule carries on. When no target has a connected account left, the schedule pauses itself with that
 *   reason instead.
 * - An occurrence found more than LATE_LIMIT_MS late (the scheduler was down) is skipped as missed rather than
 *   published long after its time.
 */
export const LATE_LIMIT_MS = 15 * 60_000;
const BATCH = 200;
const CONCURRENCY = 8;

export interface MaterialiseReport {
  posted: number;
  skipped: number;
  paused: number;
}

type Outcome =
  | { kind: "posted"; targetIds: string[] }
  | { kind: "exists" }
  | { kind: "skipped"; reason: string; accounts?: boolean }
  | { kind: "paused"; reason: string };

export async function materialiseDue(ctx: JobContext, options: { scheduleId?: string; budgetMs?: number } = {}): Promise<MaterialiseReport> {
  const started = Date.now();
  const report: MaterialiseReport = { posted: 0, skipped: 0, paused: 0 };
  const seen = new Set<string>();
  for (;;) {
    const horizon = new Date(ctx.clock.now().getTime() + HORIZON_MS);
    const rows = await ctx.serviceDb((tx) => tx<ScheduleRow[]>`
      select * from public.recurring_schedules
      where is_active and next_occurrence_at is not null and next_occurrence_at <= ${horizon}
        and ${options.scheduleId ? tx`id = ${options.scheduleId}` : tx`true`}
      order by next_occurrence_at
      limit ${BATCH}`);
    const fresh = rows.filter((r) => !seen.has(`${r.id}:${r.next_occurrence_at!.getTime()}`));
    if (!fresh.length) break;
    for (const r of fresh) seen.add(`${r.id}:${r.next_occurrence_at!.getTime()}`);
    let next = 0;
    const worker = async () => {
      while (next < fresh.length) {
        const row = fresh[next++]!;
        try {
          const outcome = await materialiseOne(ctx, row);
          if (outcome.kind === "posted") report.posted += 1;
          else if (outcome.kind === "skipped") report.skipped += 1;
          else if (outcome.kind === "paused") report.paused += 1;
        } catch (error) {
          // Left as it is: the next run tries this occurrence again.
          ctx.log.error("recurring occurrence failed", { scheduleId: row.id, error: error instanceof Error ? error.message : String(error) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, fresh.length) }, worker));
    if (Date.now() - started > (options.budgetMs ?? 20_000)) break;
  }
  return report;
}

/** Connected accounts per target network: none left for any of them pauses the schedule. */
async function everyTargetDisconnected(tx: Tx, row: ScheduleRow): Promise<boolean> {
  const [r] = await tx<{ connected: number }[]>`
    select count(distinct platform)::int as connected from public.connections
    where profile_id = ${row.profile_id} and platform = any(${row.platforms}) and status = 'connected'`;
  return r!.connected === 0;
}

export async function materialiseOne(ctx: JobContext, row: ScheduleRow): Promise<Outcome> {
  const occurrence = row.next_occurrence_at!;
  const now = ctx.clock.now();
  const schedule = scheduleOfRow(row);
  const following = nextOccurrence(schedule, new Date(occurrence.getTime() + 1000))?.at ?? null;

  let outcome: Outcome;
  if (occurrence.getTime() < now.getTime() - LATE_LIMIT_MS) {
    outcome = { kind: "skipped", reason: `Missed: the scheduler did not run between ${occurrence.toISOString()} and ${now.toISOString()}` };
  } else {
    outcome = await post(ctx, row, occurrence, now);
    // Refused for its accounts: when none of its networks has a connected account left, pause rather than skip.
    if (outcome.kind === "skipped" && outcome.accounts && (await ctx.serviceDb((tx) => everyTargetDisconnected(tx, row)))) {
      outcome = { kind: "paused", reason: `Paused: no account is connected for ${row.platforms.join(", ")}; reconnect one and resume the schedule` };
    }
  }

  return ctx.serviceDb(async (tx) => {
    const posted = outcome.kind === "posted" || outcome.kind === "exists";
    const reason = outcome.kind === "skipped" || outcome.kind === "paused" ? outcome.reason : null;
    const [updated] = await tx<{ skipped_count: number }[]>`
      update public.recurring_schedules set
        next_occurrence_at = ${outcome.kind === "paused" ? occurrence : following},
        occurrence_count = occurrence_count + ${outcome.kind === "paused" ? 0 : 1},
        last_posted_at = ${posted ? tx`${occurrence}::timestamptz` : tx`last_posted_at`},
        skipped_count = skipped_count + ${reason ? 1 : 0},
        last_error = ${reason ? tx`${reason.slice(0, 1000)}::text` : tx`last_error`},
        last_error_at = ${reason ? tx`now()` : tx`last_error_at`},
        is_active = ${outcome.kind !== "paused"},
        paused_reason = ${outcome.kind === "paused" ? tx`${outcome.reason.slice(0, 500)}::text` : tx`paused_reason`}
      where id = ${row.id} and next_occurrence_at = ${occurrence} and is_active
      returning skipped_count`;
    if (updated && reason) {
      await tx`
        insert into public.events (profile_id, event_type, payload)
        values (${row.profile_id}, 'recurring.occurrence_skipped', jsonb_build_object(
          'event_type', 'recurring.occurrence_skipped',
          'timestamp', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'profile_id', ${row.profile_id}::uuid,
          'data', jsonb_build_object(
            'schedule_id', ${row.id}::uuid, 'schedule_name', ${row.name}::text,
            'occurrence_at', ${occurrence.toISOString()}::text, 'reason', ${reason}::text,
            'skipped_count', ${updated.skipped_count}::int, 'paused', ${outcome.kind === "paused"}::boolean)))`;
    }
    return outcome;
  });
}

async function post(ctx: JobContext, row: ScheduleRow, occurrence: Date, now: Date): Promise<Outcome> {
  const claims: Claims = { sub: row.created_by, role: "authenticated", profile_id: row.profile_id };
  if (!row.content && !row.template_id) return { kind: "skipped", reason: "The schedule has no content: its template was deleted" };
  try {
    await ctx.services.limiter.enforce("posts", row.profile_id);
    const made = await ctx.services.db.as(claims, async (tx) => {
      const [existing] = await tx`
        select id from public.posts
        where recurring_schedule_id = ${row.id} and occurrence_at = ${occurrence} and status <> 'canceled'`;
      if (existing) return null;
      const created = await createPost(
        tx,
        {
          profileId: row.profile_id,
          userId: row.created_by,
          ...(row.template_id ? { templateId: row.template_id, variables: row.variables } : { content: row.content ?? "" }),
          platforms: row.platforms,
          ...(row.media.length || !row.template_id ? { media: row.media } : {}),
          scheduleDate: new Date(Math.max(occurrence.getTime(), now.getTime())).toISOString(),
          timezone: row.timezone,
          recurrence: { scheduleId: row.id, occurrenceAt: occurrence },
        },
        now,
      );
      await consumePostQuota(tx, row.profile_id, 1);
      return created;
    });
    if (!made) return { kind: "exists" };
    // Due within the publish lookahead: queue it now (the publish sweep would otherwise send it on its next run).
    if (occurrence.getTime() <= now.getTime() + (LOOKAHEAD_SECONDS - 10) * 1000) await publishJob.dispatch(made.targetIds);
    return { kind: "posted", targetIds: made.targetIds };
  } catch (error) {
    if ((error as { code?: string }).code === "23505") return { kind: "exists" };
    if (error instanceof AppError) {
      const issues = Array.isArray(error.details) ? error.details : [];
      const detail = issues.length > 1 ? ` (${issues.map((d) => d.message).join("; ")})` : "";
      const accounts = issues.some((d) => d.rule === "connected_account" || d.rule === "account_ready");
      return { kind: "skipped", reason: `${error.message}${detail}`, accounts };
    }
    throw error;
  }
}
