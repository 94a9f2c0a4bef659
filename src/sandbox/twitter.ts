import type { ErrorCategory } from "../platforms/types.js";
import { registeredClients } from "./clients.js";
import {
  dispatcher,
  authorize,
  bearerToken,
  countCall,
  grantAndCount,
  accountFollowers,
  findPost,
  garbageResponse,
  metricsFailure,
  postMetrics,
  createMedia,
  findMedia,
  handleControl,
  htmlPage,
  injectedFailure,
  issueTokens,
  json,
  readBytes,
  readForm,
  readJsonObject,
  recordPostUnlessDuplicate,
  revokeToken,
  Reply,
  basicClient,
  tokenEndpoint,
  type TokenEndpointOptions,
  setMediaState,
  sha256Hex,
  sniffImage,
  snowflakeId,
  type Grant,
  type NetworkHandler,
  type RateWindow,
  type SandboxContext,
} from "./common.js";

/**
 * The X (Twitter) API v2 sandbox, at the paths the adapter calls on x.com and api.x.com:
 *
 *   GET  /i/oauth2/authorize                consent (PKCE required), approves at once
 *   POST /2/oauth2/token                    authorization_code and refresh_token grants; confidential client (Basic)
 *   POST /2/oauth2/revoke                   revoke an access or refresh token
 *   GET  /2/users/me                        the signed-in user
 *   POST /2/tweets                          publish (duplicate detection, weighted 280-character limit, media ids)
 *   POST /2/media/upload                    simple image upload (multipart `media`, or JSON base64 `media`)
 *   GET  /2/media/upload?command=STATUS     media processing state
 *
 * Errors use X's problem JSON; every API answer carries `x-rate-limit-limit/-remaining/-reset` for its endpoint's
 * 15-minute window per user, and a window that runs out is answered with a real 429.
 */

const NETWORK = "twitter";
const clients = registeredClients("twitter");

export const twitterSandboxConfig = {
  accessTokenSeconds: 7200,
  /** X's refresh tokens do not expire on a clock we know of; they die when rotated or revoked. */
  refreshTokenSeconds: null,
  codeSeconds: 30,
  duplicateWindowSeconds: 24 * 3600,
  maxWeightedLength: 280,
  imageMaxBytes: 5 * 1024 * 1024,
  gifMaxBytes: 15 * 1024 * 1024,
  /** How far ahead an injected rate limit resets. */
  injectedResetSeconds: 3,
  scopes: new Set(["tweet.read", "tweet.write", "users.read", "offline.access", "media.write", "like.read", "follows.read"]),
} as const;

/** Per-user 15-minute limits of the endpoints served (docs.x.com rate-limit table). */
const rateLimits = {
  token: 1000,
  revoke: 1000,
  usersMe: 75,
  tweets: 100,
  mediaUpload: 500,
  mediaStatus: 1000,
  tweetsLookup: 5000,
} as const;
type Endpoint = keyof typeof rateLimits;
const WINDOW_SECONDS = 15 * 60;

const problem = (status: number, title: string, detail: string, type = "about:blank", extra: Record<string, unknown> = {}) =>
  ({ title, type, status, detail, ...extra }) as const;

const unauthorized = () => problem(401, "Unauthorized", "Unauthorized");
const forbidden = (detail: string) => problem(403, "Forbidden", detail);
const invalidRequest = (errors: { message: string; parameters: Record<string, unknown> }[]) => ({
  errors,
  title: "Invalid Request",
  detail: "One or more parameters to your request was invalid.",
  type: "https://api.x.com/2/problems/invalid-request",
});
const oauthError = (description: string) => ({ error: "invalid_request", error_description: description });

interface Call {
  endpoint?: Endpoint;
  window?: RateWindow;
}

