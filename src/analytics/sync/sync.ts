import { liveCredentials, markNeedsReconnect } from "../../connections/tokens.js";
import { env } from "../../core/env.js";
import type { JobContext } from "../../core/jobs/index.js";
import { durationMs } from "../../core/ratelimit/policies.js";
import type { Platform } from "../../platforms/catalog.js";
import { adapterForConnection } from "../../white-label/apps.js";
import { PlatformError, type AccountMetricsResult, type MetricsRequest, type PostMetricsResult } from "../../platforms/types.js";
import { analyticsSupport, engagementRate, engagements, toColumns } from "../model.js";

/**
 * One account's metrics sync: one claimed `analytics_sync_state` row (the job's outbox, see
 * supabase/migrations/20261206050000_analytics.sql), its published targets whose metrics are due, one network call per
 * batch, one snapshot row per target per capture, and the account's record (health, last success, last failure).
 *
 * - Publishing goes first: while the account has publishing work due, its sync waits (PUBLISHING_FIRST_SECONDS).
 * - Cadence: a target's next capture is due by its age (ANALYTICS_CADENCE, default hourly the first day, every 6 h to a
 *   week, daily to 30 days, then never); an account is synced at most once per ANALYTICS_SYNC_INTERVAL_SECONDS.
 * - A network's rate limit pushes the account's next sync past the limit's reset; other failures back off
 *   exponentially (interval × 2^failures, at most 6 h).
 * - A token the network rejects is refreshed once and the call repeated (as publishing does); rejected again, the
 *   connection is marked needs_reconnect (connections/tokens.ts markNeedsReconnect, which emits
 *   connection.needs_reconnect) and the account waits for a reconnect (the connections trigger makes it due again).
 * - An answer that is not the network's format, or any other error, is a failed sync for the account: recorded, never
 *   a crash of the job.
 */

/** Targets per network call round; more due targets continue at once in the next run. */
export const SYNC_BATCH = 100;
/** How long a sync waits while the account has publishing due. */
export const PUBLISHING_FIRST_SECONDS = 30;
/** A claim's lease: a worker that dies leaves the row to lease recovery after this. */
const LEASE_SECONDS = 300;
/** The longest back-off after repeated failures. */
const MAX_BACKOFF_SECONDS = 6 * 3600;
/** Account-level numbers (followers) are read at most this often. */
const ACCOUNT_EVERY_SECONDS = 3600;

export interface CadenceStep {
  everySeconds: number;
  untilSeconds: number;
}

/** `1h@1d,6h@7d,1d@30d` → steps, in the order given. */
export function parseCadence(text: string): CadenceStep[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((step) => {
      const [every, until] = step.split("@");
      return { everySeconds: durationMs(every!) / 1000, untilSeconds: durationMs(until!) / 1000 };
    });
}

/** When a target published at `publishedAt` is next due after a capture at `now`; null: never again. */
export function nextCaptureAt(publishedAt: Date, now: Date, steps = parseCadence(env().ANALYTICS_CADENCE)): Date | null {
  const ageSeconds = (now.getTime() - publishedAt.getTime()) / 1000;
  const step = steps.find((s) => ageSeconds < s.untilSeconds);
  return step ? new Date(now.getTime() + step.everySeconds * 1000) : null;
}

export type SyncOutcome =
  | "not_due"
  | "deferred_for_publishing"
  | "synced"
  | "unsupported"
  | "needs_reconnect"
  | "rate_limited"
  | "failed";

interface StateRow {
  connection_id: string;
  profile_id: string;
  platform: Platform;
  consecutive_failures: number;
  last_account_metric_at: Date | null;
  db_now: Date;
}

interface ConnectionRow {
  id: string;
  profile_id: string;
  platform: Platform;
  status: string;
  scopes: string[];
  metadata: Record<string, unknown>;
  oauth_app_id: string | null;
}

interface DueTarget {
  id: string;
  post_id: string;
  external_post_id: string;
  published_at: Date | null;
}

