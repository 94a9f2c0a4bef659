import { z } from "zod";
import { count, sum } from "../analytics/model.js";
import { chunks, invalidResponse, measured, unavailable } from "./metrics.js";
import { chunkWithin, defaultTransferBudget, readMediaRange, sliceAllowance, type TransferBudget } from "../media/transfer.js";
import { createHttpClient, excerpt, retryAfterHeader, type HttpResponse } from "./http.js";
import { baseUrls, codeFlow, tokenEndpointError, toOAuthTokens } from "./oauth.js";
import { sniffVideo } from "./sniff-video.js";
import {
  PlatformError,
  type AccountInfo,
  type AdapterConfig,
  type ConnectionTraits,
  type ErrorCategory,
  type MediaItem,
  type PlatformAdapter,
  type PublishOutcome,
  type PublishRequest,
  type MetricsCapability,
  type PostMetricsResult,
} from "./types.js";
import { tiktokHosts, tiktokConnection } from "./facts.js";

// Static facts about the network (hosts, connection traits) live in facts.ts, which the registry loads without this module.
export { tiktokHosts, tiktokConnection };

/**
 * TikTok Content Posting API v2 adapter: Login Kit v2 on www.tiktok.com with PKCE as TikTok does it (the challenge is
 * the *hex* SHA-256 of the verifier, not base64url) and the client id named `client_key`, tokens and the API on
 * open.tiktokapis.com, rotating refresh tokens. Publishing is a direct post of one video:
 *
 *   creator_info/query  → privacy options, the creator's maximum duration, whether they can post now
 *   video/init          → a publish id; PULL_FROM_URL when the media URL is under a prefix verified in TikTok's
 *                         developer portal, otherwise FILE_UPLOAD (the video is downloaded here, bounded, and PUT to
 *                         TikTok's upload URL in chunks)
 *   status/fetch        → PROCESSING_UPLOAD / PROCESSING_DOWNLOAD → PUBLISH_COMPLETE | FAILED, followed through the
 *                         queue with `checkStatus` (the adapter never waits in a loop)
 *
 * The post text becomes the video's title (TikTok's caption). Every v2 answer carries the envelope
 * `{ data, error: { code, message, log_id } }`; failures are classified from `error.code` and the HTTP status.
 */

export const tiktokLimits = {
  /** Caption (`post_info.title` of a video): UTF-16 code units. */
  titleMaxUtf16: 2200,
  /**
   * TikTok's own limit: 4 GB. A FILE_UPLOAD is never held whole: the video is read from Storage in byte ranges and
   * PUT chunk by chunk, a slice per publish attempt, the next attempt going on from the next chunk
   * (src/media/transfer.ts). PULL_FROM_URL (a verified prefix) moves no bytes through us at all.
   */
  videoMaxBytes: 4 * 1024 * 1024 * 1024,
  /** TikTok's chunk rules: files under 5 MB go whole; other chunks are 5–64 MB, the last one absorbing the rest. */
  minChunkBytes: 5 * 1024 * 1024,
  maxChunkBytes: 64 * 1024 * 1024,
  defaultChunkBytes: 10 * 1024 * 1024,
  /** Downloading and uploading video takes longer than an API call. */
  transferTimeoutMs: 60_000,
} as const;

export const tiktokPrivacyLevels = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"] as const;

/** A connection's TikTok settings (the creator's choices TikTok's UX guidelines ask for). */
export const tiktokSettingsSchema = z.object({
  /** Who can watch. Unset: the most public level creator_info offers. Must be one it offers. */
  privacyLevel: z.enum(tiktokPrivacyLevels).optional(),
  disableComment: z.boolean().default(false),
  disableDuet: z.boolean().default(false),
  disableStitch: z.boolean().default(false),
  videoCoverTimestampMs: z.number().int().min(0).optional(),
  /** Paid partnership (branded content) and promotion of the creator's own business. */
  brandContentToggle: z.boolean().default(false),
  brandOrganicToggle: z.boolean().default(false),
  /** The video is AI-generated content. */
  isAigc: z.boolean().default(false),
});
export type TikTokSettings = z.infer<typeof tiktokSettingsSchema>;

