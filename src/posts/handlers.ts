import { route } from "../core/api.js";
import type { Caller } from "../core/auth.js";
import type { Tx } from "../core/db.js";
import { AppError } from "../core/errors.js";
import { Reply } from "../core/http.js";
import { decodeCursor, nextCursor } from "../core/pagination.js";
import { resolveProfileId } from "../core/profile-scope.js";
import { assertProfileVisible } from "../profiles/profiles.js";
import { consumePostQuota } from "../core/quota.js";
import { enforceRateLimit } from "../core/ratelimit/index.js";
import { enqueueDueTargets } from "../publishing/schedule.js";
import { cancelTarget, createPost, getPostOrThrow, listPosts, listScheduled, requestHash, retryTarget, serializePost } from "./posts.js";
import { createPostSchema, listPostsQuerySchema, listScheduledQuerySchema, retryBodySchema } from "./schemas.js";

/** How long POST /api/v1/post waits for an immediate post's targets to settle before answering. */
const IMMEDIATE_WAIT_MS = 6_000;
const POLL_MS = 150;

const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

interface StoredResponse {
  status: number;
  body: unknown;
}

/**
 * Claims an Idempotency-Key inside the creating transaction. A repeat with the same body gets the first response
 * back (and creates nothing); the same key with a different body, or while the first request is still running, is
 * a 409.
 */
async function claimIdempotencyKey(tx: Tx, scope: { profileId: string; userId: string }, key: string, hash: string): Promise<StoredResponse | null> {
  const inserted = await tx`
    insert into public.idempotency_keys (profile_id, user_id, idempotency_key, request_hash)
    values (${scope.profileId}, ${scope.userId}, ${key}, ${hash})
    on conflict (profile_id, user_id, idempotency_key) do nothing
    returning id`;
  if (inserted.length) return null;
  const [existing] = await tx<{ request_hash: string; response_status: number | null; response_body: unknown }[]>`
    select request_hash, response_status, response_body from public.idempotency_keys
    where profile_id = ${scope.profileId} and user_id = ${scope.userId} and idempotency_key = ${key}`;
  if (!existing || existing.request_hash !== hash) {
    throw new AppError("conflict", "This Idempotency-Key was already used with a different request body");
  }
  if (existing.response_status === null) throw new AppError("conflict", "A request with this Idempotency-Key is still being processed");
  return { status: existing.response_status, body: existing.response_body };
}

