import { createHash } from "node:crypto";
import type { Tx } from "../core/db.js";
import { AppError, notFound } from "../core/errors.js";
import { keysetPage, type Page, type PageSpec } from "../core/pagination.js";
import { readinessOf, connectionColumns, type ConnectionRow } from "../connections/serialize.js";
import { mediaSizeViolations } from "../media/limits.js";
import { mediaForAttaching } from "../media/media.js";
import { assertUploadedAsDeclared } from "../media/verify.js";
import { catalog, type Platform } from "../platforms/catalog.js";
import { assertProfileVisible } from "../core/profile-scope.js";
import { refreshPostStatus } from "../publishing/events.js";
import { INLINE_RESERVE_SECONDS, publishesInline } from "../publishing/inline-policy.js";
import { checkPostRules, type RuleViolation } from "./rules.js";
import { scheduleInstant, type CreatePostInput } from "./schemas.js";

/** A scheduleDate may lag the server clock by this much (clock skew) and still count as "now". */
const PAST_TOLERANCE_MS = 5_000;
const MAX_HORIZON_DAYS = 366;

function ruleError(violations: RuleViolation[]): AppError {
  const first = violations[0]!;
  const message = first.platform ? `${first.platform}: ${first.message}` : first.message;
  return new AppError("validation_error", violations.length > 1 ? `${message} (and ${violations.length - 1} more)` : message, {
    details: violations.map((v) => ({ field: v.field, message: v.message, ...(v.platform ? { platform: v.platform } : {}), rule: v.rule })),
  });
}

export interface NewPost {
  postId: string;
  targetIds: string[];
  /** Targets the request publishes itself (`inline` asked for): created reserved for it, see src/publishing/inline.ts. */
  inlineTargetIds: string[];
  scheduledAt: Date | null;
  platforms: Platform[];
}

/** Picks the account each target publishes as: the most recently connected one that is ready. */
async function connectionsFor(tx: Tx, profileId: string, platforms: Platform[]) {
  const rows = await tx<ConnectionRow[]>`
    select ${tx.unsafe(connectionColumns)}
    from public.connections where profile_id = ${profileId} and platform = any(${platforms})
    order by created_at desc`;
  const chosen = new Map<Platform, ConnectionRow>();
  const violations: RuleViolation[] = [];
  for (const platform of platforms) {
    const candidates = rows.filter((r) => r.platform === platform);
    const ready = candidates.find((r) => readinessOf(r).canPublish);
    if (ready) chosen.set(platform, ready);
    else if (!candidates.length) {
      violations.push({ field: "platforms", platform, rule: "connected_account", message: `No ${catalog[platform].displayName} account is connected to this profile` });
    } else {
      const reasons = readinessOf(candidates[0]!).missingRequirements.join("; ");
      violations.push({ field: "platforms", platform, rule: "account_ready", message: `The ${catalog[platform].displayName} account is not ready: ${reasons}` });
    }
  }
  return { chosen, violations };
}

/**
 * Creates a post with one target per network, checking every posting rule and that each network has a connected,
 * ready account. Nothing is written unless everything passes. Scheduled posts emit `post.scheduled`. With `inline`,
 * a publish-now post's targets to networks that answer at once (src/publishing/inline-policy.ts) are created due
 * INLINE_RESERVE_SECONDS ahead, reserved for the request to publish (src/publishing/inline.ts); the others are due now.
 */
