import { z } from "zod";
import { count, sum } from "../analytics/model.js";
import { chunks, invalidResponse, measured, unavailable } from "./metrics.js";
import { createHttpClient, excerpt, type HttpResponse } from "./http.js";
import { catalog } from "./catalog.js";
import { classifyGraphError, readInsights } from "./meta-graph.js";
import { baseUrls, codeFlow } from "./oauth.js";
import {
  PlatformError,
  type ErrorCategory,
  type AccountInfo,
  type AdapterConfig,
  type ConnectionTraits,
  type MediaItem,
  type OAuthTokens,
  type PlatformAdapter,
  type PublishOutcome,
  type PublishRequest,
  type SettingsIssue,
  type MetricsCapability,
  type PostMetricsResult,
} from "./types.js";
import { facebookHosts, facebookConnection, facebookPagesOf } from "./facts.js";

// Static facts about the network (hosts, connection traits) live in facts.ts, which the registry loads without this module.
export { facebookHosts, facebookConnection, facebookPagesOf };

/**
 * Facebook Pages adapter. Consent on www.facebook.com (`/{v}/dialog/oauth`, no
 * PKCE), then on graph.facebook.com: the code for a short-lived user token, that for a long-lived one
 * (`fb_exchange_token`, about 60 days), the granted permissions (`/me/permissions`) and the Pages with their Page
 * access tokens (`/me/accounts`). Posts go out as the Page, with its token: text to `/{page-id}/feed`, one photo to
 * `/{page-id}/photos` by `url`, one video to `/{page-id}/videos` by `file_url`. Meta fetches the media itself, and a
 * video finishes later: publish answers `processing` and `checkStatus` follows `GET /{video-id}?fields=status`.
 *
 * What the connection stores. A Page token obtained from a long-lived user token does not expire, so it is what
 * publishing uses, and the connection's access token is a *Page credential*: every granted Page's token plus the
 * long-lived user token (which `getAccount` needs for the Page list and the permissions), packed into one opaque
 * string that is encrypted at rest like any token. That lets the connection's settings (`pageId`) switch to another
 * granted Page without a new consent. The refresh token is the long-lived user token: a refresh exchanges it for a
 * new one (the old one keeps working until it expires) and reads the Pages and their tokens again. The credential
 * has no expiry of its own (the Page tokens have none); the user token's 60 days only bound when a refresh works.
 */

/** The Graph API version every call names (each lives about two years; v21.0 or later is required here). */
export const FACEBOOK_GRAPH_VERSION = "v24.0";

export const facebookLimits = {
  /** Meta asks for photos under 4 MB; 10 MB is the hard cap third parties quote (unconfirmed). */
  photoMaxBytes: 10 * 1024 * 1024,
  /** Pages of `/me/accounts` followed (100 Pages each). */
  maxAccountPages: 10,
} as const;

/** Seconds before each successive check of a processing video; the last value repeats. */
export const videoCheckSeconds = [1, 2, 5, 10, 20, 30, 60] as const;

/** The Page task needed to publish as the Page. */
export const CREATE_CONTENT_TASK = "CREATE_CONTENT";

// --- Facebook's own error codes, on top of the Graph codes meta-graph.ts classifies ---------------------------------

/**
 * Media Meta could not take, beyond the codes shared with Instagram: 324 missing or invalid image file, 389 video
 * could not be fetched from its URL, 6000/6001 video upload problems; subcode 2061006 invalid URL.
 */
const FACEBOOK_MEDIA_CODES = new Set([324, 389, 6000, 6001]);
const FACEBOOK_MEDIA_SUBCODES = new Set([2061006]);
/** Identity confirmation required before publishing (4854002): only the person can fix it, then reconnect. */
const FACEBOOK_AUTH_SUBCODES = new Set([4854002]);
/** Facebook's service-unavailable subcodes. */
const FACEBOOK_UNAVAILABLE_SUBCODES = new Set([1363047, 1609010]);

const errorCodesSchema = z.object({ error: z.object({ code: z.coerce.number().optional(), error_subcode: z.coerce.number().optional() }) });

