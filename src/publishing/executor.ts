import { env } from "../core/env.js";
import { jobContext, retryDelaySeconds, type JobContext } from "../core/jobs/index.js";
import { publishRetry } from "./retry.js";
import { log } from "../core/log.js";
import { literal, retryIfAborted, type Tx } from "../core/pg.js";
import { servicePool } from "../core/services.js";
import { liveCredentials, markNeedsReconnect, usableCredentials, type TokenRow } from "../connections/tokens.js";
import type { Platform } from "../platforms/catalog.js";
import { PlatformError, retryableCategories, type MediaItem, type PublishOutcome } from "../platforms/types.js";
import { writeUploadProgress } from "../media/upload-log.js";
import { recordEvent, refreshPostStatus } from "./events.js";
import { adapterForCredentials } from "../white-label/apps.js";

/** How long a claim lasts; a crashed executor's target becomes pending again after it (the sweep sees to that). */
export const LEASE_SECONDS = 120;
/** A network still processing media after this long fails the target with `media_processing`. */
export const MAX_PROCESSING_SECONDS = 30 * 60;

/** When a failed attempt is tried again (./retry.ts). */
export { publishRetry };

interface ClaimedTarget {
  id: string;
  post_id: string;
  profile_id: string;
  platform: Platform;
  connection_id: string | null;
  attempts: number;
  lease_until: Date;
  processing_state: Record<string, unknown> | null;
  processing_started_at: Date | null;
  content: string;
  media: MediaItem[];
  /**
   * The connection's token row, read (not locked) with the claim, so an attempt whose access token needs no refresh
   * costs no transaction of its own; a refresh goes through liveCredentials, which locks the row.
   */
  tokenRow: TokenRow | undefined;
}

type Prefixed<T> = { [K in keyof T & string as `k_${K}`]: T[K] };
type Nullable<T> = { [K in keyof T]: T[K] | null };

/**
 * Who claims: `queue`, a delivered message (or the sweep's), for a pending target that is due; `inline`, the request
 * that created a publish-now target, for its first attempt only (see ./inline.ts).
 */
export type ClaimBy = "queue" | "inline";

/**
 * Claims the target for one attempt with a conditional update: only a pending target can be claimed (by the queue
 * once it is due, inline only before its first attempt), so of several deliveries of the same message, racing
 * executors, or the request's inline attempt and a message, exactly one wins and the others do nothing. The post
 * and its media are read by id and the target's profile (the composite foreign keys guarantee the same; this read
 * does not rely on them): a target never publishes another tenant's post.
 */
async function claim(ctx: JobContext, targetId: string, by: ClaimBy): Promise<ClaimedTarget | undefined> {
  // claim_publish_target (migration 20261206092000): the conditional update, the post's content and media, and the
  // connection's token row, in one statement whose plan is cached per connection. One statement is atomic on its
  // own and creates no queue work (nothing to hand off after a commit), so it runs without BEGIN and COMMIT, and
  // without parameters (`literal`, src/core/pg.ts): one round trip instead of four.
  const [row] = await servicePool(ctx.services.env).unsafe<(Omit<ClaimedTarget, "tokenRow"> & Nullable<Prefixed<TokenRow>>)[]>(
    `select * from public.claim_publish_target(${literal(targetId)}::uuid, ${by === "inline"}, ${LEASE_SECONDS})`,
  );
  if (!row) return undefined;
  const { k_id, k_profile_id, k_platform, k_status, k_access_token_enc, k_refresh_token_enc, k_token_expires_at,
    k_refresh_token_expires_at, k_external_account_id, k_username, k_settings, k_oauth_app_id, ...target } = row;
  const tokenRow: TokenRow | undefined = k_id === null ? undefined : {
    id: k_id, profile_id: k_profile_id!, platform: k_platform!, status: k_status!, access_token_enc: k_access_token_enc!,
    refresh_token_enc: k_refresh_token_enc, token_expires_at: k_token_expires_at, refresh_token_expires_at: k_refresh_token_expires_at,
    external_account_id: k_external_account_id!, username: k_username!, settings: k_settings!, oauth_app_id: k_oauth_app_id,
  };
  return { ...target, tokenRow };
}