export async function createPost(
  tx: Tx,
  input: CreatePostInput & {
    profileId: string;
    userId: string;
    apiKeyId?: string;
    recurrence?: { scheduleId: string; occurrenceAt: Date };
    inline?: boolean;
  },
  /** "Now" for the past and horizon checks: the home's clock (services.clock; the real time in the cloud), never Date.now(). */
  now: Date,
): Promise<NewPost> {
  await assertProfileVisible(tx, input.profileId);

  let scheduledAt: Date | null = null;
  if (input.scheduleDate) {
    scheduledAt = scheduleInstant(input.scheduleDate, input.timezone);
    if (scheduledAt.getTime() < now.getTime() - PAST_TOLERANCE_MS) {
      throw new AppError("validation_error", `scheduleDate ${scheduledAt.toISOString()} is in the past`, {
        details: [{ field: "scheduleDate", message: "Must be in the future", rule: "future_date" }],
      });
    }
    if (scheduledAt.getTime() > now.getTime() + MAX_HORIZON_DAYS * 86_400_000) {
      throw new AppError("validation_error", `scheduleDate may be at most ${MAX_HORIZON_DAYS} days ahead`, {
        details: [{ field: "scheduleDate", message: `At most ${MAX_HORIZON_DAYS} days ahead`, rule: "horizon" }],
      });
    }
  }

  // A post made from a template: its rendered content (one use counted, in this transaction), and its platforms and
  // media unless the request gives its own. The template code (and its date formatting) loads on the first such post.
  const template = input.templateId
    ? await (await import("../templates/templates.js")).postFromTemplate(tx, { profileId: input.profileId, templateId: input.templateId, variables: input.variables, at: scheduledAt ?? now, timezone: input.timezone })
    : undefined;
  const platforms = input.platforms ?? (input.platform ? [input.platform] : (template?.platforms ?? []));
  if (!platforms.length) {
    throw new AppError("validation_error", "Invalid field 'platforms': required, and the template names none", {
      details: [{ field: "platforms", message: "Required: the template names no platforms" }],
    });
  }
  const content = template?.content ?? input.content ?? "";
  const mediaItems = input.media ?? template?.media ?? [];
  if (template && !content.trim() && !mediaItems.length) {
    throw new AppError("validation_error", "The template rendered to empty text and no media is attached", {
      details: [{ field: "variables", message: "The rendered text is empty and there is no media" }],
    });
  }

  // Uploaded media (by id) must be this profile's; its type, URL and size come from its record, not the request.
  const uploaded = await mediaForAttaching(tx, input.profileId, mediaItems.flatMap((m) => (m.id ? [m.id] : [])));
  const media = mediaItems.map((m) => {
    const record = m.id ? uploaded.get(m.id) : undefined;
    if (record) {
      const { id: mediaId, file_path: filePath, public_url: publicUrl, mime_type: mimeType, file_name: fileName } = record;
      return { record, mediaId, filePath, publicUrl, mimeType, fileSize: Number(record.file_size), fileName };
    }
    // Without an id the schema requires public_url and mime_type.
    const fileSize = m.file_size ?? null;
    return { record, mediaId: null, filePath: m.file_path ?? null, publicUrl: m.public_url!, mimeType: m.mime_type!.toLowerCase(), fileSize, fileName: m.file_name ?? null };
  });
  const violations = [
    ...checkPostRules({ platforms, content, media, scheduled: scheduledAt !== null }),
    ...mediaSizeViolations(platforms, media),
  ];
  if (violations.length) throw ruleError(violations);
  const { chosen, violations: accountViolations } = await connectionsFor(tx, input.profileId, platforms);
  if (accountViolations.length) throw ruleError(accountViolations);
  for (const m of media) if (m.record) await assertUploadedAsDeclared(m.record);

  const [post] = await tx<{ id: string }[]>`
    insert into public.posts (profile_id, content, status, scheduled_for, created_by, api_key_id, recurring_schedule_id, occurrence_at,
      template_id)
    values (${input.profileId}, ${content}, ${scheduledAt ? "scheduled" : "publishing"}, ${scheduledAt},
            ${input.userId}, ${input.apiKeyId ?? null}, ${input.recurrence?.scheduleId ?? null}, ${input.recurrence?.occurrenceAt ?? null},
            ${template ? input.templateId! : null})
    returning id`;
  const postId = post!.id;
  for (const [i, m] of media.entries()) {
    await tx`
      insert into public.post_media (post_id, profile_id, media_id, file_path, public_url, mime_type, file_size, file_name, sort_order)
      values (${postId}, ${input.profileId}, ${m.mediaId}, ${m.filePath}, ${m.publicUrl}, ${m.mimeType}, ${m.fileSize}, ${m.fileName}, ${i})`;
  }
  const inline = new Set(!scheduledAt && input.inline ? platforms.filter((p) => publishesInline(p, media)) : []);
  const targets = await tx<{ id: string; platform: Platform }[]>`
    insert into public.post_targets (post_id, profile_id, platform, connection_id, scheduled_for, due_at)
    select ${postId}, ${input.profileId}, t.platform, t.connection_id, ${scheduledAt},
      case when t.platform = any(${[...inline]}::text[]) then now() + make_interval(secs => ${INLINE_RESERVE_SECONDS})
           else coalesce(${scheduledAt}::timestamptz, now()) end
    from unnest(${platforms}::text[], ${platforms.map((p) => chosen.get(p)!.id)}::uuid[]) as t(platform, connection_id)
    returning id, platform`;
  if (scheduledAt) {
    for (const t of targets) {
      await tx`select public.record_scheduled_event(${t.id})`;
    }
  }
  return {
    postId,
    targetIds: targets.map((t) => t.id),
    inlineTargetIds: targets.filter((t) => inline.has(t.platform)).map((t) => t.id),
    scheduledAt,
    platforms,
  };
}

