import { z } from "zod";
import { excerpt, createHttpClient, retryAfterHeader, secondsUntil, type HttpResponse } from "./http.js";
import { count, sum } from "../analytics/model.js";
import { chunks, invalidResponse, measured, unavailable } from "./metrics.js";
import { baseUrls, codeFlow } from "./oauth.js";
import {
  PlatformError,
  type AccountInfo,
  type AdapterConfig,
  type ConnectionTraits,
  type MediaItem,
  type MetricsCapability,
  type PlatformAdapter,
  type PostMetricsResult,
  type PublishOutcome,
  type PublishRequest,
} from "./types.js";
import { twitterHosts, twitterConnection } from "./facts.js";

// Static facts about the network (hosts, connection traits) live in facts.ts, which the registry loads without this module.
export { twitterHosts, twitterConnection };

/**
 * X (Twitter) API v2 adapter: OAuth 2.0 authorization code + PKCE (S256) with a confidential client (HTTP Basic at
 * the token endpoint), rotating refresh tokens (a refresh returns a new one and the old one stops working), `GET /2/users/me`, `POST /2/tweets`, and images through the simple
 * `POST /2/media/upload`. Consent happens on x.com (`authBaseUrl`); the token endpoint and the API live on api.x.com
 * (`apiBaseUrl`).
 */

export const twitterLimits = {
  /** Images: JPG, PNG, WEBP ≤ 5 MB; GIF ≤ 15 MB. */
  imageMaxBytes: 5 * 1024 * 1024,
  gifMaxBytes: 15 * 1024 * 1024,
  /** Photos per post. */
  maxImages: 4,
} as const;

/** The detail X puts on the 403 it answers a duplicate post with: a parsed field compared whole, not a substring. */
export const X_DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content.";
/** The v1.1-style error code for a duplicate status, which some v2 answers still carry in `errors[]`. */
const V1_DUPLICATE_CODE = 187;
const UNSUPPORTED_AUTHENTICATION = "https://api.x.com/2/problems/unsupported-authentication";

