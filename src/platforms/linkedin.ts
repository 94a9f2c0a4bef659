import { z } from "zod";
import { count } from "../analytics/model.js";
import { chunks, invalidResponse, measured, unavailable } from "./metrics.js";
import { createHttpClient, excerpt, retryAfterHeader, type HttpResponse } from "./http.js";
import { baseUrls, codeFlow } from "./oauth.js";
import {
  PlatformError,
  type AccountInfo,
  type AdapterConfig,
  type MediaItem,
  type MetricsCapability,
  type PlatformAdapter,
  type PostMetricsResult,
  type PublishOutcome,
  type PublishRequest,
} from "./types.js";
import { linkedinHosts } from "./facts.js";

// Static facts about the network (hosts, connection traits) live in facts.ts, which the registry loads without this module.
export { linkedinHosts };

/**
 * LinkedIn adapter: 3-legged OAuth on www.linkedin.com (client id and secret in the token request's body), the member from the OIDC
 * `GET /v2/userinfo`, posts through the versioned Posts API (`POST /rest/posts`) and images through the Images API
 * (`initializeUpload`, then a PUT of the bytes to the returned upload URL). Metrics: a member's posts from
 * `memberCreatorPostAnalytics` (r_member_postAnalytics), an organization page's from `organizationalEntityShareStatistics`
 * and `socialActions` (rw_organization_admin, r_organization_social); see `metrics` below.
 *
 * No PKCE: LinkedIn's web (OIDC) flow does not support it and rejects a token request that carries a
 * `code_verifier`, so the challenge and verifier the caller generates are deliberately not sent.
 */

/**
 * The `LinkedIn-Version` every /rest call sends (YYYYMM). Versions are supported for about a year after release and a
 * retired one is answered with 426 NONEXISTENT_VERSION: 202607 (July 2026) is expected to be retired around July 2027.
 */
export const LINKEDIN_VERSION = "202607";
export const RESTLI_PROTOCOL_VERSION = "2.0.0";

export const linkedinLimits = {
  /** Third-party guides say 5 MB for feed images; LinkedIn's own figure is a pixel count (36,152,320). */
  imageMaxBytes: 8 * 1024 * 1024,
  commentaryMaxChars: 3000,
} as const;

/** serviceErrorCode values that mean the member must reconnect (invalid, revoked, expired access token). */
const AUTH_SERVICE_CODES = new Set([65600, 65601, 65602]);
const DUPLICATE_INPUT_CODE = "DUPLICATE_POST";

const errorSchema = z.object({
  status: z.number().optional(),
  serviceErrorCode: z.number().optional(),
  code: z.string().optional(),
  message: z.string().optional(),
  errorDetails: z
    .object({
      inputErrors: z
        .array(
          z.object({
            code: z.string().optional(),
            description: z.string().optional(),
            input: z.object({ inputPath: z.object({ fieldPath: z.string().optional() }).optional() }).optional(),
          }),
        )
        .optional(),
    })
    .optional(),
});
type LinkedInErrorBody = z.infer<typeof errorSchema>;

const userinfoSchema = z.object({
  sub: z.string().min(1),
  name: z.string().optional(),
  picture: z.string().optional(),
  email: z.string().optional(),
});
const initializeUploadSchema = z.object({ value: z.object({ uploadUrl: z.string().url(), image: z.string().startsWith("urn:li:image:") }) });
const imageStatusSchema = z.object({ status: z.string() });

type Context = "api" | "media";

// --- metrics ---------------------------------------------------------------------------------------------------------

/** The five counts of memberCreatorPostAnalytics, one `queryType` per call, and the model's count each becomes. */
export const memberPostQueryTypes = {
  IMPRESSION: "impressions",
  MEMBERS_REACHED: "reach",
  REACTION: "likes",
  COMMENT: "comments",
  RESHARE: "shares",
} as const;
/** Posts per organizationalEntityShareStatistics call (a Rest.li List in the query string). */
const SHARE_STATISTICS_BATCH = 20;