export interface TargetView {
  id: string;
  platform: string;
  status: string;
  external_post_id: string | null;
  external_url: string | null;
  error_message: string | null;
  error_category: string | null;
  attempts: number;
  published_at: Date | null;
  next_attempt_at: Date | null;
  /** Set when the target's connection will not be usable when the target is due (src/connections/health.ts). */
  warning?: string | null;
}

export interface PostView {
  id: string;
  profile_id: string;
  content: string;
  status: string;
  scheduled_for: Date | null;
  published_at: Date | null;
  created_at: Date;
  template_id: string | null;
  recurring_schedule_id: string | null;
  occurrence_at: Date | null;
  targets: TargetView[];
  media: { id: string; public_url: string; mime_type: string; file_size: number | null; file_name: string | null; file_path: string | null }[];
}

/**
 * A pending target's warning when its connection will not be usable when it is due (null otherwise), as SQL over a
 * target `t` left-joined to its connection `c`: the connection needs reconnecting, or it stops working (`usable_until`,
 * src/connections/health.ts) at or before the target's time. Post reads and the scheduled-posts list share it.
 */
const targetWarningSql = `case when t.status = 'pending' and c.status = 'needs_reconnect'
      then 'The account needs reconnecting: this post fails unless it is reconnected before it is due'
    when t.status = 'pending' and c.usable_until <= t.scheduled_for
      then 'The connection stops working at ' || to_char(c.usable_until at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
           || ', before this post is due: reconnect the account before then' end`;

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export function serializePost(p: PostView) {
  return {
    id: p.id,
    profile_id: p.profile_id,
    content: p.content,
    status: p.status,
    scheduled_for: iso(p.scheduled_for),
    published_at: iso(p.published_at),
    created_at: new Date(p.created_at).toISOString(),
    template_id: p.template_id,
    recurring_schedule_id: p.recurring_schedule_id,
    occurrence_at: iso(p.occurrence_at),
    targets: p.targets.map((t) => ({
      id: t.id,
      platform: t.platform,
      status: t.status,
      external_post_id: t.external_post_id,
      external_url: t.external_url,
      error_message: t.error_message,
      error_category: t.error_category,
      attempts: t.attempts,
      published_at: iso(t.published_at),
      next_attempt_at: iso(t.next_attempt_at),
      ...(t.warning ? { warning: t.warning } : {}),
    })),
    media: p.media.map((m) => ({ ...m, file_size: m.file_size === null ? null : Number(m.file_size) })),
  };
}

/** Posts with their targets and media in one query (no N+1), newest first, keyset-paginated. */
export async function listPosts(tx: Tx, filter: { profileId: string; status?: string; postId?: string; recurringScheduleId?: string }, page: PageSpec): Promise<Page<PostView>> {
  return keysetPage(tx, page, (after, take) => tx<PostView[]>`
    select p.id, p.profile_id, p.content, p.status, p.scheduled_for, p.published_at, p.created_at,
      p.template_id, p.recurring_schedule_id, p.occurrence_at,
      coalesce((select json_agg(json_build_object(
          'id', t.id, 'platform', t.platform, 'status', t.status, 'external_post_id', t.external_post_id,
          'external_url', t.external_url, 'error_message', t.error_message, 'error_category', t.error_category,
          'attempts', t.attempts, 'published_at', t.published_at,
          'next_attempt_at', case when t.status = 'pending' then t.due_at end,
          'warning', ${tx.unsafe(targetWarningSql)}) order by t.platform)
        from public.post_targets t left join public.connections c on c.id = t.connection_id
        where t.post_id = p.id), '[]') as targets,
      coalesce((select json_agg(json_build_object('id', m.id, 'public_url', m.public_url, 'mime_type', m.mime_type,
          'file_size', m.file_size, 'file_name', m.file_name, 'file_path', m.file_path) order by m.sort_order)
        from public.post_media m where m.post_id = p.id), '[]') as media
    from public.posts p
    where p.profile_id = ${filter.profileId}
      and ${filter.status ? tx`p.status = ${filter.status}` : tx`true`}
      and ${filter.postId ? tx`p.id = ${filter.postId}` : tx`true`}
      and ${filter.recurringScheduleId ? tx`p.recurring_schedule_id = ${filter.recurringScheduleId}` : tx`true`}
      and ${after}
    order by p.created_at desc, p.id desc
    limit ${take}`, { createdAt: "p.created_at", id: "p.id" });
}

