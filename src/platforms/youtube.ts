import { addDays, startOfDay } from "date-fns";
import { fromZonedTime, toZonedTime } from "date-fns-tz";
import { z } from "zod";
import { count, sum } from "../analytics/model.js";
import { chunks, invalidResponse, measured, unavailable } from "./metrics.js";
import { chunkWithin, defaultTransferBudget, readMediaRange, sliceAllowance, type TransferBudget } from "../media/transfer.js";
import { createHttpClient, excerpt, retryAfterHeader, type HttpResponse } from "./http.js";
import { baseUrls, codeFlow } from "./oauth.js";
import { sniffVideo } from "./sniff-video.js";
import {
  PlatformError,
  type AccountInfo,
  type AdapterConfig,
  type ConnectionTraits,
  type MediaItem,
  type PlatformAdapter,
  type PublishOutcome,
  type PublishRequest,
  type MetricsCapability,
  type PostMetricsResult,
} from "./types.js";
import { youtubeHosts, youtubeConnection } from "./facts.js";

// Static facts about the network (hosts, connection traits) live in facts.ts, which the registry loads without this module.
export { youtubeHosts, youtubeConnection };

/**
 * YouTube Data API v3 adapter: Google OAuth 2.0 (consent on accounts.google.com with
 * `access_type=offline` for a refresh token and PKCE S256; tokens on oauth2.googleapis.com), the channel from
 * `channels.list?mine=true`, and one video per post through the resumable `videos.insert`: a session POST with the
 * metadata answers a `Location`, the bytes are PUT there in chunks (308 Resume Incomplete with `Range` until the last
 * one, 200/201 with the video resource after it; a 5xx mid-way is resumed from what Google reports having). The video
 * id exists at once, but it is only live once processed: `videos.list?part=status,processingDetails` is followed
 * through the queue with `checkStatus` until it is processed, failed or rejected.
 *
 * The first line of the post text is the title (≤ 100 characters), the whole text the description (≤ 5,000 bytes);
 * YouTube refuses `<` and `>` in both, so they are replaced by look-alike angle quotes.
 */

export const youtubeLimits = {
  titleMaxChars: 100,
  descriptionMaxBytes: 5000,
  /**
   * YouTube's own limit: 256 GB (or 12 hours). The video is never held whole: it is read from Storage in byte ranges
   * and sent in chunks, a slice per publish attempt, the next attempt resuming the session (src/media/transfer.ts).
   */
  videoMaxBytes: 256 * 1024 * 1024 * 1024,
  /** Resumable chunks must be multiples of 256 KiB (except the last). */
  chunkUnitBytes: 256 * 1024,
  defaultChunkBytes: 8 * 1024 * 1024,
  /** How many times an interrupted upload is resumed within one attempt. */
  maxResumes: 3,
  transferTimeoutMs: 60_000,
} as const;

/** A connection's YouTube settings. */
export const youtubeSettingsSchema = z.object({
  privacyStatus: z.enum(["public", "unlisted", "private"]).default("public"),
  /** YouTube's video category ("22" is People & Blogs, the default on youtube.com). */
  categoryId: z.string().regex(/^\d{1,3}$/).default("22"),
  /** COPPA: whether the videos are made for kids (YouTube requires the answer). */
  madeForKids: z.boolean().default(false),
  notifySubscribers: z.boolean().default(true),
  tags: z.array(z.string().min(1).max(100)).max(50).default([]),
});
export type YouTubeSettings = z.infer<typeof youtubeSettingsSchema>;

export interface YouTubeAdapterConfig extends AdapterConfig {
  /**
   * Whether the Google API project passed YouTube's compliance audit. Videos uploaded by unaudited projects (created
   * after 2020-07-28) are locked to private whatever was asked; the connection's readiness says so.
   */
  projectAudited?: boolean;
  /** Resumable chunk size (rounded to 256 KiB; at most half the memory budget); tests lower it to exercise 308. */
  chunkBytes?: number;
  /** How much of a video one function holds and sends per attempt (MEDIA_MEMORY_BUDGET_BYTES, MEDIA_UPLOAD_SLICE_BYTES). */
  transfer?: TransferBudget;
}

