import { z } from "zod";
import { count, sum } from "../analytics/model.js";
import { chunks, invalidResponse, measured, unavailable } from "./metrics.js";
import { createHttpClient, excerpt, retryAfterHeader, type HttpResponse } from "./http.js";
import { baseUrls, codeFlow } from "./oauth.js";
import {
  PlatformError,
  type AccountInfo,
  type AdapterConfig,
  type ConnectionTraits,
  type ErrorCategory,
  type PlatformAdapter,
  type PublishOutcome,
  type PublishRequest,
  type MetricsCapability,
  type PostMetricsResult,
} from "./types.js";
import { redditHosts, redditConnection } from "./facts.js";

// Static facts about the network (hosts, connection traits) live in facts.ts, which the registry loads without this module.
export { redditHosts, redditConnection };

/**
 * Reddit adapter: OAuth on www.reddit.com with `duration=permanent` (so a refresh token comes back) and HTTP Basic
 * client auth on the token endpoint; the API on oauth.reddit.com: `GET /api/v1/me` and self posts through
 * `POST /api/submit` (`kind=self`) to the subreddit in the connection's settings.
 *
 * Reddit answers most submit failures with HTTP 200 and `json.errors` (`[CODE, message, field]`), so the body is
 * parsed before the status is trusted. Every call carries the descriptive User-Agent Reddit requires; generic agents
 * are throttled or blocked.
 */

/** `<platform>:<app id>:<version> (by /u/<reddit username>)`, as Reddit's API rules ask; REDDIT_USER_AGENT overrides it. */
export const DEFAULT_REDDIT_USER_AGENT = "web:amplify-scheduler:1.0.0 (by /u/amplify-scheduler)";

export const redditLimits = {
  titleMaxChars: 300,
  textMaxChars: 40_000,
} as const;

/** Submit error codes with a category of their own; every other code (SUBREDDIT_NOEXIST, NO_SELFS, …) is `unknown`. */
const SUBMIT_ERROR_CATEGORIES: Readonly<Record<string, ErrorCategory>> = {
  RATELIMIT: "rate_limited",
  QUOTA_FILLED: "rate_limited",
  ALREADY_SUB: "duplicate",
};
/** QUOTA_FILLED says "try again in an hour" and carries no number. */
const QUOTA_FILLED_WAIT_SECONDS = 3600;

const subredditName = z
  .string()
  .trim()
  .transform((name) => name.replace(/^\/?r\//i, ""))
  .pipe(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_]{2,20}$/, "A subreddit name: 3 to 21 letters, digits or underscores"));

/** The connection's settings: where posts go, and the optional flags every post to it gets. */
export const redditSettingsSchema = z.strictObject({
  subreddit: subredditName.optional(),
  flairId: z.string().min(1).max(64).optional(),
  nsfw: z.boolean().optional(),
  spoiler: z.boolean().optional(),
});

const meSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  icon_img: z.string().optional(),
  is_suspended: z.boolean().optional(),
});
const submitSchema = z.object({
  json: z.object({
    errors: z.array(z.array(z.unknown())).default([]),
    ratelimit: z.number().optional(),
    data: z.object({ id: z.string().optional(), name: z.string().optional(), url: z.string().optional() }).optional(),
  }),
});
type SubmitBody = z.infer<typeof submitSchema>["json"];

export interface RedditAdapterConfig extends AdapterConfig {
  /** The descriptive User-Agent Reddit requires (`DEFAULT_REDDIT_USER_AGENT` when unset). */
  userAgent?: string;
}

/** `GET /api/info?id=t3_…`: a listing of the posts found. */
const listingSchema = z.object({
  data: z.object({
    children: z.array(
      z.object({
        data: z.looseObject({
          name: z.string(),
          score: z.unknown().optional(),
          ups: z.unknown().optional(),
          upvote_ratio: z.unknown().optional(),
          num_comments: z.unknown().optional(),
          num_crossposts: z.unknown().optional(),
          view_count: z.unknown().optional(),
        }),
      }),
    ),
  }),
});