export interface TikTokAdapterConfig extends AdapterConfig {
  /**
   * Whether TikTok has audited this app. Until it has, TikTok makes every post private (SELF_ONLY), so the adapter
   * posts SELF_ONLY and the connection's readiness says so.
   */
  appAudited?: boolean;
  /** URL prefixes verified in TikTok's developer portal: media under them is pulled by TikTok (PULL_FROM_URL). */
  pullFromUrlPrefixes?: string[];
  /** FILE_UPLOAD chunk size (5–64 MB, at most half the memory budget when that allows 5 MB); tests lower it. */
  chunkBytes?: number;
  /** How much of a video one function holds and sends per attempt (MEDIA_MEMORY_BUDGET_BYTES, MEDIA_UPLOAD_SLICE_BYTES). */
  transfer?: TransferBudget;
}

/** Seconds before each next status check: soon at first (most videos finish in seconds), then backing off. */
const CHECK_SCHEDULE_SECONDS = [1, 2, 3, 5, 10, 20, 30];
const checkAfter = (checks: number) => CHECK_SCHEDULE_SECONDS[Math.min(checks, CHECK_SCHEDULE_SECONDS.length - 1)]!;

/** `error.code` → category. Codes not listed fall back to the HTTP status (401, 429, 5xx) or `unknown`. */
const CODE_CATEGORIES: Record<string, ErrorCategory> = {
  // Reconnecting (with the scopes) fixes these.
  access_token_invalid: "auth_error",
  scope_not_authorized: "auth_error",
  scope_permission_missed: "auth_error",
  // Limits that lift with time: the per-minute API limit, the creator's daily posts, pending inbox shares, the app's
  // daily cap of distinct posting users.
  rate_limit_exceeded: "rate_limited",
  spam_risk_too_many_posts: "rate_limited",
  spam_risk_too_many_pending_share: "rate_limited",
  reached_active_user_cap: "rate_limited",
  internal_error: "network_error",
  invalid_file_upload: "media_error",
  url_ownership_unverified: "media_error",
};

/** `fail_reason` of a FAILED publish → category. */
const FAIL_REASON_CATEGORIES: Record<string, ErrorCategory> = {
  file_format_check_failed: "media_error",
  duration_check_failed: "media_error",
  frame_rate_check_failed: "media_error",
  picture_size_check_failed: "media_error",
  video_pull_failed: "media_error",
  photo_pull_failed: "media_error",
  internal: "network_error",
  auth_removed: "auth_error",
  spam_risk_too_many_posts: "rate_limited",
  spam_risk_too_many_pending_share: "rate_limited",
};

/** creator_info codes that mean the creator cannot post right now (reported in readiness, not a failed connect). */
const CANNOT_POST_CODES = new Set(["spam_risk_user_banned_from_posting", "spam_risk_too_many_posts", "reached_active_user_cap", "scope_not_authorized"]);

