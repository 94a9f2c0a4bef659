import { registeredClients } from "./clients.js";
import { accountById, htmlPage, json, type NetworkHandler, type SandboxContext } from "./common.js";
import {
  createMetaSandbox,
  graphError,
  graphId,
  pick,
  setAccountType,
  shortcodeOf,
  minutesUntil,
  usagePercent,
  type ContainerRow,
  type MetaDialect,
} from "./meta-graph.js";

/**
 * The Instagram sandbox (Instagram API with Instagram Login), at the paths the adapter
 * calls on www.instagram.com, api.instagram.com and graph.instagram.com:
 *
 *   GET  /oauth/authorize                          consent (no PKCE), approves at once; `sandbox_account_type=
 *                                                  personal|business|creator` signs in with that account type
 *   POST /oauth/access_token                       code → short-lived token `{access_token, user_id, permissions}`;
 *                                                  errors in api.instagram.com's `{error_type, code, error_message}`
 *   GET  /access_token?grant_type=ig_exchange_token     short-lived → long-lived (60 days)
 *   GET  /refresh_access_token?grant_type=ig_refresh_token   a live long-lived token → a new one (the old one
 *                                                  stays valid; the real API also wants it at least 24 h old)
 *   GET  /v<NN>.0/me                               the account (`user_id`, `username`, `account_type`, …)
 *   POST /v<NN>.0/<ig-user-id>/media               a container: `image_url` (JPEG, aspect 4:5–1.91:1, ≤ 8 MiB) or
 *                                                  `media_type=REELS` + `video_url` (MP4/MOV); the media is downloaded
 *   GET  /v<NN>.0/<container-id>?fields=status_code,status   images are FINISHED at once, video after 3 reads
 *   POST /v<NN>.0/<ig-user-id>/media_publish       `creation_id` → `{id}`; not finished → 9007/2207027
 *   GET  /v<NN>.0/<media-id>?fields=permalink,…    a published post; `GET /<ig-user-id>/media` lists them
 *   GET  /v<NN>.0/<ig-user-id>/content_publishing_limit   100 posts per rolling 24 h (code 9 / 2207042 past it)
 *
 * Errors use the Graph envelope; every authenticated answer carries `X-Business-Use-Case-Usage` for the account's
 * 200-calls-per-hour window, and a spent window is code 80002 with `estimated_time_to_regain_access`. A personal
 * account cannot publish (code 10, "The user is not an Instagram Business").
 *
 * Failure injection by caption (`[sandbox:<category>]`, see index.ts): rate_limited → 80002 with the window reset a
 * minute ahead; auth_error → 190/463; network_error → 500 code 2 (transient); unknown → 2207051 (restricted action);
 * duplicate → 506 at media_publish; media_error → the container's status turns ERROR once processed (at the first read
 * for an image, after three for a reel); media_processing → the container never leaves IN_PROGRESS (and media_publish
 * answers 9007/2207027). A reel whose video cannot be fetched or read also ends in ERROR (2207077, 2207026).
 *
 * Extra control endpoint: POST /__sandbox/accounts/<ig-user-id>/account-type?type=PERSONAL|BUSINESS|MEDIA_CREATOR.
 */

const NETWORK = "instagram";

export const instagramSandboxConfig = {
  codeSeconds: 3600,
  shortTokenSeconds: 3600,
  longTokenSeconds: 60 * 24 * 3600,
  callsPerHour: 200,
  postsPerDay: 100,
  videoReadyPolls: 3,
  captionMaxChars: 2200,
  imageMaxBytes: 8 * 1024 * 1024,
  videoMaxBytes: 300 * 1024 * 1024,
  /** Feed images: 4:5 (portrait) to 1.91:1 (landscape). */
  minAspectRatio: 4 / 5,
  maxAspectRatio: 1.91,
  scopes: new Set([
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
    "instagram_business_manage_messages",
    "instagram_business_manage_insights",
  ]),
} as const;

const accountTypes: Record<string, string> = { personal: "PERSONAL", business: "BUSINESS", creator: "MEDIA_CREATOR" };
const knownAccountTypes = new Set(Object.values(accountTypes));