export function createRedditAdapter(config: RedditAdapterConfig): PlatformAdapter {
  const http = createHttpClient({ service: "Reddit", fetch: config.fetch, timeoutMs: config.timeoutMs });
  const now = config.now ?? (() => new Date());
  const userAgent = config.userAgent ?? DEFAULT_REDDIT_USER_AGENT;
  const { api, auth } = baseUrls(config, redditHosts);
  const headers = (accessToken: string) => ({ authorization: `bearer ${accessToken}`, "user-agent": userAgent });
  const oauth = codeFlow({
    service: "Reddit",
    http,
    now,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    authorizeUrl: auth("/api/v1/authorize"),
    tokenUrl: auth("/api/v1/access_token"),
    pkce: false,
    clientAuth: "basic",
    scopeSeparator: " ",
    // Without `permanent` Reddit issues no refresh token and the access token lapses after an hour.
    authorizeParams: { duration: "permanent" },
    tokenHeaders: { "user-agent": userAgent },
  });

  const metrics: MetricsCapability = {
    async posts(request) {
      const results: PostMetricsResult[] = [];
      for (const batch of chunks(request.posts, 100)) {
        const url = new URL(api("/api/info"));
        url.searchParams.set("id", batch.map((p) => p.externalPostId).join(","));
        url.searchParams.set("raw_json", "1");
        const res = await http.request({ url, headers: headers(request.accessToken) });
        if (!res.ok) throw classifyRedditError(res, now());
        const parsed = listingSchema.safeParse(res.json);
        if (!parsed.success) throw invalidResponse("Reddit", res.status, parsed.error);
        const byName = new Map(parsed.data.data.children.map((c) => [c.data.name, c.data]));
        for (const post of batch) {
          const data = byName.get(post.externalPostId);
          if (!data) {
            results.push(unavailable(post.externalPostId, "Reddit has no such post (deleted or removed)"));
            continue;
          }
          const { score, ups, upvote_ratio, num_comments, num_crossposts, view_count } = data;
          // Reddit gives third parties no impressions: likes is the score (it can be negative; then 0).
          const likes = typeof score === "number" ? Math.max(0, Math.trunc(score)) : null;
          results.push(
            measured(
              post.externalPostId,
              { likes, comments: count(num_comments), shares: count(num_crossposts), videoViews: count(view_count) },
              { score, ups, upvote_ratio, num_comments, num_crossposts, view_count },
            ),
          );
        }
      }
      return results;
    },
  };

  return {
    platform: "reddit",
    metrics,
    settingsSchema: redditSettingsSchema,

    authorizeUrl: oauth.authorizeUrl,
    exchangeCode: oauth.exchangeCode,
    refresh: oauth.refresh,

    async getAccount(accessToken): Promise<AccountInfo> {
      const res = await http.request({ url: api("/api/v1/me"), headers: headers(accessToken) });
      const parsed = res.ok ? meSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyRedditError(res, now());
      const me = parsed.data;
      return {
        externalAccountId: me.id,
        username: me.name,
        displayName: `u/${me.name}`,
        avatarUrl: me.icon_img ? me.icon_img.replace(/&amp;/g, "&") : undefined,
        metadata: { suspended: me.is_suspended ?? false },
      };
    },

    async publish(request: PublishRequest): Promise<PublishOutcome> {
      const settings = redditSettingsSchema.safeParse(request.settings);
      const subreddit = settings.success ? settings.data.subreddit : undefined;
      if (!settings.success || !subreddit) throw new PlatformError("unknown", "No subreddit is set on this Reddit connection");
      if (request.media.length) throw new PlatformError("media_error", "The Reddit adapter publishes self (text) posts only");
      const { title, body } = splitTitle(request.text);
      const res = await http.request({
        method: "POST",
        url: api("/api/submit"),
        form: {
          api_type: "json",
          kind: "self",
          sr: subreddit,
          title,
          text: body,
          sendreplies: "true",
          flair_id: settings.data.flairId,
          nsfw: settings.data.nsfw === undefined ? undefined : String(settings.data.nsfw),
          spoiler: settings.data.spoiler === undefined ? undefined : String(settings.data.spoiler),
        },
        headers: headers(request.accessToken),
      });
      const parsed = res.ok ? submitSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyRedditError(res, now());
      const submitted = parsed.data.json;
      if (submitted.errors.length) throw classifySubmitErrors(submitted, res.status);
      const name = submitted.data?.name ?? (submitted.data?.id ? `t3_${submitted.data.id}` : undefined);
      if (!name) throw new PlatformError("unknown", "Reddit accepted the post without saying its id", { status: res.status });
      return { status: "published", externalPostId: name, url: submitted.data?.url };
    },

    async checkStatus() {
      throw new PlatformError("unknown", "Reddit publishes self posts synchronously: there is no processing state to check");
    },
  };
}

/**
 * A self post's title and body from one text: the first non-empty line is the title and the rest the body. A first
 * line longer than Reddit's 300-character title is cut at a word (with "…") and the whole text becomes the body.
 */