/** `elements[]` of memberCreatorPostAnalytics: with `aggregation=TOTAL`, one element with the lifetime count. */
const memberAnalyticsSchema = z.object({
  elements: z.array(z.looseObject({ count: z.unknown(), metricType: z.record(z.string(), z.string()).optional() })),
});
const shareStatisticsSchema = z.object({
  elements: z.array(
    z.looseObject({
      share: z.string().optional(),
      ugcPost: z.string().optional(),
      totalShareStatistics: z.looseObject({
        impressionCount: z.unknown().optional(),
        uniqueImpressionsCount: z.unknown().optional(),
        clickCount: z.unknown().optional(),
        likeCount: z.unknown().optional(),
        commentCount: z.unknown().optional(),
        shareCount: z.unknown().optional(),
        engagement: z.unknown().optional(),
      }),
    }),
  ),
});
const socialActionsSchema = z.looseObject({
  likesSummary: z.looseObject({ totalLikes: z.unknown().optional() }).optional(),
  commentsSummary: z.looseObject({ aggregatedTotalComments: z.unknown().optional(), totalFirstLevelComments: z.unknown().optional() }).optional(),
});

/**
 * A URN inside a Rest.li 2.0 query value: reserved characters (`:` `,` `(` `)`) of the URN are percent-encoded, the
 * structure around it is not (`entity=(share:urn%3Ali%3Ashare%3A123)`, `shares=List(urn%3Ali%3Ashare%3A1,…)`).
 */
export function restliUrn(urn: string): string {
  return encodeURIComponent(urn).replace(/\(/g, "%28").replace(/\)/g, "%29");
}

/** `share` or `ugcPost`: the key LinkedIn's analytics finders take for a post URN; undefined for anything else. */
function postKind(urn: string): "share" | "ugcPost" | undefined {
  if (/^urn:li:share:\d+$/.test(urn)) return "share";
  if (/^urn:li:ugcPost:\d+$/.test(urn)) return "ugcPost";
  return undefined;
}