const problemSchema = z.object({
  title: z.string().optional(),
  type: z.string().optional(),
  status: z.number().optional(),
  detail: z.string().optional(),
  errors: z
    .array(
      z.object({
        code: z.number().optional(),
        message: z.string().optional(),
        parameters: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .optional(),
});
type Problem = z.infer<typeof problemSchema>;

const userSchema = z.object({
  data: z.object({ id: z.string(), username: z.string(), name: z.string().optional(), profile_image_url: z.string().optional() }),
});
const tweetSchema = z.object({ data: z.object({ id: z.string() }) });
const processingInfoSchema = z
  .object({ state: z.string(), check_after_secs: z.number().optional() })
  .optional();
const mediaSchema = z.object({ data: z.object({ id: z.string(), processing_info: processingInfoSchema }) });

type Context = "api" | "media";

/** `GET /2/tweets?ids=…&tweet.fields=public_metrics,non_public_metrics` (non-public: the author's, last 30 days). */
const tweetMetricsSchema = z
  .object({
    data: z
      .array(
        z.looseObject({
          id: z.string(),
          public_metrics: z.looseObject({}).optional(),
          non_public_metrics: z.looseObject({}).optional(),
        }),
      )
      .optional(),
    errors: z.array(z.looseObject({ resource_id: z.string().optional(), value: z.string().optional(), detail: z.string().optional() })).optional(),
  })
  .refine((b) => b.data !== undefined || b.errors !== undefined, "neither data nor errors");
const userMetricsSchema = z.object({ data: z.looseObject({ id: z.string(), public_metrics: z.looseObject({ followers_count: z.unknown() }) }) });

export function createTwitterAdapter(config: AdapterConfig): PlatformAdapter {
  const http = createHttpClient({ service: "X", fetch: config.fetch, timeoutMs: config.timeoutMs });
  const now = config.now ?? (() => new Date());
  const { api, auth } = baseUrls(config, twitterHosts);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const oauth = codeFlow({
    service: "X",
    http,
    now,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    authorizeUrl: auth("/i/oauth2/authorize"),
    tokenUrl: api("/2/oauth2/token"),
    pkce: "S256",
    clientAuth: "basic",
    scopeSeparator: " ",
  });

  async function uploadImage(accessToken: string, item: MediaItem): Promise<string> {
    const mimeType = item.mimeType.toLowerCase();
    if (!mimeType.startsWith("image/")) {
      throw new PlatformError("media_error", `X adapter publishes images only, not ${item.mimeType}`);
    }
    const gif = mimeType === "image/gif";
    const media = await http.download(item.url, { maxBytes: gif ? twitterLimits.gifMaxBytes : twitterLimits.imageMaxBytes });
    const form = new FormData();
    form.set("media", new Blob([media.bytes], { type: mimeType }), item.fileName ?? "media");
    form.set("media_category", gif ? "tweet_gif" : "tweet_image");
    const res = await http.request({ method: "POST", url: api("/2/media/upload"), body: form, headers: bearer(accessToken) });
    const parsed = res.ok ? mediaSchema.safeParse(res.json) : undefined;
    if (!parsed?.success) throw classifyXError(res, "media", now());
    const processing = parsed.data.data.processing_info;
    if (processing) assertProcessed(processing, parsed.data.data.id);
    return parsed.data.data.id;
  }

  /**
   * X answers a post whose media is not usable with one 400 ("Your media IDs are invalid.") whether the media is
   * still processing or failed; the media's own STATUS tells the two apart.
   */
  async function mediaFailure(accessToken: string, mediaIds: string[], original: PlatformError): Promise<PlatformError> {
    for (const id of mediaIds) {
      const url = new URL(api("/2/media/upload"));
      url.searchParams.set("command", "STATUS");
      url.searchParams.set("media_id", id);
      const res = await http.request({ url, headers: bearer(accessToken) }).catch(() => undefined);
      const parsed = res?.ok ? mediaSchema.safeParse(res.json) : undefined;
      const processing = parsed?.success ? parsed.data.data.processing_info : undefined;
      if (processing) {
        try {
          assertProcessed(processing, id);
        } catch (error) {
          if (error instanceof PlatformError && error.category === "media_processing") return error;
        }
      }
    }
    return original;
  }

  const metrics: MetricsCapability = {
    async posts(request) {
      const results: PostMetricsResult[] = [];
      // Non-public metrics exist for the author's posts of the last 30 days; asking for them on older ones fails.
      const recent = (p: { publishedAt?: Date }) => !p.publishedAt || now().getTime() - p.publishedAt.getTime() < 29 * 86_400_000;
      const groups = [
        { posts: request.posts.filter(recent), fields: "public_metrics,non_public_metrics" },
        { posts: request.posts.filter((p) => !recent(p)), fields: "public_metrics" },
      ];
      for (const group of groups) {
        for (const batch of chunks(group.posts, 100)) {
          const url = new URL(api("/2/tweets"));
          url.searchParams.set("ids", batch.map((p) => p.externalPostId).join(","));
          url.searchParams.set("tweet.fields", group.fields);
          const res = await http.request({ url, headers: bearer(request.accessToken) });
          if (!res.ok) throw classifyXError(res, "api", now());
          const parsed = tweetMetricsSchema.safeParse(res.json);
          if (!parsed.success) throw invalidResponse("X", res.status, parsed.error);
          const byId = new Map((parsed.data.data ?? []).map((t) => [t.id, t]));
          for (const post of batch) {
            const tweet = byId.get(post.externalPostId);
            if (!tweet) {
              results.push(unavailable(post.externalPostId, "X has no such post (deleted, or not visible to the account)"));
              continue;
            }
            const pub = tweet.public_metrics ?? {};
            const priv = tweet.non_public_metrics ?? {};
            results.push(
              measured(
                post.externalPostId,
                {
                  impressions: count(priv.impression_count) ?? count(pub.impression_count),
                  likes: count(pub.like_count),
                  comments: count(pub.reply_count),
                  shares: sum(count(pub.retweet_count), count(pub.quote_count)),
                  saves: count(pub.bookmark_count),
                  clicks: count(priv.url_link_clicks),
                  videoViews: count(pub.view_count),
                },
                { public_metrics: pub, ...(tweet.non_public_metrics ? { non_public_metrics: priv } : {}) },
              ),
            );
          }
        }
      }
      return results;
    },
    async account(request) {
      const url = new URL(api("/2/users/me"));
      url.searchParams.set("user.fields", "public_metrics");
      const res = await http.request({ url, headers: bearer(request.accessToken) });
      if (!res.ok) throw classifyXError(res, "api", now());
      const parsed = userMetricsSchema.safeParse(res.json);
      if (!parsed.success) throw invalidResponse("X", res.status, parsed.error);
      const pm = parsed.data.data.public_metrics;
      return { followers: count(pm.followers_count), raw: { public_metrics: pm } };
    },
  };

  return {
    platform: "twitter",
    settingsSchema: z.object({}),
    metrics,

    authorizeUrl: oauth.authorizeUrl,
    exchangeCode: oauth.exchangeCode,
    refresh: oauth.refresh,

    async getAccount(accessToken): Promise<AccountInfo> {
      const url = new URL(api("/2/users/me"));
      url.searchParams.set("user.fields", "profile_image_url");
      const res = await http.request({ url, headers: bearer(accessToken) });
      const parsed = res.ok ? userSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyXError(res, "api", now());
      const user = parsed.data.data;
      return { externalAccountId: user.id, username: user.username, displayName: user.name, avatarUrl: user.profile_image_url };
    },

    async publish(request: PublishRequest): Promise<PublishOutcome> {
      if (request.media.length > twitterLimits.maxImages) {
        throw new PlatformError("media_error", `X accepts at most ${twitterLimits.maxImages} images per post`);
      }
      const mediaIds: string[] = [];
      for (const item of request.media) mediaIds.push(await uploadImage(request.accessToken, item));
      const body: Record<string, unknown> = { text: request.text };
      if (mediaIds.length) body.media = { media_ids: mediaIds };
      const res = await http.request({ method: "POST", url: api("/2/tweets"), json: body, headers: bearer(request.accessToken) });
      const parsed = res.ok ? tweetSchema.safeParse(res.json) : undefined;
      if (parsed?.success) {
        const id = parsed.data.data.id;
        return { status: "published", externalPostId: id, url: `https://x.com/${request.account.username}/status/${id}` };
      }
      const error = classifyXError(res, "api", now());
      if (error.category === "media_error" && mediaIds.length) throw await mediaFailure(request.accessToken, mediaIds, error);
      throw error;
    },

    async checkStatus() {
      throw new PlatformError("unknown", "X publishes text and images synchronously: there is no processing state to check");
    },
  };
}

function assertProcessed(processing: NonNullable<z.infer<typeof processingInfoSchema>>, id: string): void {
  if (processing.state === "pending" || processing.state === "in_progress") {
    throw new PlatformError("media_processing", `X media ${id} is still ${processing.state}`, {
      platformCode: processing.state,
      retryAfterSeconds: processing.check_after_secs,
    });
  }
  if (processing.state === "failed") {
    throw new PlatformError("media_error", `X media ${id} failed processing`, { platformCode: "failed" });
  }
}

/**
 * Classifies an X answer from its status and problem fields: 401 → auth_error; 429 → rate_limited with the
 * reset from the rate-limit headers; 5xx → network_error; 403 with the duplicate detail (or v1.1 code 187) →
 * duplicate; a 400 naming a media parameter, or any failure of a media call → media_error; the rest → unknown.
 */
export function classifyXError(res: HttpResponse, context: Context, now: Date): PlatformError {
  const status = res.status;
  const parsed = problemSchema.safeParse(res.json);
  const problem: Problem = parsed.success ? parsed.data : {};
  const platformCode = problem.type && problem.type !== "about:blank" ? problem.type : problem.errors?.[0]?.code?.toString();
  const what = context === "media" ? "X media upload" : "X";
  const message = `${what} answered ${status}${describe(problem) ? `: ${describe(problem)}` : ""}`;
  const details = { status, platformCode };

  if (res.ok) return new PlatformError("unknown", `${what} answered ${status} with an unexpected body`, details);
  if (status === 401) return new PlatformError("auth_error", message, details);
  if (status === 429) return new PlatformError("rate_limited", message, { ...details, retryAfterSeconds: xRetryAfterSeconds(res.headers, now) });
  if (status >= 500) return new PlatformError("network_error", message, details);
  if (status === 403) {
    const duplicate = problem.detail === X_DUPLICATE_DETAIL || problem.errors?.some((e) => e.code === V1_DUPLICATE_CODE);
    if (duplicate) return new PlatformError("duplicate", message, details);
    if (problem.type === UNSUPPORTED_AUTHENTICATION) return new PlatformError("auth_error", message, details);
  }
  const mediaParameter = problem.errors?.some((e) => Object.keys(e.parameters ?? {}).some((key) => key.startsWith("media")));
  if (context === "media" || (status === 400 && mediaParameter)) return new PlatformError("media_error", message, details);
  return new PlatformError("unknown", message, details);
}

/**
 * When a rate limit lifts, from X's headers (epoch seconds): the latest reset among the windows that are exhausted
 * (15-minute endpoint window, 24-hour user and app caps), else the endpoint window's reset, else `Retry-After`.
 */
export function xRetryAfterSeconds(headers: Headers, now: Date): number | undefined {
  const windows = ["x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"];
  const resets = windows
    .filter((w) => headers.get(`${w}-remaining`) === "0")
    .map((w) => Number(headers.get(`${w}-reset`)))
    .filter((v) => Number.isFinite(v) && v > 0);
  if (resets.length) return secondsUntil(Math.max(...resets), now);
  const reset = Number(headers.get("x-rate-limit-reset"));
  if (Number.isFinite(reset) && reset > 0) return secondsUntil(reset, now);
  return retryAfterHeader(headers, now);
}

function describe(problem: Problem): string | undefined {
  return excerpt(problem.detail ?? problem.errors?.[0]?.message ?? problem.title);
}