const CHECK_SCHEDULE_SECONDS = [2, 3, 5, 10, 20, 30, 60];
const checkAfter = (checks: number) => CHECK_SCHEDULE_SECONDS[Math.min(checks, CHECK_SCHEDULE_SECONDS.length - 1)]!;

/** Google's error envelope (`{ error: { code, message, errors: [{ domain, reason, message }], status } }`). */
const googleErrorSchema = z.object({
  error: z.object({
    code: z.number().optional(),
    message: z.string().optional(),
    status: z.string().optional(),
    errors: z.array(z.object({ domain: z.string().optional(), reason: z.string().optional(), message: z.string().optional() })).optional(),
  }),
});

/** `videos.list?part=statistics`: counts are decimal strings (dislikeCount only for the owner). */
const videoStatisticsSchema = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      statistics: z
        .looseObject({ viewCount: z.unknown().optional(), likeCount: z.unknown().optional(), commentCount: z.unknown().optional() })
        .optional(),
    }),
  ),
});
const channelStatisticsSchema = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      statistics: z.looseObject({ subscriberCount: z.unknown().optional(), hiddenSubscriberCount: z.boolean().optional() }).optional(),
    }),
  ),
});
const channelsSchema = z.object({
  items: z
    .array(
      z.object({
        id: z.string().min(1),
        snippet: z
          .object({
            title: z.string().optional(),
            customUrl: z.string().optional(),
            thumbnails: z.object({ default: z.object({ url: z.string() }).optional() }).optional(),
          })
          .optional(),
        status: z.object({ longUploadsStatus: z.string().optional(), privacyStatus: z.string().optional() }).optional(),
      }),
    )
    .default([]),
});
const videoResourceSchema = z.object({
  id: z.string().min(1),
  status: z.object({ privacyStatus: z.string().optional(), uploadStatus: z.string().optional() }).optional(),
});
const videoListSchema = z.object({
  items: z
    .array(
      z.object({
        id: z.string(),
        status: z
          .object({
            uploadStatus: z.string().optional(),
            failureReason: z.string().optional(),
            rejectionReason: z.string().optional(),
            privacyStatus: z.string().optional(),
          })
          .optional(),
        processingDetails: z.object({ processingStatus: z.string().optional(), processingFailureReason: z.string().optional() }).optional(),
      }),
    )
    .default([]),
});
const processingStateSchema = z.object({ videoId: z.string().min(1), checks: z.number().int().min(0).default(0) });
/** An upload still being sent (a large video spans attempts): the session, the media and how far Google has it. */
const uploadStateSchema = z.object({
  upload: z.object({
    session: z.string().url(),
    mediaUrl: z.string().min(1),
    total: z.number().int().positive(),
    mimeType: z.string().min(1),
    offset: z.number().int().min(0),
  }),
});
type UploadState = z.infer<typeof uploadStateSchema>["upload"];
/** A chunk of the video this function holds: bytes `[start, start + bytes.length)`. */
interface HeldChunk {
  start: number;
  bytes: Uint8Array;
}

type Context = "api" | "upload";

