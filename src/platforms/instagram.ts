import { z } from "zod";
import { connectScopes, count, sum } from "../analytics/model.js";
import { measured, unavailable } from "./metrics.js";
import { mediaKind, metaProductAdapter, scopeList, type ContainerStatus } from "./meta-graph.js";
import { baseUrls } from "./oauth.js";
import { PlatformError, type AccountInfo, type AdapterConfig, type ConnectionTraits, type MetricsCapability, type PlatformAdapter, type PostMetricsResult, type PublishRequest } from "./types.js";
import { instagramHosts, instagramConnection } from "./facts.js";

// Static facts about the network (hosts, connection traits) live in facts.ts, which the registry loads without this module.
export { instagramHosts, instagramConnection };

/**
 * Instagram adapter: the Instagram API with Instagram Login (Business Login for Instagram), for professional
 * (business or creator) accounts, without a Facebook Page.
 *
 * Consent on www.instagram.com; the code is exchanged on api.instagram.com for a short-lived token (1 h), which is
 * exchanged on graph.instagram.com for a long-lived one (60 days). There is no refresh token: the long-lived token is
 * refreshed with itself while valid (`refresh_access_token`), so it doubles as the connection's refresh token.
 *
 * Publishing is the container flow (`/{ig-user-id}/media` → status → `/{ig-user-id}/media_publish`): a JPEG image, or
 * a video published as a reel. Meta downloads the media from its public URL itself. No PKCE: neither flow uses it.
 */

/** Graph API version (each lives about two years; keep it current). */
export const INSTAGRAM_GRAPH_VERSION = "v24.0";

export const instagramLimits = {
  captionMaxChars: 2200,
  /** Instagram documents JPEG as the only image format for publishing. */
  imageTypes: ["image/jpeg"],
  videoTypes: ["video/mp4", "video/quicktime"],
} as const;

/** Account types as `GET /me?fields=account_type` reports them; only professional accounts can publish. */
export const professionalAccountTypes: ReadonlySet<string> = new Set(["BUSINESS", "MEDIA_CREATOR"]);

export const instagramSettingsSchema = z.object({
  /** Reels also appear in the profile's main feed (Instagram's default). */
  shareReelsToFeed: z.boolean().optional(),
});

const shortLivedSchema = z.object({ access_token: z.string().min(1), user_id: z.union([z.string(), z.number()]).optional(), permissions: z.unknown().optional() });
/** Business Login documents the answer wrapped in `data: [...]`; older docs and clients show it flat. Both are read. */
const shortLivedAnswerSchema = z.union([z.object({ data: z.array(shortLivedSchema).min(1) }), shortLivedSchema]);
const meSchema = z.object({
  id: z.string(),
  user_id: z.union([z.string(), z.number()]).optional(),
  username: z.string(),
  name: z.string().optional(),
  account_type: z.string().optional(),
  profile_picture_url: z.string().optional(),
});
const containerStatusSchema = z.object({ status_code: z.enum(["IN_PROGRESS", "FINISHED", "PUBLISHED", "ERROR", "EXPIRED"]), status: z.string().optional() });

const SERVICE = "Instagram";

const followersSchema = z.looseObject({ followers_count: z.unknown().optional(), follows_count: z.unknown().optional(), media_count: z.unknown().optional() });

