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
  type PlatformAdapter,
  type PublishOutcome,
  type PublishRequest,
  type SettingsIssue,
  type MetricsCapability,
  type PostMetricsResult,
} from "./types.js";
import { pinterestHosts, pinterestConnection, boardsOf } from "./facts.js";

// Static facts about the network (hosts, connection traits) live in facts.ts, which the registry loads without this module.
export { pinterestHosts, pinterestConnection, boardsOf };

/**
 * Pinterest API v5 adapter: OAuth on www.pinterest.com (comma-separated scopes, no PKCE)
 * with the token endpoint on api.pinterest.com (HTTP Basic client auth), the account from `GET /v5/user_account` and
 * its boards from `GET /v5/boards` (listed into `AccountInfo.metadata.boards`), and image pins through `POST /v5/pins`
 * with `media_source.source_type = image_url`: Pinterest fetches the image itself, so nothing is downloaded here.
 *
 * Every pin goes to a board: the connection's `boardId` setting (its default board), which must be one of the
 * account's boards. Until it is set the connection's readiness says so.
 */

export const pinterestLimits = {
  descriptionMaxChars: 800,
  linkMaxChars: 2048,
  /** Images: BMP/JPEG/PNG/TIFF/GIF/WEBP up to 20 MB (the size is unconfirmed). */
  imageMaxBytes: 20 * 1024 * 1024,
  /** Boards listed per page (the API's maximum) and pages read at most when listing an account's boards. */
  boardPageSize: 250,
  boardPagesMax: 4,
} as const;

/**
 * Pinterest's error codes the adapter acts on (the `code` of its `{code, message}` error body, API v5):
 * 8 rate limit; 2 authentication failed; 29 not permitted (a missing scope on a 401); 233/235 image too small or
 * broken; 40 board not found.
 */
export const PINTEREST_CODES = { rateLimited: 8, authenticationFailed: 2, notPermitted: 29, imageTooSmall: 233, imageBroken: 235, boardNotFound: 40 } as const;
const MEDIA_CODES: ReadonlySet<number> = new Set([PINTEREST_CODES.imageTooSmall, PINTEREST_CODES.imageBroken]);

/** The connection's settings: the default board every pin goes to. Unset until the user chooses one. */
export const pinterestSettingsSchema = z.strictObject({
  boardId: z.string().regex(/^\d+$/, "A Pinterest board id (digits only)").optional(),
});

const errorSchema = z.object({ code: z.number().optional(), message: z.string().optional() });
const accountSchema = z.object({
  id: z.string().optional(),
  username: z.string().min(1),
  account_type: z.string().optional(),
  profile_image: z.string().optional(),
  business_name: z.string().nullish(),
});
const boardsPageSchema = z.object({
  items: z.array(z.object({ id: z.string(), name: z.string(), privacy: z.string().optional() })),
  bookmark: z.string().nullish(),
});
const pinSchema = z.object({ id: z.string().min(1) });

export interface PinterestBoard {
  id: string;
  name: string;
  privacy?: string;
}

/** `GET /v5/pins/{id}/analytics`: metrics under `all` (app_types=ALL, split_field=NO_SPLIT). */
const metricValues = z.record(z.string(), z.unknown());
const pinAnalyticsSchema = z.object({
  all: z.object({ lifetime_metrics: metricValues.optional(), summary_metrics: metricValues.optional(), daily_metrics: z.array(z.unknown()).optional() }),
});
const accountCountsSchema = z.looseObject({ id: z.string(), follower_count: z.unknown().optional() });