export function createLinkedInAdapter(config: AdapterConfig): PlatformAdapter {
  const http = createHttpClient({ service: "LinkedIn", fetch: config.fetch, timeoutMs: config.timeoutMs });
  const now = config.now ?? (() => new Date());
  const { api, auth, apiOrigin, authOrigin } = baseUrls(config, linkedinHosts);
  const rest = (accessToken: string) => ({
    authorization: `Bearer ${accessToken}`,
    "linkedin-version": LINKEDIN_VERSION,
    "x-restli-protocol-version": RESTLI_PROTOCOL_VERSION,
  });
  // The upload URL comes from LinkedIn's answer; the member's token is only ever sent to LinkedIn's own hosts.
  const trustedOrigins = new Set([apiOrigin, authOrigin]);
  const isTrustedUploadUrl = (url: URL) =>
    trustedOrigins.has(url.origin) || (url.protocol === "https:" && (url.hostname === "linkedin.com" || url.hostname.endsWith(".linkedin.com")));

  const oauth = codeFlow({
    service: "LinkedIn",
    http,
    now,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    authorizeUrl: auth("/oauth/v2/authorization"),
    tokenUrl: auth("/oauth/v2/accessToken"),
    pkce: false,
    clientAuth: "body",
    scopeSeparator: " ",
  });

  async function uploadImage(accessToken: string, owner: string, item: MediaItem): Promise<string> {
    if (!item.mimeType.toLowerCase().startsWith("image/")) {
      throw new PlatformError("media_error", `LinkedIn adapter publishes images only, not ${item.mimeType}`);
    }
    const media = await http.download(item.url, { maxBytes: linkedinLimits.imageMaxBytes });
    const init = await http.request({
      method: "POST",
      url: api("/rest/images?action=initializeUpload"),
      json: { initializeUploadRequest: { owner } },
      headers: rest(accessToken),
    });
    const parsed = init.ok ? initializeUploadSchema.safeParse(init.json) : undefined;
    if (!parsed?.success) throw classifyLinkedInError(init, "media", now());
    const uploadUrl = new URL(parsed.data.value.uploadUrl);
    if (!isTrustedUploadUrl(uploadUrl)) {
      throw new PlatformError("media_error", `LinkedIn returned an upload URL on an unexpected host (${uploadUrl.host})`);
    }
    const put = await http.request({
      method: "PUT",
      url: uploadUrl,
      body: media.bytes,
      headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/octet-stream" },
    });
    if (!put.ok) throw classifyLinkedInError(put, "media", now());
    return parsed.data.value.image;
  }

  /** A post rejected for its media: the image's own status tells "still processing" from "failed". */
  async function mediaFailure(accessToken: string, imageUrn: string, original: PlatformError): Promise<PlatformError> {
    const res = await http
      .request({ url: api(`/rest/images/${encodeURIComponent(imageUrn)}`), headers: rest(accessToken) })
      .catch(() => undefined);
    const parsed = res?.ok ? imageStatusSchema.safeParse(res.json) : undefined;
    const status = parsed?.success ? parsed.data.status : undefined;
    if (status === "PROCESSING" || status === "WAITING_UPLOAD") {
      return new PlatformError("media_processing", `LinkedIn image ${imageUrn} is ${status}`, { ...original.details, platformCode: status });
    }
    return original;
  }

  /** A LinkedIn answer to a metrics call: the parsed body, or a PlatformError (404: the post is gone → undefined). */
  async function readJson<T>(url: string, accessToken: string, schema: z.ZodType<T>): Promise<T | undefined> {
    const res = await http.request({ url: api(url), headers: rest(accessToken) });
    if (res.status === 404) return undefined;
    if (!res.ok) throw classifyLinkedInError(res, "api", now());
    const parsed = schema.safeParse(res.json);
    if (!parsed.success) throw invalidResponse("LinkedIn", res.status, parsed.error);
    return parsed.data;
  }

  /**
   * A member's own post: memberCreatorPostAnalytics with the `entity` finder, one call per count (LinkedIn takes one
   * `queryType` per call), `aggregation=TOTAL` for the lifetime count. Needs r_member_postAnalytics.
   */
  async function memberPost(accessToken: string, urn: string): Promise<PostMetricsResult> {
    const kind = postKind(urn);
    if (!kind) return unavailable(urn, `LinkedIn has no analytics for ${urn}: not a share or ugcPost`);
    const counts: Record<string, number | null> = {};
    const raw: Record<string, unknown> = {};
    for (const [queryType, metric] of Object.entries(memberPostQueryTypes)) {
      const body = await readJson(
        `/rest/memberCreatorPostAnalytics?q=entity&entity=(${kind}:${restliUrn(urn)})&queryType=${queryType}&aggregation=TOTAL`,
        accessToken,
        memberAnalyticsSchema,
      );
      if (!body) return unavailable(urn, "LinkedIn has no such post (deleted)");
      const values = body.elements.map((e) => count(e.count));
      counts[metric] = values.length && values.every((v) => v !== null) ? values.reduce((a, b) => a! + b!, 0) : null;
      raw[queryType] = body.elements.length ? body.elements.map((e) => e.count) : null;
    }
    return measured(urn, counts, raw);
  }

  /**
   * An organization's posts: organic lifetime statistics of up to 20 posts per organizationalEntityShareStatistics
   * call (`shares=List(…)` and `ugcPosts=List(…)`, no `timeIntervals`; needs rw_organization_admin, the member an
   * ADMINISTRATOR of the page), then each post's socialActions summary for its current likes and comments
   * (r_organization_social): they count every like and every comment including replies, where the statistics may lag.
   */
  async function organizationPosts(accessToken: string, organization: string, urns: string[]): Promise<PostMetricsResult[]> {
    const results = new Map<string, PostMetricsResult>();
    const known = urns.filter((u) => postKind(u));
    for (const urn of urns) if (!postKind(urn)) results.set(urn, unavailable(urn, `LinkedIn has no statistics for ${urn}: not a share or ugcPost`));
    for (const batch of chunks(known, SHARE_STATISTICS_BATCH)) {
      const shares = batch.filter((u) => postKind(u) === "share").map(restliUrn);
      const ugcPosts = batch.filter((u) => postKind(u) === "ugcPost").map(restliUrn);
      let url = `/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=${restliUrn(organization)}`;
      if (shares.length) url += `&shares=List(${shares.join(",")})`;
      if (ugcPosts.length) url += `&ugcPosts=List(${ugcPosts.join(",")})`;
      const body = await readJson(url, accessToken, shareStatisticsSchema);
      const byUrn = new Map((body?.elements ?? []).map((e) => [e.share ?? e.ugcPost ?? "", e.totalShareStatistics]));
      for (const urn of batch) {
        const stats = byUrn.get(urn);
        if (!stats) {
          results.set(urn, unavailable(urn, "LinkedIn has no statistics for this post (deleted, not the organization's, or older than 12 months)"));
          continue;
        }
        const social = await readJson(`/rest/socialActions/${encodeURIComponent(urn)}`, accessToken, socialActionsSchema);
        const likes = count(social?.likesSummary?.totalLikes) ?? count(stats.likeCount);
        const comments = count(social?.commentsSummary?.aggregatedTotalComments) ?? count(stats.commentCount);
        results.set(
          urn,
          measured(
            urn,
            {
              impressions: count(stats.impressionCount),
              reach: count(stats.uniqueImpressionsCount),
              clicks: count(stats.clickCount),
              likes,
              comments,
              shares: count(stats.shareCount),
            },
            { totalShareStatistics: stats, socialActions: social ?? null },
          ),
        );
      }
    }
    return urns.map((u) => results.get(u)!);
  }

  const metrics: MetricsCapability = {
    async posts(request) {
      const owner = authorUrn(request.account.externalAccountId);
      const urns = request.posts.map((p) => p.externalPostId);
      if (owner.startsWith("urn:li:organization:")) return organizationPosts(request.accessToken, owner, urns);
      const results: PostMetricsResult[] = [];
      for (const urn of urns) results.push(await memberPost(request.accessToken, urn));
      return results;
    },
  };

  return {
    platform: "linkedin",
    settingsSchema: z.object({}),
    metrics,

    authorizeUrl: oauth.authorizeUrl,
    exchangeCode: oauth.exchangeCode,
    refresh: oauth.refresh,

    async getAccount(accessToken): Promise<AccountInfo> {
      const res = await http.request({ url: api("/v2/userinfo"), headers: { authorization: `Bearer ${accessToken}` } });
      const parsed = res.ok ? userinfoSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyLinkedInError(res, "api", now());
      const member = parsed.data;
      return {
        externalAccountId: `urn:li:person:${member.sub}`,
        username: member.name ?? member.sub,
        displayName: member.name,
        avatarUrl: member.picture,
        metadata: { sub: member.sub, accountType: "member", ...(member.email ? { email: member.email } : {}) },
      };
    },

    async publish(request: PublishRequest): Promise<PublishOutcome> {
      if (request.media.length > 1) throw new PlatformError("media_error", "LinkedIn adapter publishes one image per post");
      const author = authorUrn(request.account.externalAccountId);
      const [item] = request.media;
      const imageUrn = item ? await uploadImage(request.accessToken, author, item) : undefined;
      const body: Record<string, unknown> = {
        author,
        commentary: escapeLittleText(request.text),
        visibility: "PUBLIC",
        distribution: { feedDistribution: "MAIN_FEED", targetEntities: [], thirdPartyDistributionChannels: [] },
        lifecycleState: "PUBLISHED",
        isReshareDisabledByAuthor: false,
      };
      if (imageUrn) body.content = { media: { id: imageUrn } };
      const res = await http.request({ method: "POST", url: api("/rest/posts"), json: body, headers: rest(request.accessToken) });
      const postUrn = res.headers.get("x-restli-id") ?? res.headers.get("x-linkedin-id");
      if (res.status === 201 && postUrn) {
        return { status: "published", externalPostId: postUrn, url: `https://www.linkedin.com/feed/update/${postUrn}` };
      }
      if (res.ok) throw new PlatformError("unknown", `LinkedIn answered ${res.status} without an x-restli-id header`, { status: res.status });
      const error = classifyLinkedInError(res, "api", now());
      if (error.category === "media_error" && imageUrn) throw await mediaFailure(request.accessToken, imageUrn, error);
      throw error;
    },

    async checkStatus() {
      throw new PlatformError("unknown", "LinkedIn publishes text and images synchronously: there is no processing state to check");
    },
  };
}