async function settledTargets(db: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>, postId: string) {
  const deadline = Date.now() + IMMEDIATE_WAIT_MS;
  for (;;) {
    const post = await db((tx) => getPostOrThrow(tx, postId));
    const open = post.targets.some((t) => t.status === "pending" || t.status === "publishing");
    if (!open || Date.now() >= deadline) return post;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// POST /api/v1/post — publish now or schedule, to one or several networks
export const createPostHandler = route({
  auth: "any",
  body: createPostSchema,
  handle: async ({ db, body, caller, req }) => {
    const profileId = resolveProfileId(caller, body.profileId);
    const key = req.headers.get("idempotency-key");
    if (key !== null && !idempotencyKeyPattern.test(key)) {
      throw new AppError("validation_error", "Invalid header 'Idempotency-Key': 1 to 255 printable ASCII characters", {
        details: [{ field: "Idempotency-Key", message: "1 to 255 printable ASCII characters" }],
      });
    }
    const scope = { profileId, userId: caller.userId };
    const hash = requestHash({ ...body, profileId });
    // The posting rate limit is per profile: count against it only once the caller is known to belong there, so a
    // stranger (or a removed member) never spends the profile's budget. An API key's membership was checked by its
    // lookup in this same request (verifyApiKey refuses a key whose creator left the profile); a session's is here.
    if (caller.kind === "session") await db((tx) => assertProfileVisible(tx, profileId));
    await enforceRateLimit("posts", profileId);
    const outcome = await db(async (tx) => {
      if (key) {
        const replay = await claimIdempotencyKey(tx, scope, key, hash);
        if (replay) return { replay };
      }
      const created = await createPost(tx, { ...body, profileId, userId: caller.userId, apiKeyId: apiKeyIdOf(caller) });
      // The profile owner's plan pays for the post; counted in this transaction, so a refused post costs nothing.
      await consumePostQuota(tx, profileId, 1);
      return { created };
    });
    if ("replay" in outcome && outcome.replay) {
      return new Reply(outcome.replay.status, outcome.replay.body, { "idempotent-replayed": "true" });
    }
    const created = outcome.created!;
    await enqueueDueTargets(created.targetIds);
    let response: Record<string, unknown>;
    if (created.scheduledAt) {
      response = { success: true, postId: created.postId, scheduled: true, scheduledAt: created.scheduledAt.toISOString() };
    } else {
      const post = await settledTargets(db, created.postId);
      response = {
        success: true,
        postId: created.postId,
        status: post.status,
        targets: post.targets.map((t) => ({
          platform: t.platform,
          status: t.status,
          external_post_id: t.external_post_id,
          ...(t.external_url ? { url: t.external_url } : {}),
          ...(t.error_category ? { error_category: t.error_category, error_message: t.error_message } : {}),
        })),
      };
    }
    if (key) {
      await db((tx) => tx`
        update public.idempotency_keys set response_status = 201, response_body = ${tx.json(response as never)}
        where profile_id = ${scope.profileId} and user_id = ${scope.userId} and idempotency_key = ${key}`);
    }
    return new Reply(201, response);
  },
});

const apiKeyIdOf = (caller: Caller) => (caller.kind === "apiKey" ? caller.keyId : undefined);

// GET /api/v1/posts — the profile's posts with their targets and media, newest first
export const listPostsHandler = route({
  auth: "any",
  query: listPostsQuerySchema,
  handle: async ({ db, query, caller }) => {
    const profileId = resolveProfileId(caller, query.profileId);
    const page = await db(async (tx) => {
      await assertProfileVisible(tx, profileId);
      return listPosts(tx, { profileId, status: query.status, limit: query.limit, before: decodeCursor(query.cursor) });
    });
    return { posts: page.rows.map(serializePost), nextCursor: nextCursor(page) };
  },
});

// GET /api/v1/posts/:postId — one post with every target's outcome
export const getPostHandler = route({
  auth: "any",
  handle: async ({ db, params }) => ({ post: serializePost(await db((tx) => getPostOrThrow(tx, params.postId!))) }),
});

// GET /api/v1/scheduled-posts — scheduled targets (pending by default), one per post and network
export const listScheduledHandler = route({
  auth: "any",
  query: listScheduledQuerySchema,
  handle: async ({ db, query, caller }) => {
    const profileId = resolveProfileId(caller, query.profileId);
    const page = await db(async (tx) => {
      await assertProfileVisible(tx, profileId);
      return listScheduled(tx, { profileId, status: query.status, platform: query.platform, limit: query.limit, before: decodeCursor(query.cursor) });
    });
    return {
      scheduledPosts: page.rows.map((r) => ({
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
      })),
      nextCursor: nextCursor(page),
    };
  },
});

// DELETE /api/v1/scheduled-posts/:scheduledPostId — cancel a pending scheduled post
export const cancelScheduledHandler = route({
  auth: "any",
  handle: async ({ db, params }) => {
    const postId = await db((tx) => cancelTarget(tx, params.scheduledPostId!));
    return { success: true, postId };
  },
});

// POST /api/v1/scheduled-posts/:scheduledPostId/retry — queue a failed post for another round of attempts
export const retryScheduledHandler = route({
  auth: "any",
  body: retryBodySchema,
  handle: async ({ db, params, body, caller }) => {
    if (body.profileId !== undefined) resolveProfileId(caller, body.profileId);
    await db((tx) => retryTarget(tx, params.scheduledPostId!));
    await enqueueDueTargets([params.scheduledPostId!]);
    return { success: true, message: "Post queued for retry" };
  },
});