/** Runs one sync of one account if it is due (claimed under a lease, so two workers never sync it at once). */
export async function syncAccount(connectionId: string, ctx: JobContext): Promise<{ outcome: SyncOutcome; more: boolean }> {
  const interval = env().ANALYTICS_SYNC_INTERVAL_SECONDS;
  const [state] = await ctx.serviceDb(
    (tx) => tx<StateRow[]>`
      update public.analytics_sync_state set status = 'claimed', lease_until = now() + make_interval(secs => ${LEASE_SECONDS}),
        last_attempt_at = now()
      where connection_id = ${connectionId} and status = 'pending' and next_sync_at <= now() + interval '2 seconds'
      returning connection_id, profile_id, platform, consecutive_failures, last_account_metric_at, now() as db_now`,
  );
  if (!state) return { outcome: "not_due", more: false };

  try {
    return await syncClaimed(state, ctx, interval);
  } catch (error) {
    // Anything unexpected (a bug, the database) is this account's failed sync, recorded; the job goes on.
    ctx.log.error("analytics sync failed unexpectedly", { connectionId, error });
    await fail(ctx, state, interval, new PlatformError("unknown", "Unexpected error while syncing metrics"), "internal");
    return { outcome: "failed", more: false };
  }
}

async function syncClaimed(state: StateRow, ctx: JobContext, interval: number): Promise<{ outcome: SyncOutcome; more: boolean }> {
  const [connection] = await ctx.serviceDb(
    (tx) => tx<ConnectionRow[]>`
      select id, profile_id, platform, status, scopes, metadata, oauth_app_id from public.connections
      where id = ${state.connection_id} and profile_id = ${state.profile_id}`,
  );
  if (!connection) {
    await release(ctx, state, { status: "idle", next: null });
    return { outcome: "not_due", more: false };
  }
  if (connection.status !== "connected") {
    await record(ctx, state, {
      health: "needs_reconnect",
      status: "idle",
      next: null,
      error: { message: "The connection needs reconnecting: the network rejected its authorization", category: "auth" },
    });
    return { outcome: "needs_reconnect", more: false };
  }

  // Publishing first: the account's rate limits are spent on publishing before metrics.
  const [publishing] = await ctx.serviceDb(
    (tx) => tx`
      select 1 from public.post_targets
      where connection_id = ${connection.id} and status in ('pending', 'publishing') and due_at <= now() limit 1`,
  );
  if (publishing) {
    await release(ctx, state, { status: "pending", nextInSeconds: PUBLISHING_FIRST_SECONDS });
    return { outcome: "deferred_for_publishing", more: false };
  }

  const support = analyticsSupport(connection.platform, connection);
  // Metrics are read through the app the connection was made with (a white-label customer's own, or ours).
  const adapter = support.supported
    ? await ctx.serviceDb((tx) => adapterForConnection(tx, connection, ctx.services.platforms))
    : undefined;
  if (!support.supported || !adapter?.metrics) {
    await record(ctx, state, {
      health: "unsupported",
      status: "idle",
      next: null,
      error: { message: support.reason ?? "This app reads no metrics from this network yet", category: "unsupported" },
    });
    return { outcome: "unsupported", more: false };
  }
  const metricsApi = adapter.metrics;

  const due = await ctx.serviceDb(
    (tx) => tx<DueTarget[]>`
      select id, post_id, external_post_id, published_at from public.post_targets
      where connection_id = ${connection.id} and profile_id = ${connection.profile_id} and status = 'published'
        and external_post_id is not null and next_metrics_at is not null and next_metrics_at <= now()
      order by next_metrics_at
      limit ${SYNC_BATCH + 1}`,
  );
  const more = due.length > SYNC_BATCH;
  const batch = due.slice(0, SYNC_BATCH);
  const accountDue =
    metricsApi.account !== undefined &&
    (!state.last_account_metric_at || state.db_now.getTime() - state.last_account_metric_at.getTime() >= ACCOUNT_EVERY_SECONDS * 1000);

  let posts: PostMetricsResult[] = [];
  let account: AccountMetricsResult | undefined;
  try {
    const call = async (force: boolean) => {
      const credentials = await liveCredentials(ctx.serviceDb, connection.id, { force, profileId: connection.profile_id });
      const request: MetricsRequest = {
        accessToken: credentials.accessToken,
        account: { externalAccountId: credentials.externalAccountId, username: credentials.username },
        settings: credentials.settings,
        posts: batch.map((t) => ({ externalPostId: t.external_post_id, publishedAt: t.published_at ?? undefined })),
      };
      const postResults = batch.length ? await metricsApi.posts(request) : [];
      const accountResult = accountDue ? await metricsApi.account!(request) : undefined;
      return { postResults, accountResult };
    };
    let result;
    try {
      result = await call(false);
    } catch (error) {
      // A token the network stopped accepting: refresh once and try again (a rejected refresh marks the connection).
      if (!(error instanceof PlatformError) || error.category !== "auth_error") throw error;
      result = await call(true);
    }
    posts = result.postResults;
    account = result.accountResult;
  } catch (error) {
    const platformError = error instanceof PlatformError ? error : undefined;
    if (!platformError) throw error;
    if (platformError.category === "auth_error") {
      await ctx.serviceDb((tx) => markNeedsReconnect(tx, connection.id, platformError.message, connection.profile_id));
      await record(ctx, state, { health: "needs_reconnect", status: "idle", next: null, error: { message: platformError.message, category: "auth" } });
      return { outcome: "needs_reconnect", more: false };
    }
    if (platformError.category === "rate_limited") {
      const wait = Math.max(interval, Math.ceil(platformError.details.retryAfterSeconds ?? interval * 2 ** Math.min(state.consecutive_failures + 1, 8)));
      await fail(ctx, state, interval, platformError, "rate_limit", Math.min(wait, MAX_BACKOFF_SECONDS));
      return { outcome: "rate_limited", more: false };
    }
    const category = platformError.details.platformCode === "invalid_response" ? "invalid_response" : "network";
    await fail(ctx, state, interval, platformError, category);
    return { outcome: "failed", more: false };
  }

  await store(ctx, state, connection, batch, posts, account, interval, more);
  return { outcome: "synced", more };
}