export function createTwitterSandbox(ctx: SandboxContext): NetworkHandler {
  /** Counts the call against the user's window; a spent window is X's 429. */
  async function limit(call: Call, endpoint: Endpoint, subject: string): Promise<void> {
    call.endpoint = endpoint;
    const counted = await countCall(ctx, NETWORK, `${endpoint}:${subject}`, rateLimits[endpoint], WINDOW_SECONDS);
    call.window = counted.window;
    if (counted.exceeded) throw new Reply(json(429, problem(429, "Too Many Requests", "Too Many Requests")));
  }

  async function authenticated(req: Request, call: Call, endpoint: Endpoint, scopes: string[]): Promise<Grant> {
    call.endpoint = endpoint;
    const token = bearerToken(req);
    if (!token) throw new Reply(json(401, unauthorized()));
    // The token's grant and the call counted against the user's window, in one statement (a refused token counts nothing).
    const checked = await grantAndCount(ctx, NETWORK, token, `${endpoint}:`, rateLimits[endpoint], WINDOW_SECONDS);
    if (checked.refused) throw new Reply(json(401, unauthorized()));
    call.window = checked.window;
    if (checked.exceeded) throw new Reply(json(429, problem(429, "Too Many Requests", "Too Many Requests")));
    if (scopes.some((s) => !checked.grant.scopes.includes(s))) throw new Reply(json(403, forbidden("Forbidden")));
    return checked.grant;
  }

  const tokenOptions: TokenEndpointOptions = {
    network: NETWORK,
    clients,
    clientAuth: "basic",
    tooLarge: () => json(413, oauthError("Request too large")),
    badClient: () => json(401, { error: "unauthorized_client", error_description: "Missing valid authorization header" }),
    code: {
      invalid: () => json(400, oauthError("Value passed for the authorization code was invalid.")),
      redirectMismatch: () => json(400, oauthError("Value passed for the redirect uri did not match the uri of the authorization code.")),
      pkce: { when: "always", mismatch: () => json(400, oauthError("Value passed for the code verifier did not match the code challenge.")) },
    },
    refresh: { mode: "rotate", invalid: () => json(400, oauthError("Value passed for the token was invalid.")) },
    unsupportedGrant: () => json(400, { error: "unsupported_grant_type", error_description: "grant_type not supported" }),
    issue: (from) => tokenResponse(from),
  };

  async function token(req: Request, call: Call): Promise<Response> {
    call.endpoint = "token";
    return tokenEndpoint(ctx, req, { ...tokenOptions, onClient: (clientId) => limit(call, "token", clientId) });
  }

  async function tokenResponse(from: Grant): Promise<Response> {
    const offline = from.scopes.includes("offline.access");
    const issued = await issueTokens(ctx, NETWORK, from, {
      accessTtlSeconds: twitterSandboxConfig.accessTokenSeconds,
      refreshTtlSeconds: offline ? twitterSandboxConfig.refreshTokenSeconds : undefined,
    });
    return json(200, {
      token_type: "bearer",
      expires_in: issued.accessExpiresIn,
      access_token: issued.accessToken,
      scope: from.scopes.join(" "),
      ...(issued.refreshToken ? { refresh_token: issued.refreshToken } : {}),
    });
  }

  async function revoke(req: Request, call: Call): Promise<Response> {
    call.endpoint = "revoke";
    const client = basicClient(clients, req);
    if (!client) return tokenOptions.badClient();
    await limit(call, "revoke", client.clientId);
    const form = await readForm(req, () => json(413, oauthError("Request too large")));
    await revokeToken(ctx, NETWORK, form.get("token") ?? "");
    return json(200, { revoked: true });
  }

  async function usersMe(req: Request, call: Call): Promise<Response> {
    const grant = await authenticated(req, call, "usersMe", ["users.read", "tweet.read"]);
    const [user] = await ctx.sql`select id, username, name from local_sandbox.accounts where network = ${NETWORK} and id = ${grant.account_id}`;
    const fields = (new URL(req.url).searchParams.get("user.fields") ?? "").split(",");
    const data: Record<string, unknown> = { id: user!.id, name: user!.name, username: user!.username };
    if (fields.includes("public_metrics")) {
      const followers = await accountFollowers(ctx, NETWORK, user!.id);
      data.public_metrics = { followers_count: followers, following_count: 180, tweet_count: 42, listed_count: 3, like_count: 512 };
    }
    if (fields.includes("profile_image_url")) data.profile_image_url = `https://pbs.twimg.com/profile_images/${user!.id}/sandbox_normal.png`;
    return json(200, { data });
  }

  async function createTweet(req: Request, call: Call): Promise<Response> {
    const grant = await authenticated(req, call, "tweets", ["tweet.write", "tweet.read", "users.read"]);
    const body = await readJsonObject(req, () =>
      json(400, invalidRequest([{ message: "Request body is not valid JSON", parameters: {} }])),
    );
    const text = typeof body.text === "string" ? body.text : "";
    const media = body.media as { media_ids?: unknown } | undefined;
    const mediaIds = Array.isArray(media?.media_ids) ? media.media_ids.map(String) : [];

    const injected = await injectedFailure(ctx, NETWORK, grant.account_id, text);
    if (injected) return injectedResponse(injected, mediaIds, call);

    if (!text && !mediaIds.length) {
      return json(400, invalidRequest([{ message: "$.text: is missing but it is required", parameters: { text: [] } }]));
    }
    if (weightedLength(text) > twitterSandboxConfig.maxWeightedLength) {
      return json(403, forbidden("Your Tweet text is too long. For more information on how X determines text length see https://github.com/twitter/twitter-text."));
    }
    const attached = [];
    for (const id of mediaIds.slice(0, 5)) {
      const row = await findMedia(ctx, NETWORK, id);
      if (!row || row.account_id !== grant.account_id || row.state !== "succeeded" || mediaIds.length > 4) {
        return json(400, invalidRequest([{ message: "Your media IDs are invalid.", parameters: { "media.media_ids": mediaIds } }]));
      }
      attached.push({ id: row.id, mimeType: row.mime_type, sizeBytes: row.size_bytes });
    }
    const id = snowflakeId(ctx.now());
    const post = { id, accountId: grant.account_id, text, media: attached };
    if (await recordPostUnlessDuplicate(ctx, NETWORK, post, twitterSandboxConfig.duplicateWindowSeconds)) {
      return json(403, forbidden("You are not allowed to create a Tweet with duplicate content."));
    }
    return json(201, { data: { id, text, edit_history_tweet_ids: [id] } });
  }

  /**
   * `GET /2/tweets?ids=…&tweet.fields=public_metrics,non_public_metrics`: found tweets in `data`, the rest as
   * resource-not-found `errors`. Non-public metrics only for the caller's own tweets of the last 30 days (else 400).
   */
  async function lookupTweets(req: Request, call: Call): Promise<Response> {
    const grant = await authenticated(req, call, "tweetsLookup", ["tweet.read", "users.read"]);
    const q = new URL(req.url).searchParams;
    const ids = (q.get("ids") ?? "").split(",").filter(Boolean);
    if (!ids.length || ids.length > 100 || ids.some((id) => !/^\d{1,19}$/.test(id))) {
      return json(400, invalidRequest([{ message: "The `ids` query parameter value must be 1 to 100 comma-separated numeric ids", parameters: { ids } }]));
    }
    const fields = (q.get("tweet.fields") ?? "").split(",");
    const posts = [];
    for (const id of ids) {
      const post = await findPost(ctx, NETWORK, id);
      if (post) posts.push(post);
    }
    const failure = await metricsFailure(ctx, NETWORK, posts);
    if (failure === "garbage") return garbageResponse();
    if (failure) return injectedResponse(failure, [], call);
    const data = [];
    for (const post of posts) {
      const m = await postMetrics(ctx, NETWORK, post);
      const tweet: Record<string, unknown> = { id: post.id, text: post.text, edit_history_tweet_ids: [post.id] };
      if (fields.includes("public_metrics")) {
        tweet.public_metrics = {
          retweet_count: m.shares,
          reply_count: m.comments,
          like_count: m.likes,
          quote_count: m.quotes,
          bookmark_count: m.saves,
          impression_count: m.impressions,
          ...(m.videoViews ? { view_count: m.videoViews } : {}),
        };
      }
      if (fields.includes("non_public_metrics")) {
        const old = ctx.now().getTime() - post.created_at.getTime() > 30 * 86_400_000;
        if (post.account_id !== grant.account_id || old) {
          return json(400, invalidRequest([{ message: "[non_public_metrics] is only available for your own Posts from the last 30 days", parameters: { "tweet.fields": ["non_public_metrics"] } }]));
        }
        tweet.non_public_metrics = { impression_count: m.impressions, url_link_clicks: m.clicks, user_profile_clicks: Math.floor(m.clicks / 3) };
      }
      data.push(tweet);
    }
    const found = new Set(posts.map((p) => p.id));
    const errors = ids
      .filter((id) => !found.has(id))
      .map((id) => ({
        value: id,
        detail: `Could not find tweet with ids: [${id}].`,
        title: "Not Found Error",
        resource_type: "tweet",
        parameter: "ids",
        resource_id: id,
        type: "https://api.x.com/2/problems/resource-not-found",
      }));
    return json(200, { ...(data.length ? { data } : {}), ...(errors.length ? { errors } : {}) });
  }

  /** X's own answer for each failure category. */
  async function injectedResponse(category: ErrorCategory, mediaIds: string[], call: Call): Promise<Response> {
    switch (category) {
      case "rate_limited": {
        const reset = Math.floor(ctx.now().getTime() / 1000) + twitterSandboxConfig.injectedResetSeconds;
        call.window = { limit: rateLimits[call.endpoint ?? "tweets"], remaining: 0, reset };
        return json(429, problem(429, "Too Many Requests", "Too Many Requests"));
      }
      case "auth_error":
        return json(401, unauthorized());
      case "network_error":
        return json(503, problem(503, "Service Unavailable", "Service Unavailable"));
      case "duplicate":
        return json(403, forbidden("You are not allowed to create a Tweet with duplicate content."));
      case "media_error":
      case "media_processing":
        // The post is refused with X's one "invalid media" answer; the media's STATUS shows why.
        await setMediaState(ctx, NETWORK, mediaIds, category === "media_error" ? "failed" : "in_progress");
        return json(400, invalidRequest([{ message: "Your media IDs are invalid.", parameters: { "media.media_ids": mediaIds } }]));
      case "unknown":
        return json(403, forbidden("You are not permitted to perform this action."));
    }
  }

  async function uploadMedia(req: Request, call: Call): Promise<Response> {
    const grant = await authenticated(req, call, "mediaUpload", ["media.write"]);
    const tooLarge = () => json(413, problem(413, "Payload Too Large", "The media is too large."));
    const raw = await readBytes(req, twitterSandboxConfig.gifMaxBytes + 64 * 1024, tooLarge);
    const contentType = req.headers.get("content-type") ?? "";
    let bytes: Uint8Array | undefined;
    if (contentType.startsWith("multipart/form-data")) {
      const form = await new Response(new Uint8Array(raw), { headers: { "content-type": contentType } }).formData().catch(() => undefined);
      const file = form?.get("media");
      if (file instanceof Blob) bytes = new Uint8Array(await file.arrayBuffer());
    } else if (contentType.startsWith("application/json")) {
      const body = (() => {
        try {
          return JSON.parse(Buffer.from(raw).toString("utf8")) as { media?: unknown };
        } catch {
          return undefined;
        }
      })();
      if (typeof body?.media === "string") bytes = Buffer.from(body.media, "base64");
    }
    if (!bytes?.byteLength) return json(400, invalidRequest([{ message: "media is required", parameters: { media: [] } }]));
    const image = sniffImage(bytes);
    if (!image) return json(400, invalidRequest([{ message: "media type unrecognized.", parameters: { media: [] } }]));
    const max = image.mimeType === "image/gif" ? twitterSandboxConfig.gifMaxBytes : twitterSandboxConfig.imageMaxBytes;
    if (bytes.byteLength > max) return json(400, invalidRequest([{ message: "File size exceeds the limit.", parameters: { media: [] } }]));

    const id = snowflakeId(ctx.now());
    await createMedia(ctx, NETWORK, {
      id,
      accountId: grant.account_id,
      state: "succeeded",
      mimeType: image.mimeType,
      sizeBytes: bytes.byteLength,
      sha256: sha256Hex(bytes),
    });
    const imageInfo: Record<string, unknown> = { image_type: image.mimeType };
    if (image.width !== undefined) Object.assign(imageInfo, { w: image.width, h: image.height });
    return json(200, { data: { id, media_key: `3_${id}`, size: bytes.byteLength, expires_after_secs: 86400, image: imageInfo } });
  }

  async function mediaStatus(req: Request, call: Call): Promise<Response> {
    const grant = await authenticated(req, call, "mediaStatus", ["media.write"]);
    const q = new URL(req.url).searchParams;
    if (q.get("command") !== "STATUS") {
      return json(400, invalidRequest([{ message: "command must be STATUS", parameters: { command: [q.get("command")] } }]));
    }
    const row = await findMedia(ctx, NETWORK, q.get("media_id") ?? "");
    if (!row || row.account_id !== grant.account_id) {
      return json(400, invalidRequest([{ message: "Invalid media_id", parameters: { media_id: [q.get("media_id")] } }]));
    }
    const processing: Record<string, unknown> = { state: row.state };
    if (row.state === "pending" || row.state === "in_progress") Object.assign(processing, { check_after_secs: 1, progress_percent: 50 });
    if (row.state === "failed") Object.assign(processing, { error: { code: 1, name: "InvalidMedia", message: "Unsupported media" } });
    return json(200, { data: { id: row.id, media_key: `3_${row.id}`, processing_info: processing } });
  }

  const routes = dispatcher<Call>(
    "twitter sandbox",
    {
      "* /__sandbox/*": (req, params) => handleControl(ctx, NETWORK, req, `/${params["*"]!}`),
      "GET /i/oauth2/authorize": (req) =>
        authorize(ctx, req, {
          network: NETWORK,
          clients,
          pkce: "required",
          scopeSeparator: /[\s+]+/,
          knownScopes: twitterSandboxConfig.scopes,
          codeTtlSeconds: twitterSandboxConfig.codeSeconds,
          denial: { error: "access_denied" },
          newAccount: (username) => ({ id: snowflakeId(ctx.now()), name: `Sandbox ${username}` }),
          errorPage: (message) => htmlPage(400, "X", `Something went wrong. You weren't able to give access to the App. ${message}`),
        }),
      "POST /2/oauth2/token": (req, _params, call) => token(req, call),
      "POST /2/oauth2/revoke": (req, _params, call) => revoke(req, call),
      "GET /2/users/me": (req, _params, call) => usersMe(req, call),
      "POST /2/tweets": (req, _params, call) => createTweet(req, call),
      "GET /2/tweets": (req, _params, call) => lookupTweets(req, call),
      "POST /2/media/upload": (req, _params, call) => uploadMedia(req, call),
      "GET /2/media/upload": (req, _params, call) => mediaStatus(req, call),
    },
    {
      notFound: () => json(404, { errors: [{ message: "Sorry, that page does not exist", code: 34 }] }),
      methodNotAllowed: () => json(405, { errors: [{ message: "Sorry, that page does not exist", code: 34 }] }),
    },
  );

  return async (req, path) => {
    const call: Call = {};
    const res = await routes(req, path, call);
    // Every API answer carries its endpoint's window; one that was not counted (an unauthenticated call) shows it full.
    if (call.endpoint || call.window) {
      const window = call.window ?? fullWindow(call.endpoint!, ctx.now());
      for (const [name, value] of Object.entries(rateHeaders(window))) res.headers.set(name, value);
    }
    return res;
  };
}