export function createYouTubeAdapter(config: YouTubeAdapterConfig): PlatformAdapter {
  const http = createHttpClient({ service: "YouTube", fetch: config.fetch, timeoutMs: config.timeoutMs });
  const now = config.now ?? (() => new Date());
  const { api, auth, token, apiOrigin } = baseUrls(config, youtubeHosts);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const projectAudited = config.projectAudited ?? false;
  const unit = youtubeLimits.chunkUnitBytes;
  const transfer = config.transfer ?? defaultTransferBudget;
  const chunkBytes = chunkWithin(transfer, config.chunkBytes ?? youtubeLimits.defaultChunkBytes, unit);
  // The session URL comes from Google's answer and receives the member's token: it must be Google's own.
  const isTrustedSessionUrl = (url: URL) =>
    url.origin === apiOrigin || (url.protocol === "https:" && (url.hostname === "googleapis.com" || url.hostname.endsWith(".googleapis.com")));

  const oauth = codeFlow({
    service: "Google",
    http,
    now,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    authorizeUrl: auth("/o/oauth2/v2/auth"),
    tokenUrl: token("/token"),
    pkce: "S256",
    clientAuth: "body",
    scopeSeparator: " ",
    // A refresh token is only issued for offline access, and again on a later consent only with prompt=consent.
    authorizeParams: { access_type: "offline", prompt: "consent", include_granted_scopes: "true" },
  });

  /** Starts a resumable session: the metadata now, the bytes to the returned `Location`. */
  async function startSession(accessToken: string, settings: YouTubeSettings, body: unknown, size: number, mimeType: string): Promise<URL> {
    const url = new URL(api("/upload/youtube/v3/videos"));
    url.searchParams.set("uploadType", "resumable");
    url.searchParams.set("part", "snippet,status");
    url.searchParams.set("notifySubscribers", String(settings.notifySubscribers));
    const res = await http.request({
      method: "POST",
      url,
      json: body,
      headers: {
        ...bearer(accessToken),
        "content-type": "application/json; charset=UTF-8",
        "x-upload-content-length": String(size),
        "x-upload-content-type": mimeType,
      },
    });
    const location = res.headers.get("location");
    if (!res.ok || !location) throw classifyYouTubeError(res, "api", now());
    const session = new URL(location, url);
    if (!isTrustedSessionUrl(session)) throw new PlatformError("media_error", `YouTube returned an upload session on an unexpected host (${session.host})`);
    return session;
  }

  /**
   * Sends one slice of the upload from `up.offset`: each chunk is read from the media URL by byte range (or taken
   * from the chunk already held) and PUT; after each 308 the next chunk starts where Google's `Range` says it got to
   * (which may be less than was sent); a 5xx is answered by probing the session (`bytes *\/total`) and resuming, a
   * bounded number of times. Stops when the video is complete (its resource), or when the slice's allowance is spent
   * (where Google has it), holding at most one chunk at any time.
   */
  async function sendSlice(
    up: UploadState,
    accessToken: string,
    first?: HeldChunk,
  ): Promise<{ video?: z.infer<typeof videoResourceSchema>; offset: number; sent: number }> {
    const session = new URL(up.session);
    if (!isTrustedSessionUrl(session)) throw new PlatformError("media_error", `The upload session is on an unexpected host (${session.host})`);
    const { total, mimeType } = up;
    const allowance = sliceAllowance(transfer);
    let held = first;
    let offset = up.offset;
    let resumes = 0;
    // Each turn either moves `offset` forward or spends a resume, so the loop ends.
    for (let turn = 0; turn < Math.ceil((total - offset) / unit) + youtubeLimits.maxResumes + 1; turn++) {
      const end = Math.min(offset + chunkBytes, total);
      if (!allowance.more(end - offset)) return { offset, sent: allowance.bytes };
      if (!held || offset < held.start || offset >= held.start + held.bytes.byteLength) {
        held = undefined;
        const read = await readMediaRange(up.mediaUrl, offset, end - offset, { timeoutMs: youtubeLimits.transferTimeoutMs });
        if (read.total !== total || read.bytes.byteLength !== end - offset) {
          throw new PlatformError("media_error", "The video changed while it was being uploaded (its size is not the one the upload started with)");
        }
        held = { start: offset, bytes: read.bytes };
      }
      // The held chunk from `offset` on: a whole chunk, or what Google did not keep of the last one (whole 256 KiB
      // units were kept, so the rest is whole units too, or the end of the file).
      const body = held.bytes.subarray(offset - held.start, Math.min(end, held.start + held.bytes.byteLength) - held.start);
      const res = await http
        .request({
          method: "PUT",
          url: session,
          body,
          headers: { ...bearer(accessToken), "content-type": mimeType, "content-range": `bytes ${offset}-${offset + body.byteLength - 1}/${total}` },
          timeoutMs: youtubeLimits.transferTimeoutMs,
        })
        .catch((error: unknown) => {
          if (error instanceof PlatformError && error.category === "network_error" && resumes < youtubeLimits.maxResumes) return undefined;
          throw error;
        });
      allowance.sent(body.byteLength);
      if (res && (res.status === 200 || res.status === 201)) {
        const video = videoResourceSchema.safeParse(res.json);
        if (!video.success) throw new PlatformError("unknown", `YouTube answered ${res.status} to the upload without a video id`, { status: res.status });
        return { video: video.data, offset: total, sent: allowance.bytes };
      }
      if (res?.status === 308) {
        offset = receivedUpTo(res.headers);
        continue;
      }
      if (res && !(res.status >= 500 && resumes < youtubeLimits.maxResumes)) throw classifyYouTubeError(res, "upload", now());
      resumes++;
      const probed = await probe(session, accessToken, total);
      if (probed.video) return { video: probed.video, offset: total, sent: allowance.bytes };
      offset = probed.offset;
    }
    throw new PlatformError("network_error", "YouTube upload did not complete within its resume budget");
  }

  /** Asks the session how far it got (`Content-Range: bytes *\/total`): 308 and a Range, or the finished video. */
  async function probe(session: URL, accessToken: string, total: number): Promise<{ video?: z.infer<typeof videoResourceSchema>; offset: number }> {
    const res = await http.request({ method: "PUT", url: session, headers: { ...bearer(accessToken), "content-range": `bytes */${total}` } });
    if (res.status === 200 || res.status === 201) {
      const video = videoResourceSchema.safeParse(res.json);
      if (video.success) return { video: video.data, offset: total };
    }
    if (res.status !== 308) throw classifyYouTubeError(res, "upload", now());
    return { offset: receivedUpTo(res.headers) };
  }

  /**
   * One attempt's part of an upload: a slice from where Google has it. The answer is `processing` either way: with
   * the video id once the last byte is in (its processing is followed next), else with the upload's state, due again
   * at once, so the next queue delivery sends the next slice.
   */
  async function continueUpload(up: UploadState, accessToken: string, first?: HeldChunk): Promise<PublishOutcome> {
    const slice = await sendSlice(up, accessToken, first);
    const upload = { receivedBytes: slice.offset, totalBytes: up.total, sentBytes: slice.sent };
    if (slice.video) return { status: "processing", checkAfterSeconds: checkAfter(0), state: { videoId: slice.video.id, checks: 0 }, upload };
    return { status: "processing", checkAfterSeconds: 0, state: { upload: { ...up, offset: slice.offset } }, upload };
  }

  const metrics: MetricsCapability = {
    async posts(request) {
      const results: PostMetricsResult[] = [];
      for (const batch of chunks(request.posts, 50)) {
        const url = new URL(api("/youtube/v3/videos"));
        url.searchParams.set("part", "statistics");
        url.searchParams.set("id", batch.map((p) => p.externalPostId).join(","));
        const res = await http.request({ url, headers: bearer(request.accessToken) });
        if (!res.ok) throw classifyYouTubeError(res, "api", now());
        const parsed = videoStatisticsSchema.safeParse(res.json);
        if (!parsed.success) throw invalidResponse("YouTube", res.status, parsed.error);
        const byId = new Map(parsed.data.items.map((v) => [v.id, v]));
        for (const post of batch) {
          const video = byId.get(post.externalPostId);
          if (!video?.statistics) {
            results.push(unavailable(post.externalPostId, "YouTube lists no statistics for this video (deleted, private or still processing)"));
            continue;
          }
          const st = video.statistics;
          results.push(
            measured(post.externalPostId, { videoViews: count(st.viewCount), likes: count(st.likeCount), comments: count(st.commentCount) }, { statistics: st }),
          );
        }
      }
      return results;
    },
    async account(request) {
      const url = new URL(api("/youtube/v3/channels"));
      url.searchParams.set("part", "statistics");
      url.searchParams.set("mine", "true");
      const res = await http.request({ url, headers: bearer(request.accessToken) });
      if (!res.ok) throw classifyYouTubeError(res, "api", now());
      const parsed = channelStatisticsSchema.safeParse(res.json);
      if (!parsed.success) throw invalidResponse("YouTube", res.status, parsed.error);
      const st = parsed.data.items[0]?.statistics;
      return { followers: st && st.hiddenSubscriberCount !== true ? count(st.subscriberCount) : null, raw: { statistics: st ?? null } };
    },
  };

  return {
    platform: "youtube",
    settingsSchema: youtubeSettingsSchema,
    metrics,

    authorizeUrl: oauth.authorizeUrl,
    exchangeCode: oauth.exchangeCode,
    refresh: oauth.refresh,

    async getAccount(accessToken): Promise<AccountInfo> {
      const url = new URL(api("/youtube/v3/channels"));
      url.searchParams.set("part", "snippet,status");
      url.searchParams.set("mine", "true");
      const res = await http.request({ url, headers: bearer(accessToken) });
      const parsed = res.ok ? channelsSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyYouTubeError(res, "api", now());
      const channel = parsed.data.items[0];
      if (!channel) {
        throw new PlatformError("auth_error", "This Google account has no YouTube channel: create one, then connect again", {
          status: res.status,
          platformCode: "youtubeSignupRequired",
        });
      }
      return {
        externalAccountId: channel.id,
        username: channel.snippet?.customUrl ?? channel.snippet?.title ?? channel.id,
        displayName: channel.snippet?.title,
        avatarUrl: channel.snippet?.thumbnails?.default?.url,
        metadata: {
          channelId: channel.id,
          ...(channel.snippet?.customUrl ? { customUrl: channel.snippet.customUrl } : {}),
          ...(channel.status?.longUploadsStatus ? { longUploadsStatus: channel.status.longUploadsStatus } : {}),
          uploadsForcedPrivate: !projectAudited,
        },
      };
    },

    async publish(request: PublishRequest): Promise<PublishOutcome> {
      const settings = parseSettings(request.settings);
      const item = singleVideo(request.media);
      // The first chunk only: enough to recognise the video and learn its size; the rest is read as it is sent.
      const first = await readMediaRange(item.url, 0, chunkBytes, { timeoutMs: youtubeLimits.transferTimeoutMs, wholeUpTo: transfer.memoryBudgetBytes });
      const video = sniffVideo(first.bytes);
      if (!video) throw new PlatformError("media_error", "The media is not a video file YouTube can read (MP4, MOV or WebM)");
      if (first.total > youtubeLimits.videoMaxBytes) throw new PlatformError("media_error", "YouTube takes videos up to 256 GB");
      const { title, description } = titleAndDescription(request.text, item.fileName);
      const body = {
        snippet: { title, description, categoryId: settings.categoryId, ...(settings.tags.length ? { tags: settings.tags } : {}) },
        status: { privacyStatus: settings.privacyStatus, selfDeclaredMadeForKids: settings.madeForKids, embeddable: true },
      };
      const session = await startSession(request.accessToken, settings, body, first.total, video.mimeType);
      const up = { session: session.href, mediaUrl: item.url, total: first.total, mimeType: video.mimeType, offset: 0 };
      return continueUpload(up, request.accessToken, { start: 0, bytes: first.bytes });
    },

    async checkStatus(request: PublishRequest, rawState: Record<string, unknown>): Promise<PublishOutcome> {
      const uploading = uploadStateSchema.safeParse(rawState);
      if (uploading.success) {
        // A later slice: resume from what the session holds (the last attempt may have ended mid-chunk).
        const up = uploading.data.upload;
        const session = new URL(up.session);
        if (!isTrustedSessionUrl(session)) throw new PlatformError("media_error", `The upload session is on an unexpected host (${session.host})`);
        const probed = await probe(session, request.accessToken, up.total);
        if (probed.video) {
          const upload = { receivedBytes: up.total, totalBytes: up.total, sentBytes: 0 };
          return { status: "processing", checkAfterSeconds: checkAfter(0), state: { videoId: probed.video.id, checks: 0 }, upload };
        }
        return continueUpload({ ...up, offset: probed.offset }, request.accessToken);
      }
      const parsedState = processingStateSchema.safeParse(rawState);
      if (!parsedState.success) throw new PlatformError("unknown", "YouTube processing state is missing its video id");
      const { videoId, checks } = parsedState.data;
      const url = new URL(api("/youtube/v3/videos"));
      url.searchParams.set("part", "status,processingDetails");
      url.searchParams.set("id", videoId);
      const res = await http.request({ url, headers: bearer(request.accessToken) });
      const parsed = res.ok ? videoListSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyYouTubeError(res, "api", now());
      const found = parsed.data.items.find((v) => v.id === videoId);
      if (!found) throw new PlatformError("media_error", `YouTube no longer lists video ${videoId} (deleted while processing)`, { platformCode: "videoNotFound" });
      const outcome = processingOutcome(found);
      if (outcome === "published") return { status: "published", externalPostId: videoId, url: `https://www.youtube.com/watch?v=${videoId}` };
      return { status: "processing", checkAfterSeconds: checkAfter(checks + 1), state: { videoId, checks: checks + 1 } };
    },
  };
}