/** `permanent`: retrying cannot help (the bounded wait for processing ran out). */
type AttemptResult = { outcome: PublishOutcome } | { error: PlatformError; permanent?: boolean };

async function attempt(ctx: JobContext, target: ClaimedTarget): Promise<AttemptResult> {
  try {
    if (!target.connection_id) throw new PlatformError("auth_error", "The connection for this target was removed");
    const connectionId = target.connection_id;
    if (target.processing_state) {
      const now = ctx.clock.now().getTime();
      const waited = (now - (target.processing_started_at?.getTime() ?? now)) / 1000;
      if (waited > MAX_PROCESSING_SECONDS) {
        const message = `The network was still processing the media after ${Math.round(waited / 60)} minutes`;
        return { error: new PlatformError("media_processing", message), permanent: true };
      }
    }
    const call = async (force: boolean) => {
      // By id and the target's profile: a target never publishes with another profile's account. The row read with
      // the claim serves when its access token is good for a while yet; otherwise (or when forced) liveCredentials
      // locks the row and refreshes.
      const read = !force && target.tokenRow ? usableCredentials(target.tokenRow, ctx.clock.now().getTime()) : undefined;
      const credentials = read ?? (await liveCredentials(ctx.serviceDb, connectionId, { force, profileId: target.profile_id }));
      const request = {
        accessToken: credentials.accessToken,
        account: { externalAccountId: credentials.externalAccountId, username: credentials.username },
        text: target.content,
        media: target.media,
        settings: credentials.settings,
      };
      // The app the connection was made with (a white-label account's own, or ours): e.g. Reddit's User-Agent is the app's.
      const adapter = await adapterForCredentials(ctx.serviceDb, credentials, ctx.services.platforms);
      return target.processing_state ? adapter.checkStatus(request, target.processing_state) : adapter.publish(request);
    };
    try {
      return { outcome: await call(false) };
    } catch (error) {
      // A token the network stopped accepting before its stated expiry: refresh once and try again. If the refresh
      // is rejected too, the connection is marked for reconnection and the attempt fails with auth_error.
      if (!(error instanceof PlatformError) || error.category !== "auth_error") throw error;
      return { outcome: await call(true) };
    }
  } catch (error) {
    if (error instanceof PlatformError) return { error };
    ctx.log.error("publish attempt failed unexpectedly", { targetId: target.id, error });
    return { error: new PlatformError("unknown", "Unexpected error while publishing") };
  }
}

interface AttemptTiming {
  startedAt: Date;
  completedAt: Date;
}

type JobLogFields = { status: "success" | "failed" | "rate_limited"; error?: PlatformError; willRetry: boolean; nextRetryAt: Date | null };

/** The attempt's job_logs row, as settle_published_target (migration 20261206092000) takes it. */
function jobLogRow(t: ClaimedTarget, timing: AttemptTiming, fields: JobLogFields) {
  const durationMs = timing.completedAt.getTime() - timing.startedAt.getTime();
  return {
    profile_id: t.profile_id, post_id: t.post_id, target_id: t.id, platform: t.platform,
    job_type: t.processing_state ? "status_check" : "publish", status: fields.status, attempt_number: t.attempts,
    started_at: timing.startedAt.toISOString(), completed_at: timing.completedAt.toISOString(), duration_ms: durationMs,
    error_message: fields.error?.message ?? null, error_category: fields.error?.category ?? null,
    was_rate_limited: fields.error?.category === "rate_limited", will_retry: fields.willRetry,
    next_retry_at: fields.nextRetryAt?.toISOString() ?? null,
    metadata: {
      durationMs,
      isRetry: t.attempts > 1,
      ...(fields.error?.details.status ? { httpStatus: fields.error.details.status } : {}),
      ...(fields.error?.details.platformCode ? { platformCode: fields.error.details.platformCode } : {}),
    },
  };
}

/** One line per attempt in the logs (the local home's terminal shows it), as the job log row says. */
function logAttempt(t: ClaimedTarget, fields: JobLogFields, durationMs: number) {
  (fields.status === "success" ? log.info : log.warn)("publish attempt", {
    platform: t.platform, postId: t.post_id, targetId: t.id, attempt: t.attempts, status: fields.status,
    category: fields.error?.category ?? null, error: fields.error?.message ?? null, willRetry: fields.willRetry,
    nextRetryAt: fields.nextRetryAt?.toISOString() ?? null, durationMs,
  });
}