function rateHeaders(window: RateWindow): Record<string, string> {
  return {
    "x-rate-limit-limit": String(window.limit),
    "x-rate-limit-remaining": String(window.remaining),
    "x-rate-limit-reset": String(window.reset),
  };
}

function fullWindow(endpoint: Endpoint, now: Date): RateWindow {
  const seconds = Math.floor(now.getTime() / 1000);
  return { limit: rateLimits[endpoint], remaining: rateLimits[endpoint], reset: seconds - (seconds % WINDOW_SECONDS) + WINDOW_SECONDS };
}

/**
 * X's weighted length (twitter-text v3, simplified): URLs count 23; code points in the Latin, general punctuation
 * and a few other ranges count 1; everything else (CJK, emoji) counts 2. Emoji sequences joined with ZWJ are counted
 * per code point, so they weigh a little more here than on X.
 */
export function weightedLength(text: string): number {
  const urls = text.match(/https?:\/\/\S+/g) ?? [];
  let length = urls.length * 23;
  for (const char of text.replace(/https?:\/\/\S+/g, "")) {
    const cp = char.codePointAt(0)!;
    const light = cp <= 4351 || (cp >= 8192 && cp <= 8205) || (cp >= 8208 && cp <= 8223) || (cp >= 8242 && cp <= 8247);
    length += light ? 1 : 2;
  }
  return length;
}