const envelopeSchema = z.object({
  error: z.object({ code: z.string(), message: z.string().optional(), log_id: z.string().optional() }).optional(),
});
/** `POST /v2/video/query/`: the account's videos among the ids, with the fields asked for. */
const videoQuerySchema = z.object({
  data: z.object({
    videos: z.array(
      z.looseObject({
        id: z.union([z.string(), z.number()]),
        like_count: z.unknown().optional(),
        comment_count: z.unknown().optional(),
        share_count: z.unknown().optional(),
        view_count: z.unknown().optional(),
      }),
    ),
  }),
});
const userStatsSchema = z.object({
  data: z.object({ user: z.looseObject({ open_id: z.string().optional(), follower_count: z.unknown().optional() }) }),
});
const userInfoSchema = z.object({
  data: z.object({
    user: z.object({
      open_id: z.string().min(1),
      union_id: z.string().optional(),
      display_name: z.string().optional(),
      avatar_url: z.string().optional(),
    }),
  }),
});
const creatorInfoSchema = z.object({
  data: z.object({
    creator_username: z.string().optional(),
    creator_nickname: z.string().optional(),
    creator_avatar_url: z.string().optional(),
    privacy_level_options: z.array(z.string()).default([]),
    comment_disabled: z.boolean().default(false),
    duet_disabled: z.boolean().default(false),
    stitch_disabled: z.boolean().default(false),
    max_video_post_duration_sec: z.number().optional(),
  }),
});
type CreatorInfo = z.infer<typeof creatorInfoSchema>["data"];
const initSchema = z.object({ data: z.object({ publish_id: z.string().min(1), upload_url: z.string().optional() }) });
const statusSchema = z.object({
  data: z.object({ status: z.string(), fail_reason: z.string().optional(), uploaded_bytes: z.number().optional() }),
});
const tokenExtrasSchema = z.object({ refresh_expires_in: z.coerce.number().positive().optional(), error: z.string().optional() });
const tokenExtras = (res: HttpResponse) => {
  const parsed = tokenExtrasSchema.safeParse(res.json);
  return parsed.success ? parsed.data : undefined;
};
/** A FILE_UPLOAD still being sent (a large video spans attempts): where to, from where, and the next chunk. */
const uploadStateSchema = z.object({
  upload: z.object({
    uploadUrl: z.string().url(),
    publishId: z.string().min(1),
    username: z.string(),
    mediaUrl: z.string().min(1),
    total: z.number().int().positive(),
    mimeType: z.string().min(1),
    chunkSize: z.number().int().positive(),
    count: z.number().int().positive(),
    next: z.number().int().min(0),
  }),
});
type TikTokUpload = z.infer<typeof uploadStateSchema>["upload"];
const processingStateSchema = z.object({
  publishId: z.string().min(1),
  checks: z.number().int().min(0).default(0),
  username: z.string().optional(),
});

type Context = "api" | "upload" | "status";

