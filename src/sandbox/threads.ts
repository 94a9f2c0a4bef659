import { registeredClients } from "./clients.js";
import { htmlPage, json, type NetworkHandler, type SandboxContext } from "./common.js";
import { createMetaSandbox, graphError, graphId, pick, shortcodeOf, usagePercent, type ContainerRow, type MetaDialect } from "./meta-graph.js";

/**
 * The Threads sandbox, at the paths the adapter calls on threads.net and
 * graph.threads.net:
 *
 *   GET  /oauth/authorize                          consent (no PKCE), approves at once
 *   POST /oauth/access_token                       code → short-lived token `{access_token, user_id}` (parameters in
 *                                                  the query or the form, as Threads accepts both)
 *   GET  /access_token?grant_type=th_exchange_token        short-lived → long-lived (60 days)
 *   GET  /refresh_access_token?grant_type=th_refresh_token a live long-lived token → a new one (the old one stays
 *                                                  valid; the real API also wants it at least 24 h old)
 *   GET  /v1.0/me                                  the profile
 *   POST /v1.0/<user-id>/threads                   a container: `media_type=TEXT|IMAGE|VIDEO`, `text` (≤ 500, emoji
 *                                                  counted in UTF-8 bytes), `image_url` (JPEG/PNG ≤ 8 MiB, aspect
 *                                                  ≤ 10:1) or `video_url` (MP4/MOV); the media is downloaded
 *   GET  /v1.0/<container-id>?fields=status,error_message   text and images FINISHED at once, video after 3 reads
 *   POST /v1.0/<user-id>/threads_publish           `creation_id` → `{id}`; not finished → 9007/2207027
 *   GET  /v1.0/<media-id>?fields=permalink,…       a published post; `GET /<user-id>/threads` lists them
 *   GET  /v1.0/<user-id>/threads_publishing_limit  250 posts per rolling 24 h
 *
 * Errors use the Graph envelope; every authenticated answer carries `X-App-Usage` (percentages, no reset time) for
 * the profile's hourly call window, and a spent window is code 17.
 *
 * Failure injection by text (`[sandbox:<category>]`, see index.ts): rate_limited → code 17; auth_error → 190/463;
 * network_error → 500 code 2 (transient); unknown → 4279013 (restricted user); duplicate → 506 at threads_publish;
 * media_error → the container's status turns ERROR once processed; media_processing → it never leaves IN_PROGRESS. A
 * video that cannot be fetched or read also ends in ERROR (FAILED_DOWNLOADING_VIDEO, FAILED_PROCESSING_VIDEO).
 */

const NETWORK = "threads";

export const threadsSandboxConfig = {
  codeSeconds: 3600,
  shortTokenSeconds: 3600,
  longTokenSeconds: 5_183_944,
  callsPerHour: 1000,
  postsPerDay: 250,
  videoReadyPolls: 3,
  textMaxChars: 500,
  imageMaxBytes: 8 * 1024 * 1024,
  videoMaxBytes: 1024 * 1024 * 1024,
  maxAspectRatio: 10,
  scopes: new Set(["threads_basic", "threads_content_publish", "threads_manage_replies", "threads_read_replies", "threads_manage_insights"]),
} as const;

/** Threads counts text in characters, except emoji, which count their UTF-8 bytes. */
export function threadsTextLength(text: string): number {
  let length = 0;
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    const emoji = cp >= 0x1f000 || (cp >= 0x2600 && cp <= 0x27bf);
    length += emoji ? Buffer.byteLength(char) : 1;
  }
  return length;
}

const timestamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "+0000");

