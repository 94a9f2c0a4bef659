import { z } from "zod";
import { count, sum } from "../analytics/model.js";
import { measured, unavailable } from "./metrics.js";
import { catalog } from "./catalog.js";
import { mediaKind, metaProductAdapter, scopeList, type ContainerStatus } from "./meta-graph.js";
import { baseUrls } from "./oauth.js";
import { PlatformError, type AccountInfo, type AdapterConfig, type ConnectionTraits, type MetricsCapability, type PlatformAdapter, type PostMetricsResult, type PublishRequest } from "./types.js";
import { threadsHosts, threadsConnection } from "./facts.js";

// Static facts about the network (hosts, connection traits) live in facts.ts, which the registry loads without this module.
export { threadsHosts, threadsConnection };

/**
 * Threads adapter: consent on threads.net with the Threads app's id (not the Meta
 * app's), the code exchanged on graph.threads.net for a short-lived token (1 h) and that for a long-lived one (60
 * days), refreshed with itself while valid (`refresh_access_token`): it doubles as the connection's refresh token.
 *
 * Publishing is the container flow (`/{user}/threads` → status → `/{user}/threads_publish`) for text, one image or one
 * video; Meta downloads the media from its public URL itself. No PKCE.
 */

export const THREADS_API_VERSION = "v1.0";

export const threadsLimits = {
  textMaxChars: 500,
  imageTypes: ["image/jpeg", "image/png"],
  videoTypes: ["video/mp4", "video/quicktime"],
} as const;

export const threadsSettingsSchema = z.object({
  /** Who can reply to the connection's posts (Threads' default: everyone). */
  replyControl: z.enum(["everyone", "accounts_you_follow", "mentioned_only"]).optional(),
});

const shortLivedSchema = z.object({
  access_token: z.string().min(1),
  user_id: z.union([z.string(), z.number()]).optional(),
  permissions: z.unknown().optional(),
  scope: z.unknown().optional(),
});
const meSchema = z.object({ id: z.string(), username: z.string(), name: z.string().optional(), threads_profile_picture_url: z.string().optional() });
const containerStatusSchema = z.object({
  status: z.enum(["IN_PROGRESS", "FINISHED", "PUBLISHED", "ERROR", "EXPIRED"]),
  error_message: z.string().optional(),
});

const SERVICE = "Threads";

export function createThreadsAdapter(config: AdapterConfig): PlatformAdapter {
  const { api, auth } = baseUrls(config, threadsHosts);
  const meta = metaProductAdapter(config, {
    service: SERVICE,
    version: THREADS_API_VERSION,
    urls: { authorize: auth("/oauth/authorize"), codeToken: api("/oauth/access_token"), api: api("") },
    login: {
      grants: { exchange: "th_exchange_token", refresh: "th_refresh_token" },
      readShortLived(body) {
        const parsed = shortLivedSchema.safeParse(body);
        if (!parsed.success) return undefined;
        return { accessToken: parsed.data.access_token, scopes: scopeList(parsed.data.permissions) ?? scopeList(parsed.data.scope) };
      },
      // The answer names no permissions: consent grants what was asked, and the adapter always asks the catalog's.
      defaultScopes: catalog.threads.scopes,
    },
    container: {
      createEdge: "threads",
      publishEdge: "threads_publish",
      textField: "text",
      statusFields: "status,error_message",
      readStatus(body) {
        const parsed = containerStatusSchema.safeParse(body);
        return parsed.success ? { status: parsed.data.status as ContainerStatus, detail: parsed.data.error_message } : undefined;
      },
      containerParams,
    },
  });

  const metrics: MetricsCapability = {
    async posts(request) {
      const results: PostMetricsResult[] = [];
      for (const post of request.posts) {
        const got = await meta.insights(request.accessToken, post.externalPostId, "views,likes,replies,reposts,quotes,shares");
        if ("unavailable" in got) {
          results.push(unavailable(post.externalPostId, got.unavailable));
          continue;
        }
        const v = got.values;
        results.push(
          measured(
            post.externalPostId,
            {
              impressions: count(v.views),
              likes: count(v.likes),
              comments: count(v.replies),
              shares: sum(count(v.reposts), count(v.quotes), count(v.shares)),
            },
            got.raw,
          ),
        );
      }
      return results;
    },
    async account(request) {
      const got = await meta.insights(request.accessToken, request.account.externalAccountId, "followers_count", "threads_insights");
      if ("unavailable" in got) return { followers: null, raw: { unavailable: got.unavailable } };
      return { followers: count(got.values.followers_count), raw: got.raw };
    },
  };

  return {
    platform: "threads",
    settingsSchema: threadsSettingsSchema,
    ...meta.methods,
    metrics,

    async getAccount(accessToken): Promise<AccountInfo> {
      const me = await meta.me(accessToken, "id,username,name,threads_profile_picture_url", meSchema);
      return { externalAccountId: me.id, username: me.username, displayName: me.name, avatarUrl: me.threads_profile_picture_url };
    },
  };
}

/** Text alone, or text with one JPEG/PNG image or one MP4/MOV video. */
function containerParams(request: PublishRequest): Record<string, string> {
  if (request.media.length > 1) throw new PlatformError("media_error", "Threads publishing takes one image or one video per post");
  const settings = threadsSettingsSchema.safeParse(request.settings);
  const common: Record<string, string> = { text: request.text };
  if (settings.success && settings.data.replyControl) common.reply_control = settings.data.replyControl;
  const item = request.media[0];
  if (!item) return { media_type: "TEXT", ...common };
  const type = item.mimeType.toLowerCase();
  if (mediaKind(type) === "image" && (threadsLimits.imageTypes as readonly string[]).includes(type)) {
    return { media_type: "IMAGE", image_url: item.url, ...common };
  }
  if (mediaKind(type) === "video" && (threadsLimits.videoTypes as readonly string[]).includes(type)) {
    return { media_type: "VIDEO", video_url: item.url, ...common };
  }
  throw new PlatformError("media_error", `Threads publishes JPEG or PNG images and MP4 or MOV videos, not ${item.mimeType}`);
}