/** api.instagram.com's own error shape for the code exchange. */
const legacyError = (message: string) => json(400, { error_type: "OAuthException", code: 400, error_message: message });

const statusText: Record<string, string> = {
  FINISHED: "Finished: Media has been uploaded and it is ready to be published.",
  IN_PROGRESS: "In Progress: Media is still being processed.",
  PUBLISHED: "Published: Media has been successfully published.",
  EXPIRED: "Expired: Media was not published within 24 hours.",
};

const timestamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "+0000");

export function createInstagramSandbox(ctx: SandboxContext): NetworkHandler {
  const c = instagramSandboxConfig;
  const clients = registeredClients("instagram");
  const bucHeader = (accountId: string, callCount: number, minutes: number) => ({
    "x-business-use-case-usage": JSON.stringify({
      [accountId]: [{ type: "instagram", call_count: callCount, total_cputime: 1, total_time: 1, estimated_time_to_regain_access: minutes }],
    }),
  });

  const dialect: MetaDialect = {
    network: NETWORK,
    clients,
    consent: {
      denial: { error: "access_denied", error_reason: "user_denied", error_description: "The user denied your request." },
      newAccount: (username) => ({ id: graphId("1784"), name: `Sandbox ${username}` }),
      errorPage: (message) => htmlPage(400, "Instagram", `Sorry, this page isn't available. ${message}`),
    },
    versionPattern: /^\/v\d+\.\d+(\/.*)?$/,
    scopes: { publish: "instagram_business_content_publish" },
    createEdge: "media",
    publishEdge: "media_publish",
    limitEdge: "content_publishing_limit",
    textField: "caption",
    exchangeGrant: "ig_exchange_token",
    refreshGrant: "ig_refresh_token",
    tokenPrefix: "IGAA",
    limits: c,
    textLength: (text) => [...text].length,
    textMaxChars: c.captionMaxChars,

    shortLivedToken(_params, result) {
      if (!result.ok) {
        if (result.reason === "client") return legacyError("Invalid platform app");
        if (result.reason === "grant_type") return legacyError("Invalid grant_type");
        return legacyError("Matching code was not found or was already used");
      }
      const grant = result.grant;
      return json(200, { access_token: grant.token, user_id: grant.account_id, permissions: grant.scopes.join(",") });
    },

    refuseAccount(account) {
      if (account.account_type !== "PERSONAL") return undefined;
      return graphError(400, {
        message: "(#10) The user is not an Instagram Business",
        code: 10,
        userTitle: "Professional account required",
        userMessage: "Switch this account to a business or creator account to publish through the API.",
      });
    },

    containerRequest(params) {
      const type = params.get("media_type") ?? "IMAGE";
      if (type === "IMAGE") {
        const url = params.get("image_url");
        return url ? { kind: "IMAGE", sourceUrl: url } : graphError(400, { message: "(#100) The parameter image_url is required.", code: 100 });
      }
      if (type === "REELS") {
        const url = params.get("video_url");
        return url ? { kind: "VIDEO", sourceUrl: url } : graphError(400, { message: "(#100) The parameter video_url is required.", code: 100 });
      }
      if (type === "VIDEO" && params.get("is_carousel_item") !== "true") {
        return graphError(400, {
          message: "The video media type is only available for carousel items; publish single videos as REELS.",
          code: 100,
          subcode: 2207023,
          userTitle: "Unknown media type",
        });
      }
      return graphError(400, { message: `(#100) media_type ${type} is not emulated by the sandbox`, code: 100 });
    },

    refuseImage(image) {
      if (image.mimeType !== "image/jpeg") {
        return graphError(400, {
          message: "Unsupported image format",
          code: 9004,
          subcode: 2207005,
          userTitle: "Unsupported format",
          userMessage: "The image format is not supported. Supported formats: JPEG.",
        });
      }
      if (image.width && image.height) {
        const ratio = image.width / image.height;
        if (ratio < c.minAspectRatio || ratio > c.maxAspectRatio) {
          return graphError(400, {
            message: "The aspect ratio is not supported.",
            code: 36003,
            subcode: 2207009,
            userTitle: "Invalid aspect ratio",
            userMessage: "The submitted image with aspect ratio is out of range (4:5 to 1.91:1).",
          });
        }
      }
      return undefined;
    },

    textTooLong: () => graphError(400, { message: `(#100) Param caption must be at most ${c.captionMaxChars} characters long.`, code: 100, subcode: 2207010 }),
    fetchFailed: (url) =>
      graphError(400, {
        message: "Only photo or video can be accepted as media type.",
        code: 9004,
        subcode: 2207052,
        userTitle: "Media download has failed.",
        userMessage: `The media could not be fetched from this uri: ${url}`,
      }),
    imageTooLarge: () =>
      graphError(400, { message: "The image is too large to download. It should be less than 8 MiB.", code: 9004, subcode: 2207004, userTitle: "Image is too large" }),

    processingError(_kind, reason) {
      if (reason === "download") return "Error: Media download has failed. The media could not be fetched from this uri (2207077)";
      if (reason === "format") return "Error: The video format is not supported. Please check the spec for supported video formats (2207026)";
      return "Error: Media upload has failed with error code 2207053";
    },

    renderContainer(row: ContainerRow, fields) {
      return pick({ id: row.id, status_code: row.state, status: row.state === "ERROR" ? row.error_detail : statusText[row.state] }, fields);
    },

    renderMe(account, fields) {
      return pick(
        {
          // `id` is the app-scoped user id; `user_id` the professional account's id, which the content endpoints take.
          id: `9${account.id.slice(1)}`,
          user_id: account.id,
          username: account.username,
          name: account.name,
          account_type: account.account_type ?? "BUSINESS",
          profile_picture_url: `https://scontent.cdninstagram.com/v/sandbox/${account.id}.jpg`,
          followers_count: 0,
          media_count: 0,
        },
        fields,
      );
    },

    renderPost(post, account, fields) {
      const reel = post.media[0]?.kind === "VIDEO";
      const shortcode = shortcodeOf(post.id);
      return pick(
        {
          id: post.id,
          caption: post.text,
          media_type: reel ? "VIDEO" : "IMAGE",
          media_product_type: reel ? "REELS" : "FEED",
          permalink: `https://www.instagram.com/${reel ? "reel" : "p"}/${shortcode}/`,
          shortcode,
          timestamp: timestamp(post.created_at),
          username: account.username,
          like_count: 0,
          comments_count: 0,
        },
        fields,
      );
    },

    usageHeaders: (accountId, window) => bucHeader(accountId, usagePercent(window), 0),
    throttled: (accountId, window) =>
      graphError(
        400,
        { message: "There have been too many calls to this Instagram account. Wait a bit and try again.", code: 80002 },
        bucHeader(accountId, 100, minutesUntil(window, ctx.now())),
      ),
    quotaReached: () =>
      graphError(400, {
        message: "Application request limit reached",
        code: 9,
        subcode: 2207042,
        userTitle: "Max. number of posts reached",
        userMessage: `The account has reached its limit of ${c.postsPerDay} API-published posts in 24 hours.`,
      }),
    restricted: () =>
      graphError(400, {
        message: "(#100) The action is restricted",
        code: 100,
        subcode: 2207051,
        userTitle: "Action is blocked",
        userMessage: "We restrict certain activity to protect our community. Let us know if you think we made a mistake.",
      }),

    async afterConsent(url, accountId) {
      const asked = url.searchParams.get("sandbox_account_type");
      const type = asked ? accountTypes[asked.toLowerCase()] : undefined;
      await setAccountType(ctx, NETWORK, accountId, type ?? "BUSINESS", type === undefined);
    },

    controls: {
      "POST /accounts/:accountId/account-type": async (req, params) => {
        const accountId = params.accountId!;
        const type = (new URL(req.url).searchParams.get("type") ?? "").toUpperCase();
        if (!knownAccountTypes.has(type)) return json(400, { error: `type must be one of ${[...knownAccountTypes].join(", ")}` });
        if (!(await accountById(ctx, NETWORK, accountId))) return json(404, { error: `no ${NETWORK} sandbox account ${accountId}` });
        await setAccountType(ctx, NETWORK, accountId, type);
        return json(200, { accountId, accountType: type });
      },
    },
  };

  return createMetaSandbox(ctx, dialect);
}