export function createPinterestAdapter(config: AdapterConfig): PlatformAdapter {
  const http = createHttpClient({ service: "Pinterest", fetch: config.fetch, timeoutMs: config.timeoutMs });
  const now = config.now ?? (() => new Date());
  const { api, auth } = baseUrls(config, pinterestHosts);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const oauth = codeFlow({
    service: "Pinterest",
    http,
    now,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    authorizeUrl: auth("/oauth/"),
    tokenUrl: api("/v5/oauth/token"),
    pkce: false,
    clientAuth: "basic",
    scopeSeparator: ",",
  });

  /** Every board of the account, following `bookmark` for at most `boardPagesMax` pages. */
  async function listBoards(accessToken: string): Promise<PinterestBoard[]> {
    const boards: PinterestBoard[] = [];
    let bookmark: string | undefined;
    for (let page = 0; page < pinterestLimits.boardPagesMax; page++) {
      const url = new URL(api("/v5/boards"));
      url.searchParams.set("page_size", String(pinterestLimits.boardPageSize));
      if (bookmark) url.searchParams.set("bookmark", bookmark);
      const res = await http.request({ url, headers: bearer(accessToken) });
      const parsed = res.ok ? boardsPageSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyPinterestError(res, now());
      boards.push(...parsed.data.items.map((b) => ({ id: b.id, name: b.name, ...(b.privacy ? { privacy: b.privacy } : {}) })));
      bookmark = parsed.data.bookmark ?? undefined;
      if (!bookmark) break;
    }
    return boards;
  }

  const metrics: MetricsCapability = {
    async posts(request) {
      const results: PostMetricsResult[] = [];
      const day = (d: Date) => d.toISOString().slice(0, 10);
      const end = now();
      // Pin analytics are per pin, over at most 90 days; the lifetime totals cover the pin's whole life.
      for (const post of request.posts) {
        const earliest = new Date(end.getTime() - 89 * 86_400_000);
        const start = post.publishedAt && post.publishedAt > earliest ? post.publishedAt : earliest;
        const url = new URL(api(`/v5/pins/${encodeURIComponent(post.externalPostId)}/analytics`));
        url.searchParams.set("start_date", day(start));
        url.searchParams.set("end_date", day(end));
        url.searchParams.set("metric_types", "IMPRESSION,OUTBOUND_CLICK,PIN_CLICK,SAVE,TOTAL_COMMENTS,TOTAL_REACTIONS");
        url.searchParams.set("app_types", "ALL");
        url.searchParams.set("split_field", "NO_SPLIT");
        const res = await http.request({ url, headers: bearer(request.accessToken) });
        if (res.status === 404) {
          results.push(unavailable(post.externalPostId, "Pinterest has no such pin (deleted)"));
          continue;
        }
        if (!res.ok) throw classifyPinterestError(res, now());
        const parsed = pinAnalyticsSchema.safeParse(res.json);
        if (!parsed.success) throw invalidResponse("Pinterest", res.status, parsed.error);
        const totals = parsed.data.all.lifetime_metrics ?? parsed.data.all.summary_metrics ?? {};
        results.push(
          measured(
            post.externalPostId,
            {
              impressions: count(totals.IMPRESSION),
              saves: count(totals.SAVE),
              clicks: sum(count(totals.OUTBOUND_CLICK), count(totals.PIN_CLICK)),
              likes: count(totals.TOTAL_REACTIONS),
              comments: count(totals.TOTAL_COMMENTS),
            },
            { metrics: totals },
          ),
        );
      }
      return results;
    },
    async account(request) {
      const res = await http.request({ url: api("/v5/user_account"), headers: bearer(request.accessToken) });
      if (!res.ok) throw classifyPinterestError(res, now());
      const parsed = accountCountsSchema.safeParse(res.json);
      if (!parsed.success) throw invalidResponse("Pinterest", res.status, parsed.error);
      const { follower_count, following_count, pin_count, monthly_views } = parsed.data;
      return { followers: count(follower_count), raw: { follower_count, following_count, pin_count, monthly_views } };
    },
  };

  return {
    platform: "pinterest",
    metrics,
    settingsSchema: pinterestSettingsSchema,

    authorizeUrl: oauth.authorizeUrl,
    exchangeCode: oauth.exchangeCode,
    refresh: oauth.refresh,

    async getAccount(accessToken): Promise<AccountInfo> {
      const res = await http.request({ url: api("/v5/user_account"), headers: bearer(accessToken) });
      const parsed = res.ok ? accountSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyPinterestError(res, now());
      const account = parsed.data;
      const boards = await listBoards(accessToken);
      return {
        externalAccountId: account.id ?? account.username,
        username: account.username,
        displayName: account.business_name ?? account.username,
        avatarUrl: account.profile_image,
        metadata: { accountType: account.account_type ?? null, boards },
      };
    },

    checkSettings(settings, account): SettingsIssue[] {
      const parsed = pinterestSettingsSchema.safeParse(settings);
      const boardId = parsed.success ? parsed.data.boardId : undefined;
      if (!boardId) return [];
      const boards = boardsOf(account.metadata);
      if (!boards) return [{ field: "boardId", message: "The account's boards are not known yet: sync the connection first" }];
      if (boards.some((b) => b.id === boardId)) return [];
      return [{ field: "boardId", message: `Board ${boardId} is not one of this Pinterest account's boards (as of its last sync)` }];
    },

    async publish(request: PublishRequest): Promise<PublishOutcome> {
      const settings = pinterestSettingsSchema.safeParse(request.settings);
      const boardId = settings.success ? settings.data.boardId : undefined;
      if (!boardId) throw new PlatformError("unknown", "No default board is set on this Pinterest connection");
      const [item, ...more] = request.media;
      if (!item || more.length || !item.mimeType.toLowerCase().startsWith("image/")) {
        throw new PlatformError("media_error", "A Pinterest pin needs exactly one image");
      }
      if (item.sizeBytes !== undefined && item.sizeBytes > pinterestLimits.imageMaxBytes) {
        throw new PlatformError("media_error", `Pinterest accepts images up to ${pinterestLimits.imageMaxBytes} bytes`);
      }
      const body: Record<string, unknown> = {
        board_id: boardId,
        description: request.text,
        media_source: { source_type: "image_url", url: item.url },
      };
      const link = firstLink(request.text);
      if (link) body.link = link;
      const res = await http.request({ method: "POST", url: api("/v5/pins"), json: body, headers: bearer(request.accessToken) });
      const parsed = res.status === 201 ? pinSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyPinterestError(res, now());
      const id = parsed.data.id;
      return { status: "published", externalPostId: id, url: `https://www.pinterest.com/pin/${id}/` };
    },

    async checkStatus() {
      throw new PlatformError("unknown", "Pinterest creates image pins synchronously: there is no processing state to check");
    },
  };
}