export function createTikTokAdapter(config: TikTokAdapterConfig): PlatformAdapter {
  const http = createHttpClient({ service: "TikTok", fetch: config.fetch, timeoutMs: config.timeoutMs });
  const now = config.now ?? (() => new Date());
  const { api, auth, apiOrigin } = baseUrls(config, tiktokHosts);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}`, "content-type": "application/json; charset=UTF-8" });
  const appAudited = config.appAudited ?? false;
  const pullPrefixes = config.pullFromUrlPrefixes ?? [];
  const transfer = config.transfer ?? defaultTransferBudget;
  // The last chunk absorbs the remainder (under two chunks), so half the budget per chunk keeps every read within it.
  const chunkBytes = Math.min(
    Math.max(chunkWithin(transfer, config.chunkBytes ?? tiktokLimits.defaultChunkBytes), tiktokLimits.minChunkBytes),
    tiktokLimits.maxChunkBytes,
  );
  // The upload URL comes from TikTok's answer: it must be on TikTok's own domain or the configured API host.
  const isTrustedUploadUrl = (url: URL) =>
    url.origin === apiOrigin || (url.protocol === "https:" && (url.hostname === "tiktokapis.com" || url.hostname.endsWith(".tiktokapis.com")));

  const oauth = codeFlow({
    service: "TikTok",
    http,
    now,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    clientIdParam: "client_key",
    authorizeUrl: auth("/v2/auth/authorize/"),
    tokenUrl: api("/v2/oauth/token/"),
    pkce: "S256-hex",
    clientAuth: "body",
    scopeSeparator: ",",
    // TikTok may answer a refused grant with an `error` body whatever the status: the field is what counts.
    failed: (res) => !res.ok || Boolean(tokenExtras(res)?.error),
    error: (res, at) => tokenEndpointError(res.ok ? { ...res, status: 400 } : res, "TikTok", at),
    // The refresh token's lifetime comes as `refresh_expires_in` (365 days), not the RFC-style field.
    tokens(res, at) {
      const tokens = toOAuthTokens(res, "TikTok", at);
      const refreshIn = tokenExtras(res)?.refresh_expires_in;
      if (refreshIn !== undefined) tokens.refreshTokenExpiresAt = new Date(at.getTime() + refreshIn * 1000);
      return tokens;
    },
  });

  /** POST a v2 JSON endpoint; a non-"ok" envelope or status throws the classified error. */
  async function call<T>(path: string, accessToken: string, body: unknown, schema: z.ZodType<T>, context: Context = "api"): Promise<T> {
    const res = await http.request({ method: "POST", url: api(path), json: body, headers: bearer(accessToken) });
    const parsed = schema.safeParse(res.json);
    const code = envelopeCode(res);
    if (!res.ok || (code !== undefined && code !== "ok") || !parsed.success) throw classifyTikTokError(res, context, now());
    return parsed.data;
  }

  function creatorInfo(accessToken: string): Promise<CreatorInfo> {
    return call("/v2/post/publish/creator_info/query/", accessToken, {}, creatorInfoSchema).then((r) => r.data);
  }

  const creatorFacts = (accessToken: string) => creatorFactsFrom(() => creatorInfo(accessToken));

  async function init(accessToken: string, postInfo: Record<string, unknown>, sourceInfo: Record<string, unknown>) {
    const body = { post_info: postInfo, source_info: sourceInfo };
    return (await call("/v2/post/publish/video/init/", accessToken, body, initSchema)).data;
  }

  /**
   * PUTs one slice of the video to TikTok's upload URL: sequential chunks from `up.next`, each read from the media
   * URL by byte range (the first one may be the chunk already read to check the video), each with its
   * `Content-Range`, until the last chunk is in or the slice's allowance is spent. Returns the next chunk to send.
   */
  async function uploadSlice(up: TikTokUpload, first?: { start: number; bytes: Uint8Array }): Promise<{ next: number; sent: number }> {
    const url = new URL(up.uploadUrl);
    if (!isTrustedUploadUrl(url)) throw new PlatformError("media_error", `TikTok returned an upload URL on an unexpected host (${url.host})`);
    const allowance = sliceAllowance(transfer);
    let next = up.next;
    let held = first;
    for (; next < up.count; next++) {
      const start = next * up.chunkSize;
      const last = next === up.count - 1 ? up.total - 1 : start + up.chunkSize - 1;
      const length = last - start + 1;
      if (!allowance.more(length)) break;
      let body: Uint8Array;
      if (held && start >= held.start && last < held.start + held.bytes.byteLength) {
        body = held.bytes.subarray(start - held.start, last + 1 - held.start);
      } else {
        held = undefined;
        const read = await readMediaRange(up.mediaUrl, start, length, { timeoutMs: tiktokLimits.transferTimeoutMs });
        if (read.total !== up.total || read.bytes.byteLength !== length) {
          throw new PlatformError("media_error", "The video changed while it was being uploaded (its size is not the one the upload started with)");
        }
        body = read.bytes;
      }
      const res = await http.request({
        method: "PUT",
        url,
        body,
        headers: { "content-type": up.mimeType, "content-range": `bytes ${start}-${last}/${up.total}` },
        timeoutMs: tiktokLimits.transferTimeoutMs,
      });
      allowance.sent(length);
      // 206 while chunks remain, 201 once the last byte is in (200 is taken too, as other clients do).
      const expected = next === up.count - 1 ? [200, 201, 206] : [200, 206];
      if (!expected.includes(res.status)) throw classifyTikTokError(res, "upload", now());
    }
    return { next, sent: allowance.bytes };
  }

  /**
   * One attempt's part of a FILE_UPLOAD, then `processing` either way: with the publish id to follow once the last
   * chunk is in, else with the upload's state, due again at once, so the next queue delivery sends the next slice.
   */
  async function continueUpload(up: TikTokUpload, first?: { start: number; bytes: Uint8Array }): Promise<PublishOutcome> {
    const slice = await uploadSlice(up, first);
    const received = slice.next >= up.count ? up.total : slice.next * up.chunkSize;
    const upload = { receivedBytes: received, totalBytes: up.total, sentBytes: slice.sent };
    if (slice.next >= up.count) {
      return { status: "processing", checkAfterSeconds: checkAfter(0), state: { publishId: up.publishId, checks: 0, username: up.username }, upload };
    }
    return { status: "processing", checkAfterSeconds: 0, state: { upload: { ...up, next: slice.next } }, upload };
  }

  /**
   * PULL_FROM_URL when the media URL is under a prefix configured as verified. Undefined when it is not, or when
   * TikTok says the prefix is not (or no longer) verified: the file is uploaded instead.
   */
  async function pullFromUrl(accessToken: string, postInfo: Record<string, unknown>, item: MediaItem): Promise<string | undefined> {
    if (!pullPrefixes.some((prefix) => item.url.startsWith(prefix))) return undefined;
    try {
      return (await init(accessToken, postInfo, { source: "PULL_FROM_URL", video_url: item.url })).publish_id;
    } catch (error) {
      if (error instanceof PlatformError && error.details.platformCode === "url_ownership_unverified") return undefined;
      throw error;
    }
  }

  /**
   * FILE_UPLOAD: reads the first chunk of the video, checks it as TikTok would (type; duration when the movie header
   * comes first), inits with the chunk plan for its whole size, then sends the first slice of chunks.
   */
  async function uploadFile(
    accessToken: string,
    postInfo: Record<string, unknown>,
    item: MediaItem,
    creator: CreatorInfo,
    username: string,
  ): Promise<PublishOutcome> {
    const first = await readMediaRange(item.url, 0, chunkBytes, { timeoutMs: tiktokLimits.transferTimeoutMs, wholeUpTo: transfer.memoryBudgetBytes });
    const video = sniffVideo(first.bytes);
    if (!video) throw new PlatformError("media_error", "TikTok takes MP4, WebM or MOV video; the media is none of these");
    const maxDuration = creator.max_video_post_duration_sec;
    if (maxDuration !== undefined && video.durationSeconds !== undefined && video.durationSeconds > maxDuration) {
      throw new PlatformError("media_error", `The video lasts ${Math.ceil(video.durationSeconds)} s; TikTok allows this creator ${maxDuration} s`, {
        platformCode: "duration_check_failed",
      });
    }
    const size = first.total;
    if (size > tiktokLimits.videoMaxBytes) throw new PlatformError("media_error", "TikTok takes videos up to 4 GB");
    const plan = planChunks(size, chunkBytes);
    const source = { source: "FILE_UPLOAD", video_size: size, chunk_size: plan.chunkSize, total_chunk_count: plan.count };
    const started = await init(accessToken, postInfo, source);
    if (!started.upload_url) throw new PlatformError("unknown", "TikTok answered video/init without an upload_url");
    const up: TikTokUpload = {
      uploadUrl: started.upload_url,
      publishId: started.publish_id,
      username,
      mediaUrl: item.url,
      total: size,
      mimeType: video.mimeType,
      chunkSize: plan.chunkSize,
      count: plan.count,
      next: 0,
    };
    return continueUpload(up, { start: 0, bytes: first.bytes });
  }

  const metrics: MetricsCapability = {
    async posts(request) {
      const results: PostMetricsResult[] = [];
      for (const batch of chunks(request.posts, 20)) {
        const url = new URL(api("/v2/video/query/"));
        url.searchParams.set("fields", "id,create_time,like_count,comment_count,share_count,view_count");
        const res = await http.request({
          method: "POST",
          url,
          json: { filters: { video_ids: batch.map((p) => p.externalPostId) } },
          headers: { authorization: `Bearer ${request.accessToken}` },
        });
        const code = envelopeCode(res);
        if (!res.ok || (code !== undefined && code !== "ok")) throw classifyTikTokError(res, "api", now());
        const parsed = videoQuerySchema.safeParse(res.json);
        if (!parsed.success) throw invalidResponse("TikTok", res.status, parsed.error);
        const byId = new Map(parsed.data.data.videos.map((v) => [String(v.id), v]));
        for (const post of batch) {
          const video = byId.get(post.externalPostId);
          if (!video) {
            results.push(unavailable(post.externalPostId, "TikTok lists no such public video of the account (deleted or private)"));
            continue;
          }
          const { like_count, comment_count, share_count, view_count } = video;
          results.push(
            measured(
              post.externalPostId,
              { likes: count(like_count), comments: count(comment_count), shares: count(share_count), videoViews: count(view_count) },
              { like_count, comment_count, share_count, view_count },
            ),
          );
        }
      }
      return results;
    },
    async account(request) {
      const url = new URL(api("/v2/user/info/"));
      url.searchParams.set("fields", "open_id,follower_count,following_count,likes_count,video_count");
      const res = await http.request({ url, headers: { authorization: `Bearer ${request.accessToken}` } });
      const code = envelopeCode(res);
      // Follower counts need user.info.stats; a connection made without it still has its videos' metrics.
      if (code === "scope_not_authorized") return { followers: null, raw: { error: code } };
      if (!res.ok || (code !== undefined && code !== "ok")) throw classifyTikTokError(res, "api", now());
      const parsed = userStatsSchema.safeParse(res.json);
      if (!parsed.success) throw invalidResponse("TikTok", res.status, parsed.error);
      const u = parsed.data.data.user;
      return { followers: count(u.follower_count), raw: u };
    },
  };

  return {
    platform: "tiktok",
    settingsSchema: tiktokSettingsSchema,
    metrics,

    authorizeUrl: oauth.authorizeUrl,
    exchangeCode: oauth.exchangeCode,
    refresh: oauth.refresh,

    async getAccount(accessToken): Promise<AccountInfo> {
      const url = new URL(api("/v2/user/info/"));
      url.searchParams.set("fields", "open_id,union_id,avatar_url,display_name");
      const res = await http.request({ url, headers: { authorization: `Bearer ${accessToken}` } });
      const parsed = userInfoSchema.safeParse(res.json);
      const code = envelopeCode(res);
      if (!res.ok || (code !== undefined && code !== "ok") || !parsed.success) throw classifyTikTokError(res, "api", now());
      const user = parsed.data.data.user;
      const facts = await creatorFacts(accessToken);
      return {
        externalAccountId: user.open_id,
        username: facts.creator?.creator_username ?? user.display_name ?? user.open_id,
        displayName: user.display_name ?? facts.creator?.creator_nickname,
        avatarUrl: user.avatar_url ?? facts.creator?.creator_avatar_url,
        metadata: {
          openId: user.open_id,
          ...(user.union_id ? { unionId: user.union_id } : {}),
          ...(facts.creator
            ? {
                privacyLevelOptions: facts.creator.privacy_level_options,
                maxVideoPostDurationSec: facts.creator.max_video_post_duration_sec ?? null,
                commentDisabled: facts.creator.comment_disabled,
                duetDisabled: facts.creator.duet_disabled,
                stitchDisabled: facts.creator.stitch_disabled,
              }
            : {}),
          canPost: facts.cannotPost === undefined,
          ...(facts.cannotPost ? { cannotPostReason: facts.cannotPost } : {}),
          postsForcedPrivate: !appAudited,
        },
      };
    },

    checkSettings(settings, account) {
      const options = account.metadata.privacyLevelOptions;
      const wanted = settings.privacyLevel;
      if (typeof wanted !== "string" || !Array.isArray(options) || options.includes(wanted)) return [];
      return [{ field: "privacyLevel", message: `TikTok offers this account ${options.join(", ") || "no privacy level"}, not ${wanted}` }];
    },

    async publish(request: PublishRequest): Promise<PublishOutcome> {
      const settings = parseSettings(request.settings);
      const item = singleVideo(request.media);
      if (request.text.length > tiktokLimits.titleMaxUtf16) {
        throw new PlatformError("unknown", `TikTok captions are at most ${tiktokLimits.titleMaxUtf16} UTF-16 units; this one has ${request.text.length}`);
      }
      // TikTok's UX guidelines: the creator's current options come first, before every post.
      const creator = await creatorInfo(request.accessToken);
      const postInfo = postInfoFor(request.text, settings, creator, appAudited);
      const publishId = await pullFromUrl(request.accessToken, postInfo, item);
      if (!publishId) return uploadFile(request.accessToken, postInfo, item, creator, request.account.username);
      return { status: "processing", checkAfterSeconds: checkAfter(0), state: { publishId, checks: 0, username: request.account.username } };
    },

    async checkStatus(request: PublishRequest, rawState: Record<string, unknown>): Promise<PublishOutcome> {
      // A FILE_UPLOAD still being sent: the next slice, from the next chunk.
      const uploading = uploadStateSchema.safeParse(rawState);
      if (uploading.success) return continueUpload(uploading.data.upload);
      const parsedState = processingStateSchema.safeParse(rawState);
      if (!parsedState.success) throw new PlatformError("unknown", "TikTok processing state is missing its publish id");
      const { publishId, checks } = parsedState.data;
      const res = await http.request({
        method: "POST",
        url: api("/v2/post/publish/status/fetch/"),
        json: { publish_id: publishId },
        headers: bearer(request.accessToken),
      });
      const parsed = statusSchema.safeParse(res.json);
      const code = envelopeCode(res);
      if (!res.ok || (code !== undefined && code !== "ok") || !parsed.success) throw classifyTikTokError(res, "status", now());
      const { status, fail_reason: failReason } = parsed.data.data;
      if (status === "PUBLISH_COMPLETE" || status === "SEND_TO_USER_INBOX") {
        const username = parsedState.data.username ?? request.account.username;
        // Private (SELF_ONLY) posts, and public ones still in moderation, have no public id: the publish id stands in.
        const postId = publicPostId(res.text);
        return postId
          ? { status: "published", externalPostId: postId, url: `https://www.tiktok.com/@${username}/video/${postId}` }
          : { status: "published", externalPostId: publishId, url: `https://www.tiktok.com/@${username}` };
      }
      if (status === "FAILED") {
        const category = FAIL_REASON_CATEGORIES[failReason ?? ""] ?? "unknown";
        throw new PlatformError(category, `TikTok could not publish the video${failReason ? `: ${failReason}` : ""}`, { platformCode: failReason });
      }
      // PROCESSING_UPLOAD, PROCESSING_DOWNLOAD (and any newer in-progress state): look again later.
      return { status: "processing", checkAfterSeconds: checkAfter(checks + 1), state: { ...parsedState.data, checks: checks + 1 } };
    },
  };
}

