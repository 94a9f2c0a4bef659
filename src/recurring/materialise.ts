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
 * - The posts of a batch are made one by one (each with every check, in its own transaction); the schedules are then
 *   moved on together, in one statement (`advanceSchedules`), with the same compare-and-set per schedule. Should that
 *   statement not run, the next run finds each occurrence's post (`exists`) and moves the schedule on then.
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

/** What an occurrence came to, and where its schedule goes next. */
interface Decided {
  row: ScheduleRow;
  occurrence: Date;
  following: Date | null;
  outcome: Outcome;
}

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
    const decided: Decided[] = [];
    const worker = async () => {
      while (next < fresh.length) {
        const row = fresh[next++]!;
        try {
          decided.push(await materialiseOne(ctx, row));
        } catch (error) {
          // Left as it is: the next run tries this occurrence again.
          ctx.log.error("recurring occurrence failed", { scheduleId: row.id, error: error instanceof Error ? error.message : String(error) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, fresh.length) }, worker));
    await advanceSchedules(ctx, decided);
    for (const { outcome } of decided) {
      if (outcome.kind === "posted") report.posted += 1;
      else if (outcome.kind === "skipped") report.skipped += 1;
      else if (outcome.kind === "paused") report.paused += 1;
    }
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

/** Makes one occurrence's post (or decides to skip it, or to pause the schedule); the schedule is not touched. */
export async function materialiseOne(ctx: JobContext, row: ScheduleRow): Promise<Decided> {
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
  return { row, occurrence, following, outcome };
}

/**
 * Moves the schedules of a batch on, in one statement on the service connection: each only when it still stands at
 * the occurrence just handled and is active (compare-and-set; a schedule another run is moving on right now is left
 * to it), with a `recurring.occurrence_skipped` event for each skipped or paused occurrence. Answers the ids of the
 * schedules it moved on.
 */
async function advanceSchedules(ctx: JobContext, decided: Decided[]): Promise<Set<string>> {
  if (!decided.length) return new Set();
  const input = decided.map(({ row, occurrence, following, outcome }) => ({
    id: row.id,
    occurrence: occurrence.toISOString(),
    following: following?.toISOString() ?? null,
    kind: outcome.kind,
    reason: outcome.kind === "skipped" || outcome.kind === "paused" ? outcome.reason : null,
  }));
  const moved = await ctx.serviceDb((tx) => tx<{ id: string }[]>`
    with input as (
      select * from jsonb_to_recordset(${tx.json(input as never)}::jsonb)
        as v(id uuid, occurrence text, following text, kind text, reason text)
    ), locked as (
      select s.id from public.recurring_schedules s join input v on v.id = s.id
      where s.next_occurrence_at = v.occurrence::timestamptz and s.is_active
      order by s.id
      for update of s skip locked
    ), updated as (
      update public.recurring_schedules s set
        next_occurrence_at = case when v.kind = 'paused' then v.occurrence::timestamptz else v.following::timestamptz end,
        occurrence_count = s.occurrence_count + case when v.kind = 'paused' then 0 else 1 end,
        last_posted_at = case when v.kind in ('posted', 'exists') then v.occurrence::timestamptz else s.last_posted_at end,
        skipped_count = s.skipped_count + case when v.reason is null then 0 else 1 end,
        last_error = case when v.reason is null then s.last_error else left(v.reason, 1000) end,
        last_error_at = case when v.reason is null then s.last_error_at else now() end,
        is_active = v.kind <> 'paused',
        paused_reason = case when v.kind = 'paused' then left(v.reason, 500) else s.paused_reason end
      from input v
      where v.id = s.id and s.id in (select id from locked)
        and s.next_occurrence_at = v.occurrence::timestamptz and s.is_active
      returning s.id, s.profile_id, s.name, s.skipped_count, v.occurrence, v.kind, v.reason
    ), announced as (
      insert into public.events (profile_id, event_type, payload)
      select u.profile_id, 'recurring.occurrence_skipped', jsonb_build_object(
          'event_type', 'recurring.occurrence_skipped',
          'timestamp', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'profile_id', u.profile_id,
          'data', jsonb_build_object(
            'schedule_id', u.id, 'schedule_name', u.name,
            'occurrence_at', u.occurrence, 'reason', u.reason,
            'skipped_count', u.skipped_count, 'paused', u.kind = 'paused'))
      from updated u where u.reason is not null
      order by u.id
    )
    select id from updated`);
  return new Set(moved.map((m) => m.id));
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