/** A member is stored as `urn:li:person:<sub>`; an organization page would be `urn:li:organization:<id>`. */
function authorUrn(externalAccountId: string): string {
  return externalAccountId.startsWith("urn:li:") ? externalAccountId : `urn:li:person:${externalAccountId}`;
}

/**
 * Commentary is LinkedIn "little text": these characters are markup and must be backslash-escaped to appear as
 * written (otherwise the text is cut or misread).
 */
export function escapeLittleText(text: string): string {
  return text.replace(/[\\|{}@[\]()<>#*_~]/g, (c) => `\\${c}`);
}

/**
 * Classifies a LinkedIn answer from its status, `serviceErrorCode` and input-error codes: 401 or service codes
 * 65600/65601/65602 → auth_error; 403 ACCESS_DENIED (missing permission; reconnecting with the scope fixes it) →
 * auth_error; 429 → rate_limited (LinkedIn's quotas are daily and it sends no reset header; `Retry-After` is used if
 * present); 5xx → network_error; input error DUPLICATE_POST → duplicate; an input error on the media field, or any
 * failure of a media call → media_error; the rest (including 426 for a retired version) → unknown.
 */
export function classifyLinkedInError(res: HttpResponse, context: Context, now: Date): PlatformError {
  const status = res.status;
  const parsed = errorSchema.safeParse(res.json);
  const body: LinkedInErrorBody = parsed.success ? parsed.data : {};
  const inputErrors = body.errorDetails?.inputErrors ?? [];
  const platformCode =
    body.serviceErrorCode !== undefined ? String(body.serviceErrorCode) : (body.code ?? inputErrors.find((e) => e.code)?.code);
  const what = context === "media" ? "LinkedIn media upload" : "LinkedIn";
  const detail = excerpt(body.message ?? inputErrors[0]?.description);
  const message = `${what} answered ${status}${detail ? `: ${detail}` : ""}`;
  const details = { status, platformCode };

  if (status === 401 || (body.serviceErrorCode !== undefined && AUTH_SERVICE_CODES.has(body.serviceErrorCode))) {
    return new PlatformError("auth_error", message, details);
  }
  if (status === 403 && body.code === "ACCESS_DENIED") return new PlatformError("auth_error", message, details);
  if (status === 429) return new PlatformError("rate_limited", message, { ...details, retryAfterSeconds: retryAfterHeader(res.headers, now) });
  if (status >= 500) return new PlatformError("network_error", message, details);
  if (inputErrors.some((e) => e.code === DUPLICATE_INPUT_CODE)) return new PlatformError("duplicate", message, { status, platformCode: DUPLICATE_INPUT_CODE });
  const mediaField = inputErrors.some((e) => e.input?.inputPath?.fieldPath?.startsWith("/content/media"));
  if (context === "media" || mediaField) return new PlatformError("media_error", message, details);
  return new PlatformError("unknown", message, details);
}