/** The pin's destination: the first http(s) URL of the text, without trailing punctuation, when it fits the limit. */
export function firstLink(text: string): string | undefined {
  const match = /\bhttps?:\/\/[^\s<>"]+/i.exec(text);
  const url = match?.[0].replace(/[.,;:!?)\]'"]+$/, "");
  return url && url.length <= pinterestLimits.linkMaxChars && URL.canParse(url) ? url : undefined;
}

/**
 * Classifies a Pinterest answer from its status and `code`: 401 → auth_error (an expired or revoked token, or
 * code 29 for a missing scope); 429 or code 8 → rate_limited (Pinterest documents no reset header; `Retry-After` is
 * used when sent); 5xx → network_error; codes 233/235 (image too small, broken or unreachable as an image) →
 * media_error; the rest, including 404 code 40 (the board no longer exists) → unknown.
 */
export function classifyPinterestError(res: HttpResponse, now: Date): PlatformError {
  const status = res.status;
  const parsed = errorSchema.safeParse(res.json);
  const code = parsed.success ? parsed.data.code : undefined;
  const detail = parsed.success ? excerpt(parsed.data.message) : undefined;
  const message = `Pinterest answered ${status}${detail ? `: ${detail}` : ""}`;
  const details = { status, platformCode: code === undefined ? undefined : String(code) };
  if (res.ok) return new PlatformError("unknown", `Pinterest answered ${status} with an unexpected body`, details);
  if (status === 401) return new PlatformError("auth_error", message, details);
  if (status === 429 || code === PINTEREST_CODES.rateLimited) {
    return new PlatformError("rate_limited", message, { ...details, retryAfterSeconds: retryAfterHeader(res.headers, now) });
  }
  if (status >= 500) return new PlatformError("network_error", message, details);
  if (code !== undefined && MEDIA_CODES.has(code)) return new PlatformError("media_error", message, details);
  return new PlatformError("unknown", message, details);
}