export function createInstagramAdapter(config: AdapterConfig): PlatformAdapter {
  const { api, auth, token } = baseUrls(config, instagramHosts);
  const meta = metaProductAdapter(config, {
    service: SERVICE,
    version: INSTAGRAM_GRAPH_VERSION,
    urls: { authorize: auth("/oauth/authorize"), codeToken: token("/oauth/access_token"), api: api("") },
    login: {
      grants: { exchange: "ig_exchange_token", refresh: "ig_refresh_token" },
      readShortLived(body) {
        const parsed = shortLivedAnswerSchema.safeParse(body);
        if (!parsed.success) return undefined;
        const short = "data" in parsed.data ? parsed.data.data[0]! : parsed.data;
        return { accessToken: short.access_token, scopes: scopeList(short.permissions) };
      },
      defaultScopes: [],
    },
    container: {
      createEdge: "media",
      publishEdge: "media_publish",
      textField: "caption",
      statusFields: "status_code,status",
      readStatus(body) {
        const parsed = containerStatusSchema.safeParse(body);
        return parsed.success ? { status: parsed.data.status_code as ContainerStatus, detail: parsed.data.status } : undefined;
      },
      containerParams,
    },
  });

  const metrics: MetricsCapability = {
    async posts(request) {
      const results: PostMetricsResult[] = [];
      // One insights call per media (Graph has no batch for them); `impressions` is gone since v22: views replaces it.
      for (const post of request.posts) {
        const got = await meta.insights(request.accessToken, post.externalPostId, "views,reach,likes,comments,shares,saved,total_interactions");
        if ("unavailable" in got) {
          results.push(unavailable(post.externalPostId, got.unavailable));
          continue;
        }
        const v = got.values;
        results.push(
          measured(
            post.externalPostId,
            { impressions: count(v.views), reach: count(v.reach), likes: count(v.likes), comments: count(v.comments), shares: count(v.shares), saves: count(v.saved) },
            got.raw,
          ),
        );
      }
      return results;
    },
    async account(request) {
      const me = await meta.me(request.accessToken, "user_id,followers_count,follows_count,media_count", followersSchema);
      return { followers: count(me.followers_count), raw: { followers_count: me.followers_count, follows_count: me.follows_count, media_count: me.media_count } };
    },
  };

  return {
    platform: "instagram",
    settingsSchema: instagramSettingsSchema,
    ...meta.methods,
    metrics,

    async getAccount(accessToken): Promise<AccountInfo> {
      const me = await meta.me(accessToken, "user_id,username,name,account_type,profile_picture_url", meSchema);
      const accountType = me.account_type?.toUpperCase();
      return {
        // The professional account's id is what /{ig-user-id}/media takes; `id` is the app-scoped user id.
        externalAccountId: String(me.user_id ?? me.id),
        username: me.username,
        displayName: me.name,
        avatarUrl: me.profile_picture_url,
        metadata: {
          ...(accountType ? { accountType } : {}),
          professional: accountType === undefined ? null : professionalAccountTypes.has(accountType),
          appScopedUserId: me.id,
        },
      };
    },
  };
}

/** One JPEG image, or one video published as a reel; the post text is the caption. */
function containerParams(request: PublishRequest): Record<string, string> {
  if (request.media.length === 0) throw new PlatformError("media_error", "Instagram needs an image or a video to publish");
  if (request.media.length > 1) throw new PlatformError("media_error", "Instagram publishing takes one image or one video per post");
  const item = request.media[0]!;
  const type = item.mimeType.toLowerCase();
  const settings = instagramSettingsSchema.safeParse(request.settings);
  const caption = request.text;
  if (mediaKind(type) === "image") {
    if (!(instagramLimits.imageTypes as readonly string[]).includes(type)) {
      throw new PlatformError("media_error", `Instagram publishes JPEG images only, not ${item.mimeType}`);
    }
    return { image_url: item.url, caption };
  }
  if (mediaKind(type) === "video") {
    if (!(instagramLimits.videoTypes as readonly string[]).includes(type)) {
      throw new PlatformError("media_error", `Instagram publishes MP4 or MOV videos only, not ${item.mimeType}`);
    }
    const shareToFeed = settings.success ? (settings.data.shareReelsToFeed ?? true) : true;
    return { media_type: "REELS", video_url: item.url, caption, share_to_feed: String(shareToFeed) };
  }
  throw new PlatformError("media_error", `Instagram cannot publish ${item.mimeType}`);
}