/**
 * What a video's status and processing details say: processed or succeeded → published; rejected, failed or
 * deleted → the matching PlatformError (YouTube's own duplicate rejection is `duplicate`); otherwise still processing.
 */
export function processingOutcome(video: z.infer<typeof videoListSchema>["items"][number]): "published" | "processing" {
  const uploadStatus = video.status?.uploadStatus;
  const processing = video.processingDetails?.processingStatus;
  if (uploadStatus === "rejected") {
    const reason = video.status?.rejectionReason;
    const category = reason === "duplicate" ? "duplicate" : reason === "length" ? "media_error" : reason?.startsWith("uploaderAccount") ? "auth_error" : "unknown";
    throw new PlatformError(category, `YouTube rejected the video${reason ? `: ${reason}` : ""}`, { platformCode: reason });
  }
  if (uploadStatus === "failed") {
    const reason = video.status?.failureReason;
    throw new PlatformError("media_error", `YouTube could not process the video${reason ? `: ${reason}` : ""}`, { platformCode: reason });
  }
  if (uploadStatus === "deleted") throw new PlatformError("media_error", "The video was deleted before it finished processing", { platformCode: "deleted" });
  if (processing === "failed" || processing === "terminated") {
    const reason = video.processingDetails?.processingFailureReason ?? processing;
    throw new PlatformError("media_error", `YouTube processing ${processing}: ${reason}`, { platformCode: reason });
  }
  if (uploadStatus === "processed" || processing === "succeeded") return "published";
  return "processing";
}