// --- response shapes -----------------------------------------------------------------------------------------------

const tokenSchema = z.object({ access_token: z.string().min(1), token_type: z.string().optional(), expires_in: z.coerce.number().optional() });
const permissionsSchema = z.object({ data: z.array(z.object({ permission: z.string(), status: z.string() })) });
const pictureSchema = z.object({ data: z.object({ url: z.string().optional() }).optional() }).optional();
const accountPageSchema = z.object({
  id: z.string(),
  name: z.string(),
  username: z.string().optional(),
  access_token: z.string().optional(),
  tasks: z.array(z.string()).optional(),
  picture: pictureSchema,
});
const accountsSchema = z.object({
  data: z.array(accountPageSchema),
  paging: z.object({ next: z.string().optional() }).optional(),
});
const meSchema = z.object({ id: z.string(), name: z.string().optional(), username: z.string().optional(), picture: pictureSchema });
const createdSchema = z.object({ id: z.string(), post_id: z.string().optional() });
const phaseSchema = z
  .object({
    status: z.string().optional(),
    publish_status: z.string().optional(),
    errors: z.array(z.object({ code: z.number().optional(), message: z.string().optional() })).optional(),
  })
  .optional();
const videoStatusSchema = z.object({
  id: z.string().optional(),
  permalink_url: z.string().optional(),
  status: z.object({
    video_status: z.string(),
    uploading_phase: phaseSchema,
    processing_phase: phaseSchema,
    publishing_phase: phaseSchema,
  }),
});
const processingStateSchema = z.object({ videoId: z.string().min(1), pageId: z.string().min(1), checks: z.number().int().min(0) });

/** The connection's settings: which granted Page to publish as (default: the first Page that allows it). */
export const facebookSettingsSchema = z.strictObject({
  pageId: z.string().regex(/^\d+$/, "A Facebook Page id (digits)").optional(),
});

// --- the Page credential -------------------------------------------------------------------------------------------

export interface PageCredential {
  /** The long-lived user token. */
  userToken: string;
  /** Every granted Page's token, in the order Meta listed the Pages. */
  pages: { id: string; token: string }[];
}

const CREDENTIAL_PREFIX = "fbpages1.";
const credentialWireSchema = z.object({ u: z.string().min(1), p: z.array(z.tuple([z.string().min(1), z.string().min(1)])) });

export function encodePageCredential(credential: PageCredential): string {
  const wire = { u: credential.userToken, p: credential.pages.map((p) => [p.id, p.token]) };
  return `${CREDENTIAL_PREFIX}${Buffer.from(JSON.stringify(wire)).toString("base64url")}`;
}

/** The credential this adapter stored, or undefined for anything else. */
export function decodePageCredential(value: string): PageCredential | undefined {
  if (!value.startsWith(CREDENTIAL_PREFIX)) return undefined;
  try {
    const parsed = credentialWireSchema.safeParse(JSON.parse(Buffer.from(value.slice(CREDENTIAL_PREFIX.length), "base64url").toString("utf8")));
    if (!parsed.success) return undefined;
    return { userToken: parsed.data.u, pages: parsed.data.p.map(([id, token]) => ({ id, token })) };
  } catch {
    return undefined;
  }
}

function credentialOrThrow(value: string): PageCredential {
  const credential = decodePageCredential(value);
  if (!credential) throw new PlatformError("auth_error", "The stored Facebook credential is not a Page credential: reconnect the account");
  return credential;
}

/** What the connection's metadata records about one granted Page (never its token). */
export interface FacebookPageInfo {
  id: string;
  name: string;
  username?: string;
  tasks: string[];
  /** The user may publish as the Page: Meta gave a Page token and the CREATE_CONTENT task (when it lists tasks). */
  canPublish: boolean;
}

type Context = "api" | "media" | "token";

export interface FacebookAdapterConfig extends AdapterConfig {
  /**
   * A Facebook Login for Business configuration of the app (its id in the App Dashboard, under Facebook Login for
   * Business > Configurations). Business-type apps sign users in through one: the consent URL names it (`config_id`)
   * instead of asking for scopes, and the configuration decides the permissions and assets offered. Unset: the
   * classic dialog with `scope`.
   */
  configId?: string;
}