function parseSettings(raw: Record<string, unknown>): TikTokSettings {
  const parsed = tiktokSettingsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  throw new PlatformError("unknown", `Invalid TikTok settings: ${issues}`);
}

function singleVideo(media: MediaItem[]): MediaItem {
  if (media.length !== 1) throw new PlatformError("media_error", "TikTok publishes exactly one video per post");
  const item = media[0]!;
  if (!item.mimeType.toLowerCase().startsWith("video/")) throw new PlatformError("media_error", `TikTok publishes video, not ${item.mimeType}`);
  return item;
}

/**
 * The privacy level to post with. An unaudited app may only post privately. Otherwise the connection's setting, which
 * must be one of the creator's current options; unset, the most public option offered.
 */
export function choosePrivacy(settings: Pick<TikTokSettings, "privacyLevel">, creator: Pick<CreatorInfo, "privacy_level_options">, appAudited: boolean): string {
  if (!appAudited) return "SELF_ONLY";
  const offered = creator.privacy_level_options;
  if (settings.privacyLevel) {
    if (offered.includes(settings.privacyLevel)) return settings.privacyLevel;
    throw new PlatformError("unknown", `TikTok does not offer ${settings.privacyLevel} to this creator now (offered: ${offered.join(", ") || "none"})`, {
      platformCode: "privacy_level_option_mismatch",
    });
  }
  const mostPublic = tiktokPrivacyLevels.find((level) => offered.includes(level)) ?? offered[0];
  if (!mostPublic) {
    throw new PlatformError("unknown", "TikTok offered this creator no privacy level to post with", { platformCode: "privacy_level_option_mismatch" });
  }
  return mostPublic;
}