async function writeJobLog(tx: Tx, t: ClaimedTarget, timing: AttemptTiming, fields: JobLogFields) {
  const durationMs = timing.completedAt.getTime() - timing.startedAt.getTime();
  await tx`
    insert into public.job_logs (profile_id, post_id, target_id, platform, job_type, status, attempt_number, started_at,
      completed_at, duration_ms, error_message, error_category, was_rate_limited, will_retry, next_retry_at, metadata)
    values (${t.profile_id}, ${t.post_id}, ${t.id}, ${t.platform}, ${t.processing_state ? "status_check" : "publish"},
      ${fields.status}, ${t.attempts}, ${timing.startedAt}, ${timing.completedAt}, ${durationMs},
      ${fields.error?.message ?? null}, ${fields.error?.category ?? null}, ${fields.error?.category === "rate_limited"},
      ${fields.willRetry}, ${fields.nextRetryAt},
      ${tx.json({
        durationMs,
        isRetry: t.attempts > 1,
        ...(fields.error?.details.status ? { httpStatus: fields.error.details.status } : {}),
        ...(fields.error?.details.platformCode ? { platformCode: fields.error.details.platformCode } : {}),
      })})`;
  logAttempt(t, fields, durationMs);
}

/** Records the attempt's outcome in one transaction, fenced by the lease so a stale executor cannot overwrite. */
async function settle(ctx: JobContext, t: ClaimedTarget, result: AttemptResult, timing: AttemptTiming): Promise<boolean> {
  if ("outcome" in result && result.outcome.status === "published") {
    // The common outcome in one round trip: settle_published_target (migrations 20261206092000, 20261206110000) takes
    // the same locks as the branch below and writes what writeJobLog and recordEvent write (keep those in step), then
    // derives the post's status with refresh_post_status, the function refreshPostStatus calls; its plans are cached.
    // Still a transaction (its event's webhook deliveries are handed off after the commit), and sent without
    // parameters (`literal`, src/core/pg.ts), which postgres.js would send in two round trips.
    const { externalPostId, url } = result.outcome;
    const fields: JobLogFields = { status: "success", willRetry: false, nextRetryAt: null };
    const row = jobLogRow(t, timing, fields);
    const [settled] = await ctx.serviceDb((tx) =>
      tx.unsafe<{ held: boolean }[]>(
        `select public.settle_published_target(${literal(t.id)}::uuid, ${literal(t.post_id)}::uuid, ${literal(t.profile_id)}::uuid,
           ${literal(t.lease_until.toISOString())}::timestamptz, ${literal(externalPostId)}, ${url == null ? "null" : literal(url)},
           ${literal(JSON.stringify(row))}::jsonb) as held`,
      ),
    );
    if (!settled?.held) {
      ctx.log.warn("lease lost before the outcome was recorded", { targetId: t.id });
      return false;
    }
    logAttempt(t, fields, row.duration_ms);
    return false;
  }
  return ctx.serviceDb(async (tx) => {
    // Lock order: the post, then the target. Job logs and events reference the post (their foreign keys take a
    // share lock on it), so taking the post first keeps two targets of one post settling at once from deadlocking.
    await tx`select 1 from public.posts where id = ${t.post_id} and profile_id = ${t.profile_id} for update`;
    const [held] = await tx`
      select 1 from public.post_targets where id = ${t.id} and status = 'publishing' and lease_until = ${t.lease_until} for update`;
    if (!held) {
      ctx.log.warn("lease lost before the outcome was recorded", { targetId: t.id });
      return false;
    }
    let willRetry = false;
    if ("outcome" in result && result.outcome.status === "processing") {
      // Still sending a large video (a slice per attempt, src/media/transfer.ts): the bounded wait for the network's
      // processing starts once the last byte is in.
      const upload = result.outcome.upload;
      const sending = upload !== undefined && upload.receivedBytes < upload.totalBytes;
      await tx`
        update public.post_targets set status = 'pending', lease_until = null,
          processing_state = ${tx.json(result.outcome.state as never)},
          processing_started_at = ${sending ? null : tx`coalesce(processing_started_at, now())`},
          due_at = now() + make_interval(secs => ${result.outcome.checkAfterSeconds})
        where id = ${t.id}`;
      // Progress in the job logs for an upload that spans attempts (not for a video sent whole in one).
      if (upload && (sending || upload.sentBytes < upload.totalBytes)) await writeUploadProgress(tx, t, timing, upload);
    } else if ("error" in result) {
      willRetry = await settleFailure(ctx, tx, t, result, timing);
    }
    await refreshPostStatus(tx, t.post_id);
    return willRetry;
  });
}

