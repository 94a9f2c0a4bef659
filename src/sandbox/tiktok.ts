import { createHash, randomUUID } from "node:crypto";
import type { TransactionSql } from "postgres";
import { createHttpClient } from "../platforms/http.js";
import { sniffVideo } from "../platforms/sniff-video.js";
import type { ErrorCategory } from "../platforms/types.js";
import { clientsWithRuntimeApps, sandboxClients } from "./clients.js";
import {
  dispatcher,
  authorize,
  checkAccessToken,
  countCall,
  createMedia,
  empty,
  handleControl,
  htmlPage,
  injectedFailure,
  issueTokens,
  json,
  randomToken,
  readBytes,
  readForm,
  readJsonObject,
  recordPost,
  accountFollowers,
  findPost,
  garbageResponse,
  metricsFailure,
  postMetrics,
  revokeToken,
  Reply,
  tokenEndpoint,
  setMediaState,
  sha256Hex,
  snowflakeId,
  type Grant,
  type NetworkHandler,
  type SandboxContext,
  type Sql,
} from "./common.js";
import { networkTables } from "./network-tables.js";
import { refuseUpload } from "./refuse-upload.js";

/**
 * The TikTok sandbox, at the paths the adapter calls on www.tiktok.com, open.tiktokapis.com and
 * open-upload.tiktokapis.com:
 *
 *   GET  /v2/auth/authorize/                        consent (`client_key`, comma-separated scopes, PKCE required with
 *                                                   TikTok's hex SHA-256 challenge), approves at once
 *   POST /v2/oauth/token/                           authorization_code and refresh_token grants (client_key and
 *                                                   client_secret in the form); refresh tokens rotate
 *   POST /v2/oauth/revoke/                          revoke a token
 *   GET  /v2/user/info/?fields=…                    the signed-in user (open_id, union_id, avatar_url, display_name)
 *   POST /v2/post/publish/creator_info/query/       privacy options, interaction settings, max duration (600 s)
 *   POST /v2/post/publish/video/init/               direct post: FILE_UPLOAD (an upload URL on this host) or
 *                                                   PULL_FROM_URL (the URL must be under a verified prefix)
 *   PUT  /video/?upload_id=…&upload_token=…         the upload URL: sequential chunks with Content-Range, 206 until
 *                                                   the last byte, then 201
 *   POST /v2/post/publish/status/fetch/             PROCESSING_UPLOAD (PROCESSING_DOWNLOAD when pulled) until the
 *                                                   upload is complete; the first fetch after that ends processing:
 *                                                   PUBLISH_COMPLETE (with publicaly_available_post_id for public
 *                                                   posts) or FAILED with a fail_reason (the bytes must be an
 *                                                   MP4/MOV/WebM, and an MP4 no longer than the creator's maximum)
 *
 * Every answer carries TikTok's envelope `{ data, error: { code, message, log_id } }`. Real limits per user token:
 * 6 video inits, 20 creator_info queries and 30 status fetches a minute (a real 429 `rate_limit_exceeded` past them).
 * Injected failures (`[sandbox:<category>]` in the title) answer video/init with TikTok's own error — rate_limited
 * 429 `rate_limit_exceeded`, auth_error 401 `access_token_invalid`, network_error 500 `internal_error`, unknown 400
 * `invalid_params` — or fail later in processing: media_error FAILED `file_format_check_failed`, media_processing
 * stays PROCESSING_UPLOAD for ever. TikTok has no duplicate-content error, so `[sandbox:duplicate]` is ignored.
 *
 * Sandbox users: `sandbox_user=banned…` is banned from posting (`spam_risk_user_banned_from_posting`);
 * `sandbox_user=private…` has a private account (no PUBLIC_TO_EVERYONE option). The registered client
 * `amplify-local-tiktok` is an audited app; `amplify-local-tiktok-unaudited` is not, and may only post SELF_ONLY.
 * Verified URL prefixes: the local home's public storage (`<origin>/storage/v1/object/public/`) and any added with
 * `POST /__sandbox/verified-url-prefixes {"prefix": "…"}` (listed by GET), as in TikTok's developer portal.
 */

const NETWORK = "tiktok";

/** A second registered client: an app TikTok has not audited yet. */
export const tiktokUnauditedSandboxClient = { clientId: "amplify-local-tiktok-unaudited", clientSecret: "amplify-local-tiktok-unaudited-secret" } as const;