/** TikTok's `post_info`: the caption, the privacy level, and interactions off where the creator turned them off. */
function postInfoFor(title: string, settings: TikTokSettings, creator: CreatorInfo, appAudited: boolean): Record<string, unknown> {
  return {
    title,
    privacy_level: choosePrivacy(settings, creator, appAudited),
    disable_comment: settings.disableComment || creator.comment_disabled,
    disable_duet: settings.disableDuet || creator.duet_disabled,
    disable_stitch: settings.disableStitch || creator.stitch_disabled,
    ...(settings.videoCoverTimestampMs !== undefined ? { video_cover_timestamp_ms: settings.videoCoverTimestampMs } : {}),
    brand_content_toggle: settings.brandContentToggle,
    brand_organic_toggle: settings.brandOrganicToggle,
    is_aigc: settings.isAigc,
  };
}

export interface ChunkPlan {
  chunkSize: number;
  count: number;
}

/**
 * TikTok's chunking rules: a file under 5 MB is one chunk of its own size; otherwise `count` is
 * floor(size / chunkSize) and the last chunk absorbs the remainder.
 */
export function planChunks(size: number, chunkSize: number): ChunkPlan {
  if (size < tiktokLimits.minChunkBytes || size <= chunkSize) return { chunkSize: size, count: 1 };
  return { chunkSize, count: Math.floor(size / chunkSize) };
}