function parseSettings(raw: Record<string, unknown>): YouTubeSettings {
  const parsed = youtubeSettingsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  throw new PlatformError("unknown", `Invalid YouTube settings: ${issues}`);
}

function singleVideo(media: MediaItem[]): MediaItem {
  if (media.length !== 1) throw new PlatformError("media_error", "YouTube publishes exactly one video per post");
  const item = media[0]!;
  if (!item.mimeType.toLowerCase().startsWith("video/")) throw new PlatformError("media_error", `YouTube publishes video, not ${item.mimeType}`);
  return item;
}

/**
 * Title: the first non-empty line of the text (or the file name), at most 100 characters; description: the whole
 * text, at most 5,000 bytes. `<` and `>` become ‹ and › (YouTube refuses them: invalidTitle / invalidDescription).
 */
export function titleAndDescription(text: string, fileName?: string): { title: string; description: string } {
  const clean = (s: string) => s.replace(/</g, "‹").replace(/>/g, "›");
  const firstLine = text.split(/\r?\n/).map((l) => l.trim()).find(Boolean);
  const fallback = fileName?.replace(/\.[^.]+$/, "").trim() || "Video";
  const chars = [...clean(firstLine ?? fallback).replace(/\s+/g, " ")];
  const title = chars.length > youtubeLimits.titleMaxChars ? `${chars.slice(0, youtubeLimits.titleMaxChars - 1).join("")}…` : chars.join("");
  return { title, description: truncateBytes(clean(text), youtubeLimits.descriptionMaxBytes) };
}