/** Snapshots, each target's next capture, and the account's success, in one transaction. */
async function store(
  ctx: JobContext,
  state: StateRow,
  connection: ConnectionRow,
  batch: DueTarget[],
  posts: PostMetricsResult[],
  account: AccountMetricsResult | undefined,
  interval: number,
  more: boolean,
): Promise<void> {
  const byExternalId = new Map(posts.map((p) => [p.externalPostId, p]));
  await ctx.serviceDb(async (tx) => {
    // Lock order: the account's sync row first, then its targets and the hourly sums their snapshots add to. Publishing
    // a target takes the same two in that order (its trigger marks the account's sync due, then its published count is
    // added to the hour's sums: migrations 20261206050000 and 20261206092000). Taking the hourly sums first, as this
    // did, deadlocked with a publish on the same account, and Postgres aborted one of the two: a lost sync, or a publish
    // that went out on the network but was not recorded (sent again once its lease ran out).
    await tx`select 1 from public.analytics_sync_state where connection_id = ${state.connection_id} for no key update`;
    const [clock] = await tx<{ now: Date }[]>`select now() as now`;
    const now = clock!.now;
    const rows = [];
    for (const target of batch) {
      const result = byExternalId.get(target.external_post_id);
      const next = nextCaptureAt(target.published_at ?? now, now);
      await tx`update public.post_targets set next_metrics_at = ${next} where id = ${target.id}`;
      if (!result || !("metrics" in result)) continue;
      const m = result.metrics;
      rows.push({
        profile_id: connection.profile_id,
        post_id: target.post_id,
        target_id: target.id,
        connection_id: connection.id,
        platform: connection.platform,
        published_at: target.published_at,
        captured_at: now,
        ...toColumns(m),
        engagements: engagements(m),
        engagement_rate: engagementRate(m),
        raw: tx.json(result.raw as never),
      });
    }
    if (rows.length) await tx`insert into public.post_metric_snapshots ${tx(rows)}`;
    if (account) {
      await tx`
        insert into public.account_metric_snapshots (profile_id, connection_id, platform, captured_at, followers, raw)
        values (${connection.profile_id}, ${connection.id}, ${connection.platform}, ${now}, ${account.followers},
                ${tx.json(account.raw as never)})`;
    }
    // Next: at once when more targets were due than one batch, else the earliest of the next due target and the next
    // account reading, never sooner than the interval.
    const [nextTarget] = await tx<{ at: Date | null }[]>`
      select min(next_metrics_at) as at from public.post_targets
      where connection_id = ${connection.id} and status = 'published' and next_metrics_at is not null`;
    const accountNext = new Date((account ? now.getTime() : (state.last_account_metric_at ?? now).getTime()) + ACCOUNT_EVERY_SECONDS * 1000);
    const earliest = new Date(now.getTime() + interval * 1000);
    const candidates = [accountNext, ...(nextTarget?.at ? [nextTarget.at] : [])];
    const next = more ? now : new Date(Math.max(earliest.getTime(), Math.min(...candidates.map((d) => d.getTime()))));
    await tx`
      update public.analytics_sync_state set
        status = 'pending', lease_until = null, next_sync_at = ${next}, health = 'healthy',
        last_success_at = ${now}, consecutive_failures = 0,
        last_metric_at = ${rows.length || account ? now : tx`last_metric_at`},
        last_account_metric_at = ${account ? now : tx`last_account_metric_at`}
      where connection_id = ${state.connection_id} and status = 'claimed'`;
  });
}