export interface FacebookAdapterOptions {
  /** Graph API version, e.g. "v24.0" (default FACEBOOK_GRAPH_VERSION). */
  graphVersion?: string;
}

/** A Page post's counts: `shares{count}` (absent when never shared), reactions and comments as summaries. */
const postCountsSchema = z.looseObject({
  id: z.string(),
  shares: z.looseObject({ count: z.unknown() }).optional(),
  reactions: z.looseObject({ summary: z.looseObject({ total_count: z.unknown() }).optional() }).optional(),
  comments: z.looseObject({ summary: z.looseObject({ total_count: z.unknown() }).optional() }).optional(),
});
const pageCountsSchema = z.looseObject({ id: z.string(), followers_count: z.unknown().optional(), fan_count: z.unknown().optional() });

export function createFacebookAdapter(config: FacebookAdapterConfig, options: FacebookAdapterOptions = {}): PlatformAdapter {
  const http = createHttpClient({ service: "Facebook", fetch: config.fetch, timeoutMs: config.timeoutMs });
  const now = config.now ?? (() => new Date());
  const version = options.graphVersion ?? FACEBOOK_GRAPH_VERSION;
  const { api, auth, apiOrigin } = baseUrls(config, facebookHosts);
  const graph = (path: string) => new URL(api(`/${version}${path}`));
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  // Meta documents its token endpoint as a GET with everything in the query; the code and `fb_exchange_token` grants
  // both answer `{ access_token, expires_in }`.
  const oauth = codeFlow({
    service: "Facebook",
    http,
    now,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    authorizeUrl: auth(`/${version}/dialog/oauth`),
    tokenUrl: graph("/oauth/access_token").toString(),
    tokenRequest: "query",
    pkce: false,
    clientAuth: "body",
    scopeSeparator: ",",
    error: (res, at) => classifyFacebookError(res, "token", at),
    tokens(res, at) {
      const parsed = tokenSchema.safeParse(res.json);
      if (!parsed.success) throw classifyFacebookError(res, "token", at);
      const expiresIn = parsed.data.expires_in;
      return { accessToken: parsed.data.access_token, expiresAt: expiresIn ? new Date(at.getTime() + expiresIn * 1000) : undefined, scopes: [] };
    },
  });
  /** A long-lived user token (about 60 days) for a short- or long-lived one. */
  const longLivedUserToken = (userToken: string) => oauth.requestToken({ grant_type: "fb_exchange_token", fb_exchange_token: userToken });

  async function get<T>(url: URL, token: string, schema: z.ZodType<T>, context: Context = "api"): Promise<T> {
    const res = await http.request({ url, headers: bearer(token) });
    const parsed = res.ok ? schema.safeParse(res.json) : undefined;
    if (!parsed?.success) throw classifyFacebookError(res, context, now());
    return parsed.data;
  }

  async function grantedPermissions(userToken: string): Promise<{ granted: string[]; declined: string[] }> {
    const body = await get(graph("/me/permissions"), userToken, permissionsSchema);
    return {
      granted: body.data.filter((p) => p.status === "granted").map((p) => p.permission),
      declined: body.data.filter((p) => p.status === "declined").map((p) => p.permission),
    };
  }

  /** Every Page the user granted, following `paging.next` (on Meta's own host only: it carries the token). */
  async function grantedPages(userToken: string): Promise<z.infer<typeof accountPageSchema>[]> {
    let url: URL | undefined = graph("/me/accounts");
    url.searchParams.set("fields", "id,name,username,access_token,tasks,picture{url}");
    url.searchParams.set("limit", "100");
    const pages: z.infer<typeof accountPageSchema>[] = [];
    for (let i = 0; url && i < facebookLimits.maxAccountPages; i++) {
      const body: z.infer<typeof accountsSchema> = await get(url, userToken, accountsSchema);
      pages.push(...body.data);
      const next: URL | undefined = body.paging?.next ? new URL(body.paging.next) : undefined;
      url = next && next.origin === apiOrigin ? next : undefined;
    }
    return pages;
  }

  /** Tokens for a fresh long-lived user token: the Page credential, the user token to refresh with, the permissions. */
  async function tokensFor(longLived: OAuthTokens): Promise<OAuthTokens> {
    const userToken = longLived.accessToken;
    const [permissions, pages] = await Promise.all([grantedPermissions(userToken), grantedPages(userToken)]);
    const credential: PageCredential = {
      userToken,
      pages: pages.filter((p) => p.access_token).map((p) => ({ id: p.id, token: p.access_token! })),
    };
    return {
      accessToken: encodePageCredential(credential),
      refreshToken: userToken,
      refreshTokenExpiresAt: longLived.expiresAt,
      scopes: permissions.granted,
    };
  }

  function pageTokenOrThrow(credential: PageCredential, pageId: string): string {
    const page = credential.pages.find((p) => p.id === pageId);
    if (!page) {
      throw new PlatformError("auth_error", `Facebook Page ${pageId} was not granted to this connection: reconnect and select it`);
    }
    return page.token;
  }

  function settingsOrThrow(settings: Record<string, unknown>): z.infer<typeof facebookSettingsSchema> {
    const parsed = facebookSettingsSchema.safeParse(settings);
    if (!parsed.success) throw new PlatformError("unknown", `Invalid Facebook connection settings: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    return parsed.data;
  }

  async function post(pageToken: string, path: string, form: Record<string, string | undefined>, context: Context) {
    const res = await http.request({ method: "POST", url: graph(path), form, headers: bearer(pageToken) });
    const parsed = res.ok ? createdSchema.safeParse(res.json) : undefined;
    if (!parsed?.success) throw classifyFacebookError(res, context, now());
    return parsed.data;
  }

  async function publishMedia(pageId: string, pageToken: string, text: string, item: MediaItem): Promise<PublishOutcome> {
    const mimeType = item.mimeType.toLowerCase();
    if (!catalog.facebook.publish.supportedMediaTypes.includes(mimeType)) {
      throw new PlatformError("media_error", `Facebook Pages take ${catalog.facebook.publish.supportedMediaTypes.join(", ")}, not ${item.mimeType}`);
    }
    if (mimeType.startsWith("image/")) {
      if (item.sizeBytes !== undefined && item.sizeBytes !== null && item.sizeBytes > facebookLimits.photoMaxBytes) {
        throw new PlatformError("media_error", `Facebook photos must be at most ${facebookLimits.photoMaxBytes} bytes`);
      }
      const photo = await post(pageToken, `/${pageId}/photos`, { url: item.url, caption: text || undefined, published: "true" }, "media");
      const id = photo.post_id ?? photo.id;
      return { status: "published", externalPostId: id, url: postUrl(id) };
    }
    if (mimeType.startsWith("video/")) {
      const video = await post(pageToken, `/${pageId}/videos`, { file_url: item.url, description: text || undefined, published: "true" }, "media");
      return { status: "processing", checkAfterSeconds: videoCheckSeconds[0], state: { videoId: video.id, pageId, checks: 0 } };
    }
    throw new PlatformError("media_error", `Facebook publishes photos and videos, not ${item.mimeType}`);
  }

  /**
   * A Page video's lifetime video insights (`GET /{video-id}/video_insights?metric=…`, the Page token): views (3 s or
   * to the end), impressions and unique impressions, reactions by type, and its stories by action type (comments and
   * shares). Average and total watch time (ms) have no column in the model and are kept in raw. Facebook reports no
   * clicks for videos (null).
   */
  async function videoMetrics(pageToken: string, videoId: string): Promise<PostMetricsResult> {
    const url = graph(`/${videoId}/video_insights`);
    url.searchParams.set("metric", facebookVideoInsightMetrics.join(","));
    const insights = readInsights(await http.request({ url, headers: bearer(pageToken) }), "Facebook", now());
    if ("unavailable" in insights) return unavailable(videoId, insights.unavailable);
    const v = insights.values;
    const stories = objectOf(v.total_video_stories_by_action_type);
    const reactions = objectOf(v.total_video_reactions_by_type_total);
    return measured(
      videoId,
      {
        videoViews: count(v.total_video_views),
        impressions: count(v.total_video_impressions),
        reach: count(v.total_video_impressions_unique),
        likes: reactions ? sum(...Object.values(reactions).map(count)) : null,
        comments: stories ? count(stories.comment ?? 0) : null,
        shares: stories ? count(stories.share ?? 0) : null,
      },
      { video_insights: v },
    );
  }

  const metrics: MetricsCapability = {
    async posts(request) {
      const credential = credentialOrThrow(request.accessToken);
      const pageId = settingsOrThrow(request.settings).pageId ?? request.account.externalAccountId;
      const results: PostMetricsResult[] = [];
      for (const post of request.posts) {
        // Page posts are `{page-id}_{n}`; a video is its own object (its id alone), measured by its video insights.
        const postPage = post.externalPostId.includes("_") ? post.externalPostId.split("_")[0]! : undefined;
        if (!postPage) {
          results.push(await videoMetrics(pageTokenOrThrow(credential, pageId), post.externalPostId));
          continue;
        }
        const pageToken = pageTokenOrThrow(credential, postPage ?? pageId);
        const countsUrl = graph(`/${post.externalPostId}`);
        countsUrl.searchParams.set("fields", "id,shares,reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)");
        const countsRes = await http.request({ url: countsUrl, headers: bearer(pageToken) });
        if (!countsRes.ok) {
          const e = classifyFacebookError(countsRes, "api", now());
          if (countsRes.status === 400 && e.details.platformCode === "100/33") {
            results.push(unavailable(post.externalPostId, "Facebook has no such post (deleted)"));
            continue;
          }
          throw e;
        }
        const counts = postCountsSchema.safeParse(countsRes.json);
        if (!counts.success) throw invalidResponse("Facebook", countsRes.status, counts.error);
        const insightsUrl = graph(`/${post.externalPostId}/insights`);
        insightsUrl.searchParams.set("metric", "post_media_view,post_total_media_view_unique,post_clicks");
        const insights = readInsights(await http.request({ url: insightsUrl, headers: bearer(pageToken) }), "Facebook", now());
        const v = "values" in insights ? insights.values : {};
        const c = counts.data;
        results.push(
          measured(
            post.externalPostId,
            {
              likes: count(c.reactions?.summary?.total_count),
              comments: count(c.comments?.summary?.total_count),
              shares: c.shares ? count(c.shares.count) : 0,
              impressions: count(v.post_media_view),
              reach: count(v.post_total_media_view_unique),
              clicks: count(v.post_clicks),
            },
            { shares: c.shares ?? null, reactions: c.reactions?.summary ?? null, comments: c.comments?.summary ?? null, insights: v },
          ),
        );
      }
      return results;
    },
    async account(request) {
      const credential = credentialOrThrow(request.accessToken);
      const pageId = settingsOrThrow(request.settings).pageId ?? request.account.externalAccountId;
      const url = graph(`/${pageId}`);
      url.searchParams.set("fields", "id,followers_count,fan_count");
      const res = await http.request({ url, headers: bearer(pageTokenOrThrow(credential, pageId)) });
      if (!res.ok) throw classifyFacebookError(res, "api", now());
      const parsed = pageCountsSchema.safeParse(res.json);
      if (!parsed.success) throw invalidResponse("Facebook", res.status, parsed.error);
      return { followers: count(parsed.data.followers_count), raw: { followers_count: parsed.data.followers_count, fan_count: parsed.data.fan_count } };
    },
  };

  return {
    platform: "facebook",
    settingsSchema: facebookSettingsSchema,
    metrics,

    authorizeUrl(request) {
      const url = new URL(oauth.authorizeUrl(request));
      if (config.configId) {
        // The configuration replaces the scopes (Meta ignores `scope` beside a `config_id`; sent alone it is clearer).
        url.searchParams.delete("scope");
        url.searchParams.set("config_id", config.configId);
      }
      return url.toString();
    },

    async exchangeCode(exchange) {
      const short = await oauth.exchangeCode(exchange);
      return tokensFor(await longLivedUserToken(short.accessToken));
    },

    async refresh(userToken) {
      return tokensFor(await longLivedUserToken(userToken));
    },

    async getAccount(credentialValue): Promise<AccountInfo> {
      const credential = credentialOrThrow(credentialValue);
      const [listed, permissions] = await Promise.all([grantedPages(credential.userToken), grantedPermissions(credential.userToken)]);
      const tokenFor = new Set(credential.pages.map((p) => p.id));
      const pages: FacebookPageInfo[] = listed.map((p) => {
        const tasks = p.tasks ?? [];
        return {
          id: p.id,
          name: p.name,
          ...(p.username ? { username: p.username } : {}),
          tasks,
          canPublish: tokenFor.has(p.id) && (p.tasks === undefined || tasks.includes(CREATE_CONTENT_TASK)),
        };
      });
      const permissionFacts = { grantedPermissions: permissions.granted, declinedPermissions: permissions.declined };
      const chosen = pages.find((p) => p.canPublish) ?? pages.find((p) => tokenFor.has(p.id));
      if (!chosen) {
        // No Page to publish as: the connection is the user, and its readiness says a Page is missing.
        const fields = graph("/me");
        fields.searchParams.set("fields", "id,name,picture{url}");
        const user = await get(fields, credential.userToken, meSchema);
        return {
          externalAccountId: user.id,
          username: user.name ?? user.id,
          displayName: user.name,
          avatarUrl: user.picture?.data?.url,
          metadata: { kind: "user", pageId: null, pages, userId: user.id, ...permissionFacts },
        };
      }
      // The Page's own token answers /me with the Page: this also proves the token works.
      const fields = graph("/me");
      fields.searchParams.set("fields", "id,name,username,picture{url}");
      const page = await get(fields, pageTokenOrThrow(credential, chosen.id), meSchema);
      return {
        externalAccountId: page.id,
        username: page.username ?? page.name ?? page.id,
        displayName: page.name,
        avatarUrl: page.picture?.data?.url,
        metadata: { kind: "page", pageId: page.id, pageName: page.name ?? chosen.name, pages, ...permissionFacts },
      };
    },

    checkSettings(settings, account): SettingsIssue[] {
      const pageId = settings.pageId;
      if (typeof pageId !== "string") return [];
      const pages = facebookPagesOf(account.metadata);
      if (!pages) return [{ field: "pageId", message: "The connection's Pages are not known yet: sync the connection first" }];
      const page = pages.find((p) => p.id === pageId);
      if (!page) return [{ field: "pageId", message: `Page ${pageId} was not granted to this connection: reconnect and select it at consent` }];
      if (!page.canPublish) return [{ field: "pageId", message: `You cannot publish as ${page.name}: it needs the CREATE_CONTENT task on the Page` }];
      return [];
    },

    async publish(request: PublishRequest): Promise<PublishOutcome> {
      const credential = credentialOrThrow(request.accessToken);
      const pageId = settingsOrThrow(request.settings).pageId ?? request.account.externalAccountId;
      const pageToken = pageTokenOrThrow(credential, pageId);
      if (request.media.length > 1) throw new PlatformError("media_error", "Facebook adapter publishes one photo or one video per post");
      const [item] = request.media;
      if (item) return publishMedia(pageId, pageToken, request.text, item);
      const created = await post(pageToken, `/${pageId}/feed`, { message: request.text, published: "true" }, "api");
      return { status: "published", externalPostId: created.id, url: postUrl(created.id) };
    },

    async checkStatus(request, rawState): Promise<PublishOutcome> {
      const state = processingStateSchema.safeParse(rawState);
      if (!state.success) throw new PlatformError("unknown", "Facebook publishes text and photos synchronously: there is no video to check");
      const { videoId, pageId, checks } = state.data;
      const pageToken = pageTokenOrThrow(credentialOrThrow(request.accessToken), pageId);
      const url = graph(`/${videoId}`);
      url.searchParams.set("fields", "status,permalink_url");
      const video = await get(url, pageToken, videoStatusSchema, "media");
      const status = video.status;
      const phases = [status.uploading_phase, status.processing_phase, status.publishing_phase];
      const failed = phases.find((p) => p?.status === "error");
      if (status.video_status === "error" || status.video_status === "expired" || failed) {
        const cause = failed?.errors?.[0];
        const why = cause?.message ? `: ${excerpt(cause.message)}` : ` (${status.video_status})`;
        throw new PlatformError("media_error", `Facebook could not process video ${videoId}${why}`, {
          platformCode: cause?.code !== undefined ? String(cause.code) : status.video_status,
        });
      }
      const published = status.publishing_phase?.status === "complete" || status.publishing_phase?.publish_status === "published";
      if (status.video_status === "ready" && published) {
        return { status: "published", externalPostId: videoId, url: videoUrl(pageId, videoId, video.permalink_url) };
      }
      const next = videoCheckSeconds[Math.min(checks + 1, videoCheckSeconds.length - 1)]!;
      return { status: "processing", checkAfterSeconds: next, state: { videoId, pageId, checks: checks + 1 } };
    },
  };
}

/**
 * The lifetime video insights read for a Page video (Graph API Video Insights, "Video Metrics"): `total_video_views`
 * (viewed 3 s or to the end), `total_video_views_unique`, `total_video_impressions`, `total_video_impressions_unique`,
 * `total_video_avg_time_watched` and `total_video_view_total_time` (ms), `total_video_reactions_by_type_total`
 * ({like, love, …}) and `total_video_stories_by_action_type` ({share, like, comment}).
 */
export const facebookVideoInsightMetrics = [
  "total_video_views",
  "total_video_views_unique",
  "total_video_impressions",
  "total_video_impressions_unique",
  "total_video_avg_time_watched",
  "total_video_view_total_time",
  "total_video_reactions_by_type_total",
  "total_video_stories_by_action_type",
] as const;

/** A breakdown metric's value (`{type: count}`), or undefined when it is not one. */
function objectOf(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** `{page-id}_{post-id}` opens on www.facebook.com as is. */
function postUrl(id: string): string {
  return `https://www.facebook.com/${id}`;
}

function videoUrl(pageId: string, videoId: string, permalink: string | undefined): string {
  if (permalink?.startsWith("https://")) return permalink;
  if (permalink?.startsWith("/")) return `https://www.facebook.com${permalink}`;
  return `https://www.facebook.com/${pageId}/videos/${videoId}/`;
}

/**
 * Classifies a Graph API answer from its parsed `error.code` and `error_subcode`, never from the message:
 * Facebook's own media codes (324, 389, 6000, 6001; subcode 2061006) → media_error, identity confirmation (4854002) →
 * auth_error, its service-unavailable subcodes → network_error; everything Meta's products share (tokens 190,
 * permissions 10/200–299, throttling 4/17/32/613/80001 with the reset from `X-Business-Use-Case-Usage`, duplicates
 * 506/368/1366051, media 352/1366046/2069019, transient 1/2) as classifyGraphError does.
 */
export function classifyFacebookError(res: HttpResponse, context: Context, now: Date): PlatformError {
  const service = context === "media" ? "Facebook media call" : context === "token" ? "Facebook token endpoint" : "Facebook";
  const shared = classifyGraphError(res, service, now, context === "token" ? "token" : "api");
  const parsed = res.ok ? undefined : errorCodesSchema.safeParse(res.json);
  if (!parsed?.success) return shared;
  const { code, error_subcode: subcode } = parsed.data.error;
  const as = (category: ErrorCategory) => new PlatformError(category, shared.message, shared.details);
  if ((code !== undefined && FACEBOOK_MEDIA_CODES.has(code)) || (subcode !== undefined && FACEBOOK_MEDIA_SUBCODES.has(subcode))) return as("media_error");
  if (subcode !== undefined && FACEBOOK_AUTH_SUBCODES.has(subcode)) return as("auth_error");
  if (subcode !== undefined && FACEBOOK_UNAVAILABLE_SUBCODES.has(subcode)) return as("network_error");
  return shared;
}