export function splitTitle(text: string): { title: string; body: string } {
  const trimmed = text.trim();
  const newline = trimmed.indexOf("\n");
  const first = (newline < 0 ? trimmed : trimmed.slice(0, newline)).trim();
  const rest = newline < 0 ? "" : trimmed.slice(newline + 1).trim();
  const chars = [...first];
  if (chars.length <= redditLimits.titleMaxChars) return { title: first, body: rest };
  const cut = chars.slice(0, redditLimits.titleMaxChars - 1).join("");
  const atWord = cut.replace(/\s+\S*$/, "");
  return { title: `${atWord.length > cut.length / 2 ? atWord : cut}…`, body: trimmed };
}

/**
 * Classifies the `json.errors` of a submit (the code is the first element of each `[CODE, message, field]`):
 * RATELIMIT and QUOTA_FILLED → rate_limited, waiting `json.ratelimit` seconds (Reddit's own number) or else the
 * duration its message states; ALREADY_SUB → duplicate; anything else → unknown.
 */
export function classifySubmitErrors(submitted: SubmitBody, status: number): PlatformError {
  const errors = submitted.errors.map(([code, message, field]) => ({
    code: typeof code === "string" ? code : "UNKNOWN",
    message: typeof message === "string" ? message : "",
    field: typeof field === "string" ? field : undefined,
  }));
  const first = errors.find((e) => SUBMIT_ERROR_CATEGORIES[e.code]) ?? errors[0]!;
  const category = SUBMIT_ERROR_CATEGORIES[first.code] ?? "unknown";
  const detail = excerpt(errors.map((e) => `${e.code}: ${e.message}${e.field ? ` (${e.field})` : ""}`).join("; "));
  const details = { status, platformCode: first.code };
  if (category !== "rate_limited") return new PlatformError(category, `Reddit refused the post: ${detail}`, details);
  const stated = submitted.ratelimit !== undefined ? Math.ceil(submitted.ratelimit) : statedWaitSeconds(first.message);
  const retryAfterSeconds = Math.max(1, stated ?? (first.code === "QUOTA_FILLED" ? QUOTA_FILLED_WAIT_SECONDS : 60));
  return new PlatformError("rate_limited", `Reddit refused the post: ${detail}`, { ...details, retryAfterSeconds });
}

/** The wait a RATELIMIT message states ("try again in 9 minutes.", "Take a break for 14 minutes", "… 30 seconds"). */
export function statedWaitSeconds(message: string): number | undefined {
  const match = /(\d+)\s*(second|minute|hour)s?\b/i.exec(message);
  if (!match) return undefined;
  const unit = { second: 1, minute: 60, hour: 3600 }[match[2]!.toLowerCase() as "second" | "minute" | "hour"];
  return Number(match[1]) * unit;
}

/**
 * Classifies a Reddit answer that is not a well-formed 200: 401 → auth_error; 403 whose `WWW-Authenticate` names
 * `invalid_token` or `insufficient_scope` → auth_error (another 403 is a banned or private subreddit: unknown); 429 →
 * rate_limited until `X-Ratelimit-Reset` (seconds from now, not an epoch) or `Retry-After`; 5xx → network_error;
 * anything else → unknown.
 */
export function classifyRedditError(res: HttpResponse, now: Date): PlatformError {
  const status = res.status;
  const body = res.json as { message?: unknown; error?: unknown } | undefined;
  const detail = excerpt(typeof body?.message === "string" ? body.message : undefined);
  const message = `Reddit answered ${status}${detail ? `: ${detail}` : ""}`;
  const challenge = /error="([a-z_]+)"/.exec(res.headers.get("www-authenticate") ?? "")?.[1];
  const details = { status, platformCode: challenge ?? (body?.error !== undefined ? String(body.error) : undefined) };
  if (res.ok) return new PlatformError("unknown", `Reddit answered ${status} with an unexpected body`, details);
  if (status === 401) return new PlatformError("auth_error", message, details);
  if (status === 403 && (challenge === "invalid_token" || challenge === "insufficient_scope")) {
    return new PlatformError("auth_error", message, details);
  }
  if (status === 429) return new PlatformError("rate_limited", message, { ...details, retryAfterSeconds: redditRetryAfterSeconds(res.headers, now) });
  if (status >= 500) return new PlatformError("network_error", message, details);
  return new PlatformError("unknown", message, details);
}

/** `X-Ratelimit-Reset` is the number of seconds until the window ends. */
export function redditRetryAfterSeconds(headers: Headers, now: Date): number | undefined {
  const reset = Number(headers.get("x-ratelimit-reset"));
  if (headers.get("x-ratelimit-reset") !== null && Number.isFinite(reset) && reset >= 0) return Math.max(1, Math.ceil(reset));
  return retryAfterHeader(headers, now);
}