async function release(ctx: JobContext, state: StateRow, next: { status: "idle"; next: null } | { status: "pending"; nextInSeconds: number }) {
  await ctx.serviceDb(
    (tx) => tx`
      update public.analytics_sync_state set status = ${next.status}, lease_until = null,
        next_sync_at = ${"nextInSeconds" in next ? tx`now() + make_interval(secs => ${next.nextInSeconds})` : null}
      where connection_id = ${state.connection_id} and status = 'claimed'`,
  );
}

type FailureCategory = "network" | "rate_limit" | "auth" | "invalid_response" | "unsupported" | "internal";

async function record(
  ctx: JobContext,
  state: StateRow,
  r: {
    health: "needs_reconnect" | "unsupported" | "failing" | "rate_limited";
    status: "idle" | "pending";
    next: null | { inSeconds: number };
    error: { message: string; category: FailureCategory };
  },
) {
  await ctx.serviceDb(
    (tx) => tx`
      update public.analytics_sync_state set
        status = ${r.status}, lease_until = null,
        next_sync_at = ${r.next ? tx`now() + make_interval(secs => ${r.next.inSeconds})` : null},
        health = ${r.health}, last_error = ${r.error.message.slice(0, 1000)}, last_error_category = ${r.error.category},
        last_error_at = now(),
        consecutive_failures = ${r.health === "unsupported" ? tx`consecutive_failures` : tx`consecutive_failures + 1`}
      where connection_id = ${state.connection_id} and status = 'claimed'`,
  );
}

async function fail(ctx: JobContext, state: StateRow, interval: number, error: PlatformError, category: FailureCategory, waitSeconds?: number) {
  const backoff = Math.min(MAX_BACKOFF_SECONDS, interval * 2 ** Math.min(state.consecutive_failures, 12));
  await record(ctx, state, {
    health: category === "rate_limit" ? "rate_limited" : "failing",
    status: "pending",
    next: { inSeconds: waitSeconds ?? backoff },
    error: { message: error.message, category },
  });
}