function envelopeCode(res: HttpResponse): string | undefined {
  const parsed = envelopeSchema.safeParse(res.json);
  return parsed.success ? parsed.data.error?.code : undefined;
}

/**
 * The first of `publicaly_available_post_id` (TikTok's spelling), read from the raw JSON: the ids are int64 numbers
 * that JSON.parse would round, so the digits are taken from the field as written.
 */
export function publicPostId(rawJson: string): string | undefined {
  const match = /"publicaly_available_post_id"\s*:\s*\[\s*"?(\d+)"?/.exec(rawJson);
  return match?.[1];
}

/**
 * Classifies a TikTok answer from `error.code` and the HTTP status: reconnectable token and scope codes →
 * auth_error; `rate_limit_exceeded` and the spam/daily caps → rate_limited (with `Retry-After` when sent); 5xx and
 * `internal_error` → network_error; upload and file codes, or any failure of the upload PUT → media_error; the rest
 * (invalid_params, privacy_level_option_mismatch, unaudited_client_can_only_post_to_private_accounts,
 * spam_risk_user_banned_from_posting, app_version_check_failed, …) → unknown.
 */
export function classifyTikTokError(res: HttpResponse, context: Context, now: Date): PlatformError {
  const status = res.status;
  const parsed = envelopeSchema.safeParse(res.json);
  const error = parsed.success ? parsed.data.error : undefined;
  const platformCode = error?.code && error.code !== "ok" ? error.code : undefined;
  const what = context === "upload" ? "TikTok upload" : "TikTok";
  const detail = excerpt(error?.message) ?? platformCode;
  const message = `${what} answered ${status}${detail ? `: ${detail}` : ""}`;
  const details = { status, platformCode };
  const byCode = platformCode ? CODE_CATEGORIES[platformCode] : undefined;

  if (byCode === "rate_limited" || (!byCode && status === 429)) {
    return new PlatformError("rate_limited", message, { ...details, retryAfterSeconds: retryAfterHeader(res.headers, now) });
  }
  if (byCode) return new PlatformError(byCode, message, details);
  if (status === 401) return new PlatformError("auth_error", message, details);
  if (status >= 500) return new PlatformError("network_error", message, details);
  if (res.ok && !platformCode) return new PlatformError("unknown", `${what} answered ${status} with an unexpected body`, details);
  if (context === "upload") return new PlatformError("media_error", message, details);
  return new PlatformError("unknown", message, details);
}

/** What readiness needs to know about a creator, from creator_info (or why it could not be read). */
async function creatorFactsFrom(load: () => Promise<CreatorInfo>): Promise<{ creator?: CreatorInfo; cannotPost?: string }> {
  try {
    return { creator: await load() };
  } catch (error) {
    if (error instanceof PlatformError && error.details.platformCode && CANNOT_POST_CODES.has(error.details.platformCode)) {
      return { cannotPost: error.message };
    }
    throw error;
  }
}