function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = "";
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}

/** The next byte to send after a 308: Google's `Range: bytes=0-N` means it holds bytes 0..N; no Range, nothing yet. */
function receivedUpTo(headers: Headers): number {
  const match = /^bytes=0-(\d+)$/.exec(headers.get("range")?.trim() ?? "");
  return match ? Number(match[1]) + 1 : 0;
}

/** Seconds until the daily quota resets: midnight Pacific time (YouTube Data API quota days). */
export function secondsUntilQuotaReset(now: Date): number {
  const zone = "America/Los_Angeles";
  const nextMidnight = fromZonedTime(addDays(startOfDay(toZonedTime(now, zone)), 1), zone);
  return Math.max(1, Math.ceil((nextMidnight.getTime() - now.getTime()) / 1000));
}

const AUTH_REASONS = new Set(["authError", "insufficientPermissions", "forbidden", "youtubeSignupRequired", "accountDisabled", "channelClosed", "channelSuspended"]);
const SHORT_RATE_REASONS = new Set(["rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded"]);
const SERVER_REASONS = new Set(["backendError", "internalError"]);
const MEDIA_REASONS = new Set(["mediaBodyRequired", "badContent", "invalidFile", "uploadFailed"]);

/**
 * Classifies a Google answer from its status and `errors[].reason`: 401 or `authError`, missing scopes, no
 * channel → auth_error; `quotaExceeded` → rate_limited until the quota day ends (midnight Pacific);
 * `rateLimitExceeded`/`userRateLimitExceeded` and 429 → rate_limited (`Retry-After` when sent);
 * `uploadLimitExceeded` (the channel's rolling 24-hour cap) → rate_limited for a day; 5xx and `backendError` →
 * network_error; media reasons, or any failure of the upload itself (including an expired session, 404/410) →
 * media_error; metadata errors (invalidTitle, invalidCategoryId, …) → unknown.
 */