// Apps registered at runtime (the developer portal, src/sandbox/clients.ts) count as audited.
const clients: ReadonlyMap<string, { clientId: string; clientSecret: string; audited: boolean }> = clientsWithRuntimeApps(
  "tiktok",
  [
    [sandboxClients.tiktok.clientId, { ...sandboxClients.tiktok, audited: true }],
    [tiktokUnauditedSandboxClient.clientId, { ...tiktokUnauditedSandboxClient, audited: false }],
  ],
  { audited: true },
);

export const tiktokSandboxConfig = {
  accessTokenSeconds: 24 * 3600,
  refreshTokenSeconds: 365 * 24 * 3600,
  codeSeconds: 5 * 60,
  /** Per user token, per minute. */
  initPerMinute: 6,
  creatorInfoPerMinute: 20,
  statusPerMinute: 30,
  /** Status fetches of a complete upload before processing ends (the publish itself answers "processing"). */
  completeAfterFetches: 1,
  maxVideoPostDurationSec: 600,
  titleMaxUtf16: 2200,
  /** TikTok takes 4 GB; the sandbox keeps the bytes in Postgres until processing ends, so it takes less. */
  maxVideoBytes: 256 * 1024 * 1024,
  minChunkBytes: 5 * 1024 * 1024,
  maxChunkBytes: 64 * 1024 * 1024,
  maxFinalChunkBytes: 128 * 1024 * 1024,
  pullTimeoutMs: 10_000,
  scopes: new Set(["user.info.basic", "user.info.profile", "user.info.stats", "video.publish", "video.upload", "video.list"]),
} as const;

const PRIVACY_LEVELS = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"];
const PRIVATE_ACCOUNT_LEVELS = ["FOLLOWER_OF_CREATOR", "SELF_ONLY"];
const VIDEO_TYPES = new Set(["video/mp4", "video/quicktime", "video/webm"]);

const ddl = `
create table if not exists local_sandbox.tiktok_publishes (
  publish_id    text primary key,
  account_id    text not null,
  source        text not null check (source in ('FILE_UPLOAD', 'PULL_FROM_URL')),
  upload_token  text unique,
  video_url     text,
  video_size    bigint,
  chunk_size    bigint,
  chunk_count   integer,
  received      bigint not null default 0,
  bytes         bytea,
  title         text not null,
  privacy_level text not null,
  status        text not null,
  fail_reason   text,
  fetches       integer not null default 0,
  injected      text,
  post_id       text,
  created_at    timestamptz not null default now()
);
create table if not exists local_sandbox.tiktok_verified_prefixes (
  prefix     text primary key,
  created_at timestamptz not null default now()
);
`;

/** The outcome of a processing step: the new status and, once the bytes were looked at, what they are. */
interface Processed {
  status: string;
  failReason?: string;
  postId?: string;
  video?: { mimeType: string | null; sizeBytes: number; sha256: string };
}

/** Every column but the bytes, which are read only when processing looks at them. */
const PUBLISH_COLUMNS = [
  "publish_id, account_id, source, upload_token, video_url, video_size, chunk_size, chunk_count, received",
  "title, privacy_level, status, fail_reason, fetches, injected, post_id",
].join(", ");

interface PublishRow {
  publish_id: string;
  account_id: string;
  source: "FILE_UPLOAD" | "PULL_FROM_URL";
  upload_token: string | null;
  video_url: string | null;
  video_size: string | null;
  chunk_size: string | null;
  chunk_count: number | null;
  received: string;
  title: string;
  privacy_level: string;
  status: string;
  fail_reason: string | null;
  fetches: number;
  injected: string | null;
  post_id: string | null;
}

/** TikTok's log ids: a timestamp and random hex. */
function logId(now: Date): string {
  return `${now.toISOString().replace(/\D/g, "").slice(0, 14)}${randomUUID().replace(/-/g, "").slice(0, 20).toUpperCase()}`;
}