export async function getPostOrThrow(tx: Tx, postId: string): Promise<PostView> {
  const [profile] = await tx<{ profile_id: string }[]>`select profile_id from public.posts where id = ${postId}`;
  if (!profile) throw notFound("Post");
  const { rows } = await listPosts(tx, { profileId: profile.profile_id, postId }, { limit: 1 });
  return rows[0]!;
}

/** Stable hash of a request body for Idempotency-Key comparisons (key order does not matter). */
export function requestHash(body: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === "object"
        ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)]))
        : v;
  return createHash("sha256").update(JSON.stringify(canonical(body))).digest("hex");
}

export interface ScheduledRow {
  id: string;
  post_id: string;
  platform: string;
  content: string;
  scheduled_at: Date | null;
  status: string;
  attempts: number;
  error_message: string | null;
  error_category: string | null;
  external_post_id: string | null;
  created_at: Date;
  /** Set when the target's connection will not be usable when the target is due (as in post reads). */
  warning: string | null;
}

/** The API shape of a scheduled post (one target of a post). */
export function serializeScheduled(r: ScheduledRow) {
  return {
    id: r.id,
    post_id: r.post_id,
    platform: r.platform,
    content: r.content,
    scheduled_at: r.scheduled_at?.toISOString() ?? null,
    status: r.status,
    attempts: r.attempts,
    external_post_id: r.external_post_id,
    error_message: r.error_message,
    error_category: r.error_category,
    ...(r.warning ? { warning: r.warning } : {}),
  };
}

export async function listScheduled(
  tx: Tx,
  filter: { profileId: string; status?: string; platform?: string },
  page: PageSpec,
): Promise<Page<ScheduledRow>> {
  return keysetPage(tx, page, (after, take) => tx<ScheduledRow[]>`
    select t.id, t.post_id, t.platform, p.content, t.scheduled_for as scheduled_at, t.status, t.attempts,
      t.error_message, t.error_category, t.external_post_id, t.created_at, ${tx.unsafe(targetWarningSql)} as warning
    from public.post_targets t join public.posts p on p.id = t.post_id
      left join public.connections c on c.id = t.connection_id
    where t.profile_id = ${filter.profileId} and t.scheduled_for is not null
      and ${filter.status ? tx`t.status = ${filter.status}` : tx`t.status in ('pending', 'publishing')`}
      and ${filter.platform ? tx`t.platform = ${filter.platform}` : tx`true`}
      and ${after}
    order by t.created_at desc, t.id desc
    limit ${take}`, { createdAt: "t.created_at", id: "t.id" });
}

/** Cancels a target that has not been published; the post is canceled when none of its targets remain. */
export async function cancelTarget(tx: Tx, targetId: string): Promise<string> {
  const [target] = await tx<{ post_id: string; status: string }[]>`select post_id, status from public.post_targets where id = ${targetId}`;
  if (!target) throw notFound("Scheduled post");
  if (target.status !== "pending") {
    throw new AppError("conflict", `This scheduled post is ${target.status} and can no longer be canceled`);
  }
  const [updated] = await tx`
    update public.post_targets set status = 'canceled' where id = ${targetId} and status = 'pending' returning id`;
  if (!updated) throw new AppError("conflict", "This scheduled post started publishing and can no longer be canceled");
  await refreshPostStatus(tx, target.post_id);
  return target.post_id;
}

/** Queues a failed target for a fresh round of attempts. */
export async function retryTarget(tx: Tx, targetId: string): Promise<string> {
  const [target] = await tx<{ post_id: string; status: string; connection_status: string | null }[]>`
    select t.post_id, t.status, c.status as connection_status
    from public.post_targets t left join public.connections c on c.id = t.connection_id
    where t.id = ${targetId}`;
  if (!target) throw notFound("Scheduled post");
  if (target.status !== "failed") throw new AppError("conflict", `Only failed posts can be retried; this one is ${target.status}`);
  if (target.connection_status !== "connected") {
    throw new AppError("conflict", "The account for this post needs reconnecting before it can be retried");
  }
  await tx`
    update public.post_targets set status = 'pending', attempts = 0, due_at = now(), processing_state = null,
      processing_started_at = null, error_message = null, error_category = null
    where id = ${targetId} and status = 'failed'`;
  await refreshPostStatus(tx, target.post_id);
  return target.post_id;
}