export function createThreadsSandbox(ctx: SandboxContext): NetworkHandler {
  const c = threadsSandboxConfig;
  const clients = registeredClients("threads");
  const appUsage = (percent: number) => ({ "x-app-usage": JSON.stringify({ call_count: percent, total_cputime: 1, total_time: 1 }) });

  const dialect: MetaDialect = {
    network: NETWORK,
    clients,
    consent: {
      denial: { error: "access_denied", error_reason: "user_denied", error_description: "Permissions error" },
      newAccount: (username) => ({ id: graphId("2"), name: `Sandbox ${username}` }),
      errorPage: (message) => htmlPage(400, "Threads", `Something went wrong. ${message}`),
    },
    versionPattern: /^\/v1\.0(\/.*)?$/,
    scopes: { publish: "threads_content_publish" },
    createEdge: "threads",
    publishEdge: "threads_publish",
    limitEdge: "threads_publishing_limit",
    textField: "text",
    exchangeGrant: "th_exchange_token",
    refreshGrant: "th_refresh_token",
    tokenPrefix: "THAA",
    limits: c,
    textLength: threadsTextLength,
    textMaxChars: c.textMaxChars,

    shortLivedToken(_params, result) {
      if (!result.ok) {
        if (result.reason === "client") return graphError(400, { message: "Error validating client secret.", code: 1 });
        if (result.reason === "grant_type") return graphError(400, { message: "(#100) Unsupported grant_type", code: 100 });
        return graphError(400, {
          message: "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
          code: 100,
        });
      }
      return json(200, { access_token: result.grant.token, user_id: result.grant.account_id });
    },

    containerRequest(params) {
      const type = params.get("media_type");
      if (type === "TEXT") {
        return params.get("text") ? { kind: "TEXT" } : graphError(400, { message: "(#100) Param text is required for TEXT posts", code: 100 });
      }
      if (type === "IMAGE") {
        const url = params.get("image_url");
        return url ? { kind: "IMAGE", sourceUrl: url } : graphError(400, { message: "(#100) Param image_url is required for IMAGE posts", code: 100 });
      }
      if (type === "VIDEO") {
        const url = params.get("video_url");
        return url ? { kind: "VIDEO", sourceUrl: url } : graphError(400, { message: "(#100) Param video_url is required for VIDEO posts", code: 100 });
      }
      return graphError(400, { message: "(#100) Param media_type must be one of {TEXT, IMAGE, VIDEO} in the sandbox", code: 100 });
    },

    refuseImage(image) {
      if (image.mimeType !== "image/jpeg" && image.mimeType !== "image/png") {
        return graphError(400, { message: "Unsupported image format. Supported formats: JPEG, PNG.", code: 9004, subcode: 2207005 });
      }
      if (image.width && image.height) {
        const ratio = Math.max(image.width / image.height, image.height / image.width);
        if (ratio > c.maxAspectRatio) return graphError(400, { message: "The aspect ratio is not supported.", code: 36003, subcode: 2207009 });
      }
      return undefined;
    },

    textTooLong: () => graphError(400, { message: `(#100) Param text must be at most ${c.textMaxChars} characters long.`, code: 100 }),
    fetchFailed: (url) => graphError(400, { message: `The media could not be fetched from this URI: ${url}`, code: 9004, subcode: 2207052 }),
    imageTooLarge: () => graphError(400, { message: "The image is too large. It should be less than 8 MiB.", code: 9004, subcode: 2207004 }),

    processingError(kind, reason) {
      if (reason === "download") return "FAILED_DOWNLOADING_VIDEO";
      if (reason === "format") return "FAILED_PROCESSING_VIDEO";
      return kind === "VIDEO" ? "FAILED_PROCESSING_VIDEO" : "UNKNOWN";
    },

    renderContainer(row: ContainerRow, fields) {
      return pick({ id: row.id, status: row.state, ...(row.state === "ERROR" ? { error_message: row.error_detail } : {}) }, fields);
    },

    renderMe(account, fields) {
      return pick(
        {
          id: account.id,
          username: account.username,
          name: account.name,
          threads_profile_picture_url: `https://scontent.cdninstagram.com/v/sandbox/threads/${account.id}.jpg`,
          threads_biography: "",
        },
        fields,
      );
    },

    renderPost(post, account, fields) {
      const kind = post.media[0]?.kind;
      const shortcode = shortcodeOf(post.id);
      return pick(
        {
          id: post.id,
          text: post.text,
          media_type: kind === "VIDEO" ? "VIDEO" : kind === "IMAGE" ? "IMAGE" : "TEXT_POST",
          media_product_type: "THREADS",
          permalink: `https://www.threads.net/@${account.username}/post/${shortcode}`,
          shortcode,
          timestamp: timestamp(post.created_at),
          username: account.username,
          is_quote_post: false,
        },
        fields,
      );
    },

    usageHeaders: (_accountId, window) => appUsage(usagePercent(window)),
    throttled: () => graphError(400, { message: "(#17) User request limit reached", code: 17 }, appUsage(100)),
    quotaReached: () =>
      graphError(400, {
        message: "Application request limit reached",
        code: 9,
        subcode: 2207042,
        userTitle: "Max. number of posts reached",
        userMessage: `The profile has reached its limit of ${c.postsPerDay} API-published posts in 24 hours.`,
      }),
    restricted: () =>
      graphError(400, {
        message: "The user is restricted from performing this action",
        code: 100,
        subcode: 4279013,
        userTitle: "Action restricted",
        userMessage: "We limit how often you can do certain things on Threads to protect our community.",
      }),
  };

  return createMetaSandbox(ctx, dialect);
}