export function createTikTokSandbox(ctx: SandboxContext): NetworkHandler {
  const ready = networkTables(ctx.sql, NETWORK, ddl);
  const pullClient = createHttpClient({ service: "TikTok sandbox pull", timeoutMs: tiktokSandboxConfig.pullTimeoutMs });
  const origin = new URL(ctx.baseUrl).origin;

  const envelope = (status: number, data: unknown, code = "ok", message = "", headers: Record<string, string> = {}) =>
    json(status, { data, error: { code, message, log_id: logId(ctx.now()) } }, headers);
  const fail = (status: number, code: string, message: string) => envelope(status, {}, code, message);

  async function user(req: Request, scopes: string[]): Promise<Grant> {
    const check = await checkAccessToken(ctx, NETWORK, req);
    if (!check.ok) throw new Reply(fail(401, "access_token_invalid", "The access token is invalid or not found in the request."));
    if (scopes.length && !scopes.some((s) => check.grant.scopes.includes(s))) {
      throw new Reply(fail(401, "scope_not_authorized", "The user did not authorize the scope required for completing this request."));
    }
    return check.grant;
  }

  /** TikTok's per-token, per-minute limits. */
  async function limit(req: Request, endpoint: string, perMinute: number): Promise<void> {
    const token = createHash("sha256").update(req.headers.get("authorization") ?? "").digest("hex").slice(0, 24);
    const counted = await countCall(ctx, NETWORK, `${endpoint}:${token}`, perMinute, 60);
    if (counted.exceeded) throw new Reply(fail(429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later."));
  }

  async function accountName(accountId: string): Promise<string> {
    const [row] = await ctx.sql<{ username: string }[]>`select username from local_sandbox.accounts where network = ${NETWORK} and id = ${accountId}`;
    return row?.username ?? accountId;
  }

  function creatorRules(username: string) {
    return {
      banned: username.startsWith("banned"),
      privacyOptions: username.startsWith("private") ? PRIVATE_ACCOUNT_LEVELS : PRIVACY_LEVELS,
    };
  }

  // --- OAuth -------------------------------------------------------------------------------------------------------

  async function consent(req: Request): Promise<Response> {
    // TikTok names the client `client_key`; the shared consent page reads `client_id`.
    const url = new URL(req.url);
    url.searchParams.delete("client_id");
    url.searchParams.set("client_id", url.searchParams.get("client_key") ?? "");
    return authorize(ctx, new Request(url, { headers: req.headers }), {
      network: NETWORK,
      clients,
      pkce: "required",
      scopeSeparator: /[,\s]+/,
      knownScopes: tiktokSandboxConfig.scopes,
      codeTtlSeconds: tiktokSandboxConfig.codeSeconds,
      denial: { error: "access_denied", error_description: "The user denied the authorization request." },
      newAccount: (username) => ({ id: randomUUID(), name: `Sandbox ${username}` }),
      errorPage: (message) => htmlPage(400, "TikTok", `We couldn't log in with TikTok. ${message}`),
    });
  }

  const tokenError = (status: number, error: string, description: string) =>
    json(status, { error, error_description: description, log_id: logId(ctx.now()) });

  const token = (req: Request) =>
    tokenEndpoint(ctx, req, {
      network: NETWORK,
      clients,
      clientAuth: "form",
      idField: "client_key",
      tooLarge: () => tokenError(413, "invalid_request", "Request too large."),
      badClient: () => tokenError(401, "invalid_client", "Client key or secret is incorrect."),
      code: {
        invalid: () => tokenError(400, "invalid_grant", "Authorization code is expired."),
        redirectMismatch: () => tokenError(400, "invalid_grant", "Redirect URI does not match."),
        pkce: {
          when: "always",
          // TikTok's S256: hex of the SHA-256 of the verifier.
          matches(verifier, code) {
            const expected = code.code_challenge_method === "plain" ? verifier : createHash("sha256").update(verifier).digest("hex");
            return verifier !== "" && expected === code.code_challenge;
          },
          mismatch: () => tokenError(400, "invalid_request", "Code verifier or code challenge is invalid."),
        },
      },
      refresh: { mode: "rotate", invalid: () => tokenError(400, "invalid_grant", "Refresh token is invalid or expired.") },
      unsupportedGrant: () => tokenError(400, "invalid_request", "The grant_type is not supported."),
      async issue(from) {
        const issued = await issueTokens(ctx, NETWORK, from, {
          accessTtlSeconds: tiktokSandboxConfig.accessTokenSeconds,
          refreshTtlSeconds: tiktokSandboxConfig.refreshTokenSeconds,
        });
        return json(200, {
          access_token: issued.accessToken,
          expires_in: issued.accessExpiresIn,
          open_id: from.account_id,
          refresh_expires_in: tiktokSandboxConfig.refreshTokenSeconds,
          refresh_token: issued.refreshToken,
          scope: from.scopes.join(","),
          token_type: "Bearer",
        });
      },
    });

  async function revoke(req: Request): Promise<Response> {
    const form = await readForm(req, () => json(413, { error: "invalid_request", error_description: "Request too large." }));
    const client = clients.get(form.get("client_key") ?? "");
    if (!client || client.clientSecret !== form.get("client_secret")) {
      return json(401, { error: "invalid_client", error_description: "Client key or secret is incorrect.", log_id: logId(ctx.now()) });
    }
    await revokeToken(ctx, NETWORK, form.get("token") ?? "");
    return json(200, {});
  }

  // --- user and creator ----------------------------------------------------------------------------------------------

  async function userInfo(req: Request): Promise<Response> {
    const grant = await user(req, ["user.info.basic"]);
    const requested = (new URL(req.url).searchParams.get("fields") ?? "").split(",").map((f) => f.trim()).filter(Boolean);
    const [row] = await ctx.sql<{ id: string; username: string; name: string }[]>`
      select id, username, name from local_sandbox.accounts where network = ${NETWORK} and id = ${grant.account_id}`;
    const basic: Record<string, unknown> = {
      open_id: row!.id,
      union_id: `union-${row!.id}`,
      avatar_url: `https://p16-sign.tiktokcdn.com/sandbox/${row!.id}~c5_168x168.jpeg`,
      display_name: row!.name,
    };
    const profile: Record<string, unknown> = {
      username: row!.username,
      bio_description: "",
      profile_deep_link: `https://vm.tiktok.com/${row!.username}`,
      is_verified: false,
    };
    const stats: Record<string, unknown> = { follower_count: await accountFollowers(ctx, NETWORK, row!.id), following_count: 0, likes_count: 0, video_count: 0 };
    const out: Record<string, unknown> = {};
    for (const field of requested) {
      const [value, scope] =
        field in basic ? [basic[field], "user.info.basic"] : field in profile ? [profile[field], "user.info.profile"] : [stats[field], "user.info.stats"];
      if (value === undefined) return fail(400, "invalid_params", `Invalid field: ${field}`);
      if (!grant.scopes.includes(scope)) return fail(401, "scope_not_authorized", `The user did not authorize the scope required for the field ${field}.`);
      out[field] = value;
    }
    return envelope(200, { user: out });
  }

  /**
   * `POST /v2/video/query/?fields=…` `{"filters":{"video_ids":[…]}}` (`video.list`, at most 20 ids): the caller's own
   * videos among them, with the fields asked for; ids that are not the caller's public videos are left out.
   */
  async function videoQuery(req: Request): Promise<Response> {
    const grant = await user(req, ["video.list"]);
    await limit(req, "video.query", 600);
    const fields = (new URL(req.url).searchParams.get("fields") ?? "").split(",").map((f) => f.trim()).filter(Boolean);
    const known = new Set(["id", "create_time", "title", "video_description", "duration", "cover_image_url", "share_url", "embed_link", "like_count", "comment_count", "share_count", "view_count"]);
    if (!fields.length || fields.some((f) => !known.has(f))) return fail(400, "invalid_params", `Invalid fields: ${fields.find((f) => !known.has(f)) ?? ""}`);
    const body = (await req.json().catch(() => undefined)) as { filters?: { video_ids?: unknown } } | undefined;
    const ids = body?.filters?.video_ids;
    if (!Array.isArray(ids) || !ids.length || ids.length > 20 || ids.some((id) => typeof id !== "string")) {
      return fail(400, "invalid_params", "filters.video_ids must be 1 to 20 video ids");
    }
    const posts = [];
    for (const id of ids as string[]) {
      const post = await findPost(ctx, NETWORK, id);
      if (post && post.account_id === grant.account_id) posts.push(post);
    }
    const failure = await metricsFailure(ctx, NETWORK, posts);
    if (failure === "garbage") return garbageResponse();
    if (failure) return injectedAtInit(failure)!;
    const videos = [];
    for (const post of posts) {
      const m = await postMetrics(ctx, NETWORK, post);
      const all: Record<string, unknown> = {
        id: post.id,
        create_time: Math.floor(post.created_at.getTime() / 1000),
        title: post.text.slice(0, 150),
        video_description: post.text,
        duration: 12,
        cover_image_url: `https://p16-sign.tiktokcdn.com/sandbox/${post.id}.jpeg`,
        share_url: `https://www.tiktok.com/@sandbox/video/${post.id}`,
        embed_link: `https://www.tiktok.com/embed/v2/${post.id}`,
        like_count: m.likes,
        comment_count: m.comments,
        share_count: m.shares,
        view_count: m.videoViews,
      };
      videos.push(Object.fromEntries(fields.map((f) => [f, all[f]])));
    }
    return envelope(200, { videos, cursor: 0, has_more: false });
  }

  async function creatorInfo(req: Request): Promise<Response> {
    const grant = await user(req, ["video.publish"]);
    await limit(req, "creator_info", tiktokSandboxConfig.creatorInfoPerMinute);
    const username = await accountName(grant.account_id);
    const rules = creatorRules(username);
    if (rules.banned) return fail(403, "spam_risk_user_banned_from_posting", "The user is banned from making new posts.");
    return envelope(200, {
      creator_avatar_url: `https://p16-sign.tiktokcdn.com/sandbox/${grant.account_id}~c5_168x168.jpeg`,
      creator_username: username,
      creator_nickname: `Sandbox ${username}`,
      privacy_level_options: rules.privacyOptions,
      comment_disabled: false,
      duet_disabled: false,
      stitch_disabled: false,
      max_video_post_duration_sec: tiktokSandboxConfig.maxVideoPostDurationSec,
    });
  }

  // --- publishing ----------------------------------------------------------------------------------------------------

  async function isVerified(url: string): Promise<boolean> {
    if (url.startsWith(`${origin}/storage/v1/object/public/`)) return true;
    const rows = await ctx.sql<{ prefix: string }[]>`select prefix from local_sandbox.tiktok_verified_prefixes`;
    return rows.some((r) => url.startsWith(r.prefix));
  }

  async function videoInit(req: Request): Promise<Response> {
    const grant = await user(req, ["video.publish"]);
    await limit(req, "video_init", tiktokSandboxConfig.initPerMinute);
    const body = await readJsonObject(req, () => fail(400, "invalid_params", "The request body is not valid JSON."));
    const postInfo = (body.post_info ?? {}) as Record<string, unknown>;
    const sourceInfo = (body.source_info ?? {}) as Record<string, unknown>;
    const title = typeof postInfo.title === "string" ? postInfo.title : "";
    const username = await accountName(grant.account_id);
    const rules = creatorRules(username);
    if (rules.banned) return fail(403, "spam_risk_user_banned_from_posting", "The user is banned from making new posts.");

    const injected = await injectedFailure(ctx, NETWORK, grant.account_id, title);
    const early = injected ? injectedAtInit(injected) : undefined;
    if (early) return early;

    if (title.length > tiktokSandboxConfig.titleMaxUtf16) return fail(400, "invalid_params", "The title is longer than 2200 characters.");
    const privacy = postInfo.privacy_level;
    if (typeof privacy !== "string" || !PRIVACY_LEVELS.includes(privacy)) return fail(400, "invalid_params", "privacy_level is required.");
    if (!rules.privacyOptions.includes(privacy)) {
      return fail(400, "privacy_level_option_mismatch", "The privacy_level is not one of the creator's privacy_level_options.");
    }
    if (!clients.get(grant.client_id)?.audited && privacy !== "SELF_ONLY") {
      return fail(403, "unaudited_client_can_only_post_to_private_accounts", "Unaudited clients can only post to private accounts.");
    }
    const source = sourceInfo.source;
    const publishId = `${source === "PULL_FROM_URL" ? "v_pub_url" : "v_pub_file"}~v2-1.${snowflakeId(ctx.now())}`;
    const common = { publishId, accountId: grant.account_id, title, privacy, injected: injected ?? null };

    if (source === "PULL_FROM_URL") {
      const videoUrl = sourceInfo.video_url;
      if (typeof videoUrl !== "string" || !/^https?:\/\//.test(videoUrl)) return fail(400, "invalid_params", "video_url is required.");
      if (!(await isVerified(videoUrl))) return fail(403, "url_ownership_unverified", "The domain or URL prefix of video_url is not verified for this app.");
      await insertPublish(common, { source, status: "PROCESSING_DOWNLOAD", videoUrl });
      return envelope(200, { publish_id: publishId });
    }
    if (source !== "FILE_UPLOAD") return fail(400, "invalid_params", "source_info.source must be FILE_UPLOAD or PULL_FROM_URL.");
    const plan = chunkPlanError(sourceInfo);
    if (typeof plan === "string") return fail(400, "invalid_params", plan);
    const uploadToken = randomToken(24);
    await insertPublish(common, { source, status: "PROCESSING_UPLOAD", uploadToken, ...plan });
    const uploadUrl = `${ctx.baseUrl}/video/?upload_id=${encodeURIComponent(publishId)}&upload_token=${uploadToken}`;
    return envelope(200, { publish_id: publishId, upload_url: uploadUrl });
  }

  /** TikTok's own answer for a category that fails at init (the processing categories fail later). */
  function injectedAtInit(category: ErrorCategory): Response | undefined {
    switch (category) {
      case "rate_limited":
        return fail(429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later.");
      case "auth_error":
        return fail(401, "access_token_invalid", "The access token is invalid or not found in the request.");
      case "network_error":
        return fail(500, "internal_error", "Something went wrong. Please try again later.");
      case "unknown":
        return fail(400, "invalid_params", "The request parameters are invalid.");
      default:
        return undefined;
    }
  }

  async function insertPublish(
    p: { publishId: string; accountId: string; title: string; privacy: string; injected: string | null },
    source: { source: string; status: string; videoUrl?: string; uploadToken?: string; videoSize?: number; chunkSize?: number; chunkCount?: number },
  ): Promise<void> {
    await ctx.sql`
      insert into local_sandbox.tiktok_publishes (publish_id, account_id, source, upload_token, video_url, video_size, chunk_size,
        chunk_count, title, privacy_level, status, injected, created_at)
      values (${p.publishId}, ${p.accountId}, ${source.source}, ${source.uploadToken ?? null}, ${source.videoUrl ?? null},
        ${source.videoSize ?? null}, ${source.chunkSize ?? null}, ${source.chunkCount ?? null}, ${p.title}, ${p.privacy},
        ${source.status}, ${p.injected}, ${ctx.now()})`;
    await createMedia(ctx, NETWORK, { id: p.publishId, accountId: p.accountId, state: source.status, sizeBytes: source.videoSize });
  }

  async function uploadChunk(req: Request): Promise<Response> {
    const q = new URL(req.url).searchParams;
    const [row] = await ctx.sql<PublishRow[]>`
      select ${ctx.sql.unsafe(PUBLISH_COLUMNS)} from local_sandbox.tiktok_publishes
      where upload_token = ${q.get("upload_token") ?? ""} and publish_id = ${q.get("upload_id") ?? ""}`;
    const refuse = (code: string, message: string, status = 400) => refuseUpload(req, fail(status, code, message));
    if (!row) return refuse("invalid_params", "The upload_id or upload_token is invalid.", 404);
    const size = Number(row.video_size);
    const received = Number(row.received);
    if (received >= size) return refuse("invalid_file_upload", "The upload is already complete.");
    const contentType = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (!VIDEO_TYPES.has(contentType)) return refuse("invalid_file_upload", "Content-Type must be video/mp4, video/quicktime or video/webm.");
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(req.headers.get("content-range") ?? "");
    if (!range) return refuse("invalid_file_upload", "Content-Range is missing or malformed.");
    const [first, last, total] = [Number(range[1]), Number(range[2]), Number(range[3])];
    if (total !== size) return refuse("invalid_file_upload", "The total in Content-Range does not match video_size.");
    if (first !== received) return refuse("invalid_file_upload", `Chunks must be sent in order: expected the range to start at ${received}.`);
    const chunkSize = Number(row.chunk_size);
    const index = Math.floor(first / chunkSize);
    const isLast = index === row.chunk_count! - 1;
    const expectedLast = isLast ? size - 1 : first + chunkSize - 1;
    if (first % chunkSize !== 0 || last !== expectedLast) {
      return refuse("invalid_file_upload", `Chunk ${index} must cover bytes ${first}-${expectedLast}.`);
    }
    const expectedLength = last - first + 1;
    const bytes = await readBytes(req, tiktokSandboxConfig.maxFinalChunkBytes, () => fail(413, "invalid_file_upload", "The chunk is too large."));
    if (bytes.byteLength !== expectedLength) return fail(400, "invalid_file_upload", "The chunk's length does not match its Content-Range.");
    const updated = await ctx.sql`
      update local_sandbox.tiktok_publishes
      set bytes = coalesce(bytes, ''::bytea) || ${bytes}, received = received + ${bytes.byteLength}
      where publish_id = ${row.publish_id} and received = ${first}
      returning received`;
    if (!updated.length) return refuse("invalid_file_upload", "Chunks must be sent in order.");
    return empty(isLast ? 201 : 206);
  }

  async function statusFetch(req: Request): Promise<Response> {
    const grant = await user(req, ["video.publish", "video.upload"]);
    await limit(req, "status_fetch", tiktokSandboxConfig.statusPerMinute);
    const body = await readJsonObject(req, () => fail(400, "invalid_params", "The request body is not valid JSON."));
    const publishId = typeof body.publish_id === "string" ? body.publish_id : "";
    const row = await ctx.sql.begin(async (tx) => {
      const [locked] = await tx<PublishRow[]>`
        select ${tx.unsafe(PUBLISH_COLUMNS)} from local_sandbox.tiktok_publishes where publish_id = ${publishId} for update`;
      if (!locked || locked.account_id !== grant.account_id) return undefined;
      return advance(tx, locked);
    });
    if (!row) return fail(400, "invalid_params", "The publish_id does not exist.");
    const data: Record<string, unknown> = { status: row.status };
    if (row.source === "FILE_UPLOAD") data.uploaded_bytes = Number(row.received);
    else data.downloaded_bytes = row.status === "PROCESSING_DOWNLOAD" ? 0 : Number(row.video_size ?? 0);
    if (row.fail_reason) data.fail_reason = row.fail_reason;
    // The post id is an int64: written as a bare JSON number, as TikTok does (too large for a JavaScript number).
    const ids = row.status === "PUBLISH_COMPLETE" && row.post_id && row.privacy_level !== "SELF_ONLY" ? [row.post_id] : [];
    const text = JSON.stringify({ data: { ...data, publicaly_available_post_id: "__IDS__" }, error: { code: "ok", message: "", log_id: logId(ctx.now()) } });
    return new Response(text.replace('"__IDS__"', `[${ids.join(",")}]`), { status: 200, headers: { "content-type": "application/json" } });
  }

  /** One status fetch's worth of processing: counts the fetch and, after enough of them, decides the outcome. */
  async function advance(tx: TransactionSql, row: PublishRow): Promise<PublishRow> {
    const uploaded = row.source === "PULL_FROM_URL" || Number(row.received) >= Number(row.video_size);
    if (!uploaded || row.status === "PUBLISH_COMPLETE" || row.status === "FAILED") return row;
    const fetches = row.fetches + 1;
    const done = fetches >= tiktokSandboxConfig.completeAfterFetches && row.injected !== "media_processing";
    const next: Processed = done ? await processVideo(row) : { status: row.status };
    const [updated] = await tx<PublishRow[]>`
      update local_sandbox.tiktok_publishes
      set fetches = ${fetches}, status = ${next.status}, fail_reason = ${next.failReason ?? null}, post_id = ${next.postId ?? null},
          bytes = case when ${done} then null else bytes end
      where publish_id = ${row.publish_id}
      returning ${tx.unsafe(PUBLISH_COLUMNS)}`;
    // The shared helpers only run queries, which the transaction can run as well as the pool.
    const txCtx = { ...ctx, sql: tx as unknown as Sql };
    await setMediaState(txCtx, NETWORK, [row.publish_id], next.status, next.video);
    if (next.postId) {
      const media = [{ id: row.publish_id, mimeType: next.video?.mimeType ?? null, sizeBytes: next.video?.sizeBytes ?? null }];
      await recordPost(txCtx, NETWORK, { id: next.postId, accountId: row.account_id, text: row.title, media });
    }
    return updated!;
  }

  /** TikTok's ingest checks on the complete video: container, duration, and the injected processing failure. */
  async function processVideo(row: PublishRow): Promise<Processed> {
    let bytes: Buffer;
    if (row.source === "PULL_FROM_URL") {
      try {
        bytes = Buffer.from((await pullClient.download(row.video_url!, { maxBytes: tiktokSandboxConfig.maxVideoBytes })).bytes);
      } catch {
        return { status: "FAILED", failReason: "video_pull_failed" };
      }
    } else {
      const [stored] = await ctx.sql<{ bytes: Buffer | null }[]>`select bytes from local_sandbox.tiktok_publishes where publish_id = ${row.publish_id}`;
      bytes = stored?.bytes ?? Buffer.alloc(0);
    }
    const video = sniffVideo(bytes);
    const facts = { mimeType: video?.mimeType ?? null, sizeBytes: bytes.byteLength, sha256: sha256Hex(bytes) };
    if (row.injected === "media_error" || !video) return { status: "FAILED", failReason: "file_format_check_failed", video: facts };
    if (video.durationSeconds !== undefined && video.durationSeconds > tiktokSandboxConfig.maxVideoPostDurationSec) {
      return { status: "FAILED", failReason: "duration_check_failed", video: facts };
    }
    return { status: "PUBLISH_COMPLETE", postId: snowflakeId(ctx.now()), video: facts };
  }

  // --- control -------------------------------------------------------------------------------------------------------

  async function verifiedPrefixes(req: Request): Promise<Response> {
    if (req.method === "POST") {
      const body = await readJsonObject(req, () => json(400, { error: "expected {\"prefix\": \"https://…\"}" }));
      const prefix = body.prefix;
      if (typeof prefix !== "string" || !/^https?:\/\/[^/]+\//.test(prefix)) return json(400, { error: "prefix must be an http(s) URL prefix ending in a path" });
      await ctx.sql`insert into local_sandbox.tiktok_verified_prefixes (prefix) values (${prefix}) on conflict do nothing`;
    }
    const rows = await ctx.sql<{ prefix: string }[]>`select prefix from local_sandbox.tiktok_verified_prefixes order by created_at`;
    return json(200, { prefixes: [`${origin}/storage/v1/object/public/`, ...rows.map((r) => r.prefix)] });
  }

  const routes = dispatcher(
    "tiktok sandbox",
    {
      "GET /__sandbox/verified-url-prefixes": (req) => verifiedPrefixes(req),
      "POST /__sandbox/verified-url-prefixes": (req) => verifiedPrefixes(req),
      "* /__sandbox/*": (req, params) => handleControl(ctx, NETWORK, req, `/${params["*"]!}`),
      "GET /v2/auth/authorize/": (req) => consent(req),
      "POST /v2/oauth/token/": (req) => token(req),
      "POST /v2/oauth/revoke/": (req) => revoke(req),
      "GET /v2/user/info/": (req) => userInfo(req),
      "POST /v2/post/publish/creator_info/query/": (req) => creatorInfo(req),
      "POST /v2/video/query/": (req) => videoQuery(req),
      "POST /v2/post/publish/video/init/": (req) => videoInit(req),
      "POST /v2/post/publish/status/fetch/": (req) => statusFetch(req),
      "PUT /video/": (req) => uploadChunk(req),
    },
    {
      notFound: (method, path) => fail(404, "invalid_params", `No such endpoint: ${method} ${path}`),
      methodNotAllowed: (method, path) => fail(405, "invalid_params", `Method not allowed: ${method} ${path}`),
    },
  );

  return async (req, path) => {
    await ready();
    return routes(req, path);
  };
}

/** TikTok's chunk rules for FILE_UPLOAD, as the error message TikTok would give, or the plan. */
function chunkPlanError(source: Record<string, unknown>): string | { videoSize: number; chunkSize: number; chunkCount: number } {
  const { video_size: size, chunk_size: chunk, total_chunk_count: count } = source;
  const c = tiktokSandboxConfig;
  if (typeof size !== "number" || !Number.isInteger(size) || size <= 0) return "video_size must be a positive integer.";
  if (size > c.maxVideoBytes) return `video_size is larger than the sandbox accepts (${c.maxVideoBytes} bytes).`;
  if (typeof chunk !== "number" || typeof count !== "number" || !Number.isInteger(chunk) || !Number.isInteger(count)) {
    return "chunk_size and total_chunk_count are required.";
  }
  if (size < c.minChunkBytes) {
    return chunk === size && count === 1 ? { videoSize: size, chunkSize: chunk, chunkCount: count } : "A video under 5 MB must be sent whole.";
  }
  if (chunk < c.minChunkBytes || chunk > c.maxChunkBytes) return "chunk_size must be between 5 MB and 64 MB.";
  if (count !== Math.floor(size / chunk) || count < 1 || count > 1000) return "total_chunk_count must be floor(video_size / chunk_size).";
  if (size - (count - 1) * chunk > c.maxFinalChunkBytes) return "The final chunk may be at most 128 MB.";
  return { videoSize: size, chunkSize: chunk, chunkCount: count };
}