export function classifyYouTubeError(res: HttpResponse, context: Context, now: Date): PlatformError {
  const status = res.status;
  const parsed = googleErrorSchema.safeParse(res.json);
  const error = parsed.success ? parsed.data.error : undefined;
  const reason = error?.errors?.find((e) => e.reason)?.reason;
  const what = context === "upload" ? "YouTube upload" : "YouTube";
  const detail = excerpt(error?.message ?? error?.errors?.[0]?.message);
  const message = `${what} answered ${status}${reason ? ` (${reason})` : ""}${detail ? `: ${detail}` : ""}`;
  const details = { status, platformCode: reason ?? error?.status };

  if (res.ok) return new PlatformError("unknown", `${what} answered ${status} with an unexpected body`, details);
  if (status === 401 || (reason && AUTH_REASONS.has(reason))) return new PlatformError("auth_error", message, details);
  if (reason === "quotaExceeded") return new PlatformError("rate_limited", message, { ...details, retryAfterSeconds: secondsUntilQuotaReset(now) });
  if (reason === "uploadLimitExceeded") return new PlatformError("rate_limited", message, { ...details, retryAfterSeconds: 24 * 3600 });
  if (status === 429 || (reason && SHORT_RATE_REASONS.has(reason))) {
    return new PlatformError("rate_limited", message, { ...details, retryAfterSeconds: retryAfterHeader(res.headers, now) });
  }
  if (status >= 500 || (reason && SERVER_REASONS.has(reason))) return new PlatformError("network_error", message, details);
  if (context === "upload" || (reason && MEDIA_REASONS.has(reason))) return new PlatformError("media_error", message, details);
  return new PlatformError("unknown", message, details);
}