/**
 * Records a failed attempt and decides what comes next. A failed status check of media still processing counts as
 * an attempt too (so following a network that never finishes is bounded); after a transient failure the check is
 * repeated, after any other the next attempt publishes from scratch.
 */
async function settleFailure(
  ctx: JobContext,
  tx: Tx,
  t: ClaimedTarget,
  { error, permanent = false }: { error: PlatformError; permanent?: boolean },
  timing: AttemptTiming,
): Promise<boolean> {
  const wasCheck = t.processing_state !== null;
  const attempts = wasCheck ? t.attempts + 1 : t.attempts;
  const willRetry = !permanent && retryableCategories.has(error.category) && attempts < env().PUBLISH_MAX_ATTEMPTS;
  const keepState = wasCheck && willRetry && (error.category === "network_error" || error.category === "rate_limited");
  let nextRetryAt: Date | null = null;
  if (willRetry) {
    const reset = error.category === "rate_limited" ? error.details.retryAfterSeconds : undefined;
    nextRetryAt = new Date(ctx.clock.now().getTime() + retryDelaySeconds(publishRetry, attempts, reset) * 1000);
    await tx`
      update public.post_targets set status = 'pending', lease_until = null, due_at = ${nextRetryAt}, attempts = ${attempts},
        processing_state = ${keepState ? tx`processing_state` : null},
        processing_started_at = ${keepState ? tx`processing_started_at` : null},
        error_message = ${error.message}, error_category = ${error.category}
      where id = ${t.id}`;
  } else {
    await tx`
      update public.post_targets set status = 'failed', lease_until = null, attempts = ${attempts}, processing_state = null,
        error_message = ${error.message}, error_category = ${error.category}
      where id = ${t.id}`;
    if (error.category === "auth_error" && t.connection_id) await markNeedsReconnect(tx, t.connection_id, error.message, t.profile_id);
    await recordEvent(tx, "post.failed", t, { error_message: error.message, error_category: error.category, attempts });
  }
  await writeJobLog(tx, { ...t, attempts }, timing, {
    status: error.category === "rate_limited" ? "rate_limited" : "failed",
    error,
    willRetry,
    nextRetryAt,
  });
  return willRetry;
}

export type ExecutionResult = "published" | "processing" | "retrying" | "failed" | "skipped";

/**
 * One publish attempt for one target, as the publish job runs it (src/publishing/job.ts) and as a publish-now request
 * runs its inline attempts (./inline.ts, `by` "inline"): claim (or do nothing), publish through the adapter, record
 * the outcome and the job log, emit events, the same whoever runs it. Every failure is handled here; the worker
 * answers 2xx so QStash never retries on its own schedule. "processing" and "retrying" leave the target pending with
 * its next due time: the caller puts that attempt on the queue.
 */
export async function executePublish(targetId: string, ctx: JobContext = jobContext(), by: ClaimBy = "queue"): Promise<ExecutionResult> {
  const target = await claim(ctx, targetId, by);
  if (!target) return "skipped";
  const startedAt = ctx.clock.now();
  const result = await attempt(ctx, target);
  const timing = { startedAt, completedAt: ctx.clock.now() };
  // The attempt happened on the network: a settle Postgres aborted for another transaction is run again, not left to
  // the lease's expiry (which would publish the post a second time).
  const willRetry = await retryIfAborted(() => settle(ctx, target, result, timing));
  if ("outcome" in result) return result.outcome.status === "published" ? "published" : "processing";
  return willRetry ? "retrying" : "failed";
}
