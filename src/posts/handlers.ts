import { route } from "../core/api.js";
import type { CallerDb } from "../core/db.js";
import { Reply } from "../core/http.js";
import { pageOf } from "../core/pagination.js";
import { resolveProfileId } from "../core/profile-scope.js";
import { consumePostQuota } from "../core/quota.js";
import { publishInline } from "../publishing/inline.js";
import { publishJob } from "../publishing/job.js";
import { claimIdempotencyKey, idempotencyKeyOf, storeIdempotentResponse } from "./idempotency.js";
import { cancelTarget, createPost, getPostOrThrow, listPosts, listScheduled, requestHash, retryTarget, serializePost, serializeScheduled } from "./posts.js";
import {
  createPostResponse,
  createPostSchema,
  listPostsQuerySchema,
  listScheduledQuerySchema,
  postListResponse,
  postResponse,
  retryBodySchema,
  retryQueuedResponse,
  scheduledCanceledResponse,
  scheduledListResponse,
} from "./schemas.js";

// Publish now or schedule, to one or several networks. The posting rate limit is counted once the caller is known to
// belong to the profile; the monthly post quota in the creating transaction, so a refused post costs nothing.
// Publish now: targets to networks that answer at once are published in this request (src/publishing/inline.ts), within
// a time budget; the others (video, media the network processes) are handed to the queue and answered as they stand.
export const createPostRoute = route("POST /api/v1/post", {
  auth: "any",
  body: createPostSchema,
  profile: "body",
  rateLimit: "posts",
  response: createPostResponse,
  status: 201,
  handle: async ({ db, body, caller, req, profileId, clock, waitUntil }) => {
    const key = idempotencyKeyOf(req);
    // The past and 366-day checks measure from the home's clock (a test's manual clock; the real time in the cloud).
    const now = clock.now();
    const scope = { profileId, userId: caller.userId };
    const outcome = await db(async (tx) => {
      if (key) {
        const replay = await claimIdempotencyKey(tx, scope, key, requestHash({ ...body, profileId }));
        if (replay) return { replay };
      }
      const apiKeyId = caller.kind === "apiKey" ? caller.keyId : undefined;
      const created = await createPost(tx, { ...body, profileId, userId: caller.userId, apiKeyId, inline: true }, now);
      await consumePostQuota(tx, profileId, 1);
      return { created };
    });
    if (outcome.replay) return new Reply(outcome.replay.status, outcome.replay.body as never, { "idempotent-replayed": "true" });
    const created = outcome.created!;
    const inline = new Set(created.inlineTargetIds);
    await Promise.all([publishJob.dispatch(created.targetIds.filter((id) => !inline.has(id))), publishInline(created.inlineTargetIds, { waitUntil })]);
    const response = created.scheduledAt
      ? { success: true as const, postId: created.postId, scheduled: true as const, scheduledAt: created.scheduledAt.toISOString() }
      : await immediateOutcome(db, created.postId);
    if (key) await db((tx) => storeIdempotentResponse(tx, scope, key, { status: 201, body: response }));
    return new Reply(201, response);
  },
});

/**
 * An immediate post's answer: each network's outcome as it stands once the inline attempts are done. Published targets
 * carry the network's post id and URL; a target the queue has (video, media still processing, a retry after a failed
 * attempt, with its error) is `pending` with `next_attempt_at`, or `publishing` while an attempt runs.
 */
async function immediateOutcome(db: CallerDb, postId: string) {
  const post = await db((tx) => getPostOrThrow(tx, postId));
  return {
    success: true as const,
    postId,
    status: post.status,
    targets: post.targets.map((t) => ({
      id: t.id,
      platform: t.platform,
      status: t.status,
      external_post_id: t.external_post_id,
      ...(t.external_url ? { url: t.external_url } : {}),
      ...(t.error_category ? { error_category: t.error_category, error_message: t.error_message } : {}),
      ...(t.next_attempt_at ? { next_attempt_at: new Date(t.next_attempt_at).toISOString() } : {}),
    })),
  };
}

// The profile's posts with their targets and media, newest first
export const listPostsRoute = route("GET /api/v1/posts", {
  auth: "any",
  query: listPostsQuerySchema,
  profile: "query",
  response: postListResponse,
  handle: async ({ db, query, profileId }) => {
    const page = await db((tx) => listPosts(tx, { profileId, status: query.status, recurringScheduleId: query.recurringScheduleId }, pageOf(query)));
    return { posts: page.rows.map(serializePost), nextCursor: page.nextCursor };
  },
});

// One post with every target's outcome
export const getPostRoute = route("GET /api/v1/posts/:postId", {
  auth: "any",
  response: postResponse,
  handle: async ({ db, params }) => ({ post: serializePost(await db((tx) => getPostOrThrow(tx, params.postId))) }),
});

// Scheduled targets (pending by default), one per post and network
export const listScheduledRoute = route("GET /api/v1/scheduled-posts", {
  auth: "any",
  query: listScheduledQuerySchema,
  profile: "query",
  response: scheduledListResponse,
  handle: async ({ db, query, profileId }) => {
    const page = await db((tx) => listScheduled(tx, { profileId, status: query.status, platform: query.platform }, pageOf(query)));
    return { scheduledPosts: page.rows.map(serializeScheduled), nextCursor: page.nextCursor };
  },
});

// Cancel a pending scheduled post
export const cancelScheduledRoute = route("DELETE /api/v1/scheduled-posts/:scheduledPostId", {
  auth: "any",
  response: scheduledCanceledResponse,
  handle: async ({ db, params }) => ({ success: true as const, postId: await db((tx) => cancelTarget(tx, params.scheduledPostId)) }),
});

// Queue a failed post for another round of attempts. `profileId` is optional here: an API key's must be its own.
export const retryScheduledRoute = route("POST /api/v1/scheduled-posts/:scheduledPostId/retry", {
  auth: "any",
  body: retryBodySchema,
  response: retryQueuedResponse,
  handle: async ({ db, params, body, caller }) => {
    if (body.profileId !== undefined) resolveProfileId(caller, body.profileId);
    await db((tx) => retryTarget(tx, params.scheduledPostId));
    await publishJob.dispatch([params.scheduledPostId]);
    return { success: true as const, message: "Post queued for retry" };
  },
});

export const postRoutes = [createPostRoute, listPostsRoute, getPostRoute, listScheduledRoute, cancelScheduledRoute, retryScheduledRoute];
