import { randomBytes } from "node:crypto";
import type { TransactionSql } from "postgres";
import { sniffVideo } from "../platforms/sniff-video.js";
import type { ErrorCategory } from "../platforms/types.js";
import { clientsWithRuntimeApps, sandboxClients } from "./clients.js";
import {
  dispatcher,
  authorize,
  checkAccessToken,
  createMedia,
  handleControl,
  htmlPage,
  injectedFailure,
  issueTokens,
  json,
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
  type Grant,
  type NetworkHandler,
  type SandboxContext,
  type Sql,
} from "./common.js";
import { networkTables } from "./network-tables.js";
import { refuseUpload } from "./refuse-upload.js";

/**
 * The YouTube sandbox, at the paths the adapter calls on accounts.google.com, oauth2.googleapis.com and
 * www.googleapis.com:
 *
 *   GET  /o/oauth2/v2/auth                                  consent (space-separated scopes, PKCE S256), approves at
 *                                                           once; a refresh token only with access_type=offline
 *   POST /token                                             authorization_code and refresh_token grants (client in
 *                                                           the form or HTTP Basic); refresh tokens do not rotate
 *   POST /revoke                                            revoke a token
 *   GET  /youtube/v3/channels?part=…&mine=true              the signed-in channel
 *   POST /upload/youtube/v3/videos?uploadType=resumable     videos.insert, step 1: metadata → 200 + Location
 *   PUT  /upload/youtube/v3/videos?…&upload_id=…            step 2: the bytes, whole or in chunks with Content-Range;
 *                                                           308 + Range until the last byte (a non-final chunk keeps
 *                                                           only its whole 256 KiB units, as Google does), then 201
 *                                                           with the video; `bytes *\/N` probes the session
 *   GET  /youtube/v3/videos?part=status,processingDetails&id=…   uploaded/processing for the first list, then
 *                                                           processed/succeeded (or failed: not a video container)
 *
 * Errors are Google's `{ error: { code, message, errors: [{ message, domain, reason }], status } }`. Quota is per
 * project (client) and Pacific day: 100 videos.insert calls, 10,000 units for everything else (1 per call); past it,
 * 403 `quotaExceeded`. The registered client belongs to an unaudited API project, so every upload is locked private
 * whatever privacyStatus was asked for (as Google does for projects created after 2020-07-28).
 *
 * Injected failures (`[sandbox:<category>]` in the text): rate_limited 403 `quotaExceeded`, auth_error 401
 * `authError`, network_error 503 `backendError`, unknown 400 `invalidVideoMetadata`, all on the session POST; in
 * processing, media_error → uploadStatus failed (`codec`), duplicate → rejected (`duplicate`, YouTube's own
 * rejection reason), media_processing → processing for ever. The same text twice is not a duplicate (YouTube takes
 * re-uploads).
 */

const NETWORK = "youtube";
// Apps registered at runtime (the developer portal, src/sandbox/clients.ts) are unaudited projects too.
const clients: ReadonlyMap<string, { clientId: string; clientSecret: string; projectAudited: boolean }> = clientsWithRuntimeApps(
  "youtube",
  [[sandboxClients.youtube.clientId, { ...sandboxClients.youtube, projectAudited: false }]],
  { projectAudited: false },
);

export const youtubeSandboxConfig = {
  accessTokenSeconds: 3599,
  codeSeconds: 10 * 60,
  insertsPerDay: 100,
  unitsPerDay: 10_000,
  /** videos.list calls on an uploaded video before its processing ends. */
  completeAfterLists: 2,
  /** YouTube takes 256 GB; the sandbox keeps the bytes in Postgres until the upload completes, so it takes less. */
  maxVideoBytes: 256 * 1024 * 1024,
  chunkUnitBytes: 256 * 1024,
  titleMaxChars: 100,
  descriptionMaxBytes: 5000,
  categoryIds: new Set(["1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"]),
  scopes: new Set([
    "https://www.googleapis.com/auth/youtube",
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.readonly",
    "https://www.googleapis.com/auth/youtube.force-ssl",
    "https://www.googleapis.com/auth/yt-analytics.readonly",
    "openid",
    "email",
    "profile",
  ]),
} as const;

const SCOPE = "https://www.googleapis.com/auth/";
const READ_SCOPES = [`${SCOPE}youtube.readonly`, `${SCOPE}youtube`, `${SCOPE}youtube.force-ssl`];
const UPLOAD_SCOPES = [`${SCOPE}youtube.upload`, `${SCOPE}youtube`, `${SCOPE}youtube.force-ssl`];

const ddl = `
create table if not exists local_sandbox.youtube_offline_grants (
  family text primary key
);
create table if not exists local_sandbox.youtube_quota (
  client_id text not null,
  day       date not null,
  bucket    text not null,
  used      integer not null,
  primary key (client_id, day, bucket)
);
create table if not exists local_sandbox.youtube_uploads (
  upload_id    text primary key,
  account_id   text not null,
  client_id    text not null,
  snippet      jsonb not null,
  status       jsonb not null,
  total        bigint not null,
  content_type text not null,
  received     bigint not null default 0,
  bytes        bytea,
  injected     text,
  video_id     text,
  created_at   timestamptz not null default now()
);
-- The largest single PUT body of the upload: what the client held at once (tests bound it by the memory budget).
alter table local_sandbox.youtube_uploads add column if not exists largest_chunk bigint not null default 0;
create table if not exists local_sandbox.youtube_videos (
  id          text primary key,
  account_id  text not null,
  snippet     jsonb not null,
  status      jsonb not null,
  processing  jsonb not null,
  lists       integer not null default 0,
  injected    text,
  readable    boolean not null,
  created_at  timestamptz not null default now()
);
`;

/** Every upload column but the bytes, which are read only once the last one has arrived. */
const UPLOAD_COLUMNS = "upload_id, account_id, client_id, snippet, status, total, content_type, received, injected, video_id, created_at";

interface UploadRow {
  upload_id: string;
  account_id: string;
  client_id: string;
  snippet: Record<string, unknown>;
  status: Record<string, unknown>;
  total: string;
  content_type: string;
  received: string;
  injected: string | null;
  video_id: string | null;
  created_at: Date;
}

interface VideoRow {
  id: string;
  account_id: string;
  snippet: Record<string, unknown>;
  status: Record<string, unknown>;
  processing: Record<string, unknown>;
  lists: number;
  injected: string | null;
  readable: boolean;
  created_at: Date;
}

/** Google's error envelope. */
function googleError(code: number, reason: string, message: string, options: { domain?: string; status?: string; detail?: string } = {}): Response {
  const error = { message: options.detail ?? message, domain: options.domain ?? "global", reason };
  return json(code, { error: { code, message, errors: [error], ...(options.status ? { status: options.status } : {}) } });
}

const errors = {
  auth: () =>
    json(401, {
      error: {
        code: 401,
        message:
          "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        errors: [{ message: "Invalid Credentials", domain: "global", reason: "authError", location: "Authorization", locationType: "header" }],
        status: "UNAUTHENTICATED",
      },
    }),
  scopes: () =>
    googleError(403, "insufficientPermissions", "Request had insufficient authentication scopes.", {
      status: "PERMISSION_DENIED",
      detail: "Insufficient Permission",
    }),
  quota: () =>
    googleError(403, "quotaExceeded", 'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">quota</a>.', {
      domain: "youtube.quota",
    }),
  backend: () => googleError(503, "backendError", "Backend Error", { status: "UNAVAILABLE" }),
  invalid: (reason: string, message: string) => googleError(400, reason, message, { domain: "youtube.video", status: "INVALID_ARGUMENT" }),
};

/** The date of the quota day (YouTube's quota resets at midnight Pacific time). */
function pacificDay(now: Date): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "America/Los_Angeles", year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

const videoId = () => randomBytes(8).toString("base64url").slice(0, 11);
const channelId = () => `UC${randomBytes(16).toString("base64url").slice(0, 22)}`;

export function createYouTubeSandbox(ctx: SandboxContext): NetworkHandler {
  const ready = networkTables(ctx.sql, NETWORK, ddl);

  async function member(req: Request, scopes: string[]): Promise<Grant> {
    const check = await checkAccessToken(ctx, NETWORK, req);
    if (!check.ok) throw new Reply(errors.auth());
    if (!scopes.some((s) => check.grant.scopes.includes(s))) throw new Reply(errors.scopes());
    return check.grant;
  }

  /** Spends one call of the project's daily quota in `bucket`; past it, 403 quotaExceeded. */
  async function spendQuota(clientId: string, bucket: "insert" | "units"): Promise<void> {
    const limit = bucket === "insert" ? youtubeSandboxConfig.insertsPerDay : youtubeSandboxConfig.unitsPerDay;
    const [row] = await ctx.sql<{ used: number }[]>`
      insert into local_sandbox.youtube_quota (client_id, day, bucket, used) values (${clientId}, ${pacificDay(ctx.now())}, ${bucket}, 1)
      on conflict (client_id, day, bucket) do update set used = local_sandbox.youtube_quota.used + 1
      returning used`;
    if (row!.used > limit) throw new Reply(errors.quota());
  }

  // --- OAuth -------------------------------------------------------------------------------------------------------

  async function consent(req: Request): Promise<Response> {
    const res = await authorize(ctx, req, {
      network: NETWORK,
      clients,
      pkce: "required",
      scopeSeparator: /[\s+]+/,
      knownScopes: youtubeSandboxConfig.scopes,
      codeTtlSeconds: youtubeSandboxConfig.codeSeconds,
      denial: { error: "access_denied" },
      newAccount: (username) => ({ id: channelId(), name: `Sandbox ${username}` }),
      errorPage: (message) => htmlPage(400, "Sign in - Google Accounts", `Access blocked: Authorization Error. ${message}`),
    });
    // Google issues a refresh token only for offline access: remember which consents asked for it.
    const code = res.headers.get("location") ? new URL(res.headers.get("location")!).searchParams.get("code") : null;
    if (code && new URL(req.url).searchParams.get("access_type") === "offline") {
      await ctx.sql`
        insert into local_sandbox.youtube_offline_grants (family)
        select family from local_sandbox.grants where token = ${code} and network = ${NETWORK}
        on conflict do nothing`;
    }
    return res;
  }

  const token = (req: Request) =>
    tokenEndpoint(ctx, req, {
      network: NETWORK,
      clients,
      clientAuth: "basic-or-form",
      tooLarge: () => json(413, { error: "invalid_request", error_description: "Request too large" }),
      badClient: () => json(401, { error: "invalid_client", error_description: "Unauthorized" }),
      code: {
        invalid: () => json(400, { error: "invalid_grant", error_description: "Bad Request" }),
        redirectMismatch: () => json(400, { error: "redirect_uri_mismatch", error_description: "Bad Request" }),
        pkce: { when: "when-challenged", mismatch: () => json(400, { error: "invalid_grant", error_description: "Invalid code verifier." }) },
      },
      refresh: { mode: "reuse", invalid: () => json(400, { error: "invalid_grant", error_description: "Token has been expired or revoked." }) },
      unsupportedGrant: (grantType) => json(400, { error: "unsupported_grant_type", error_description: `Invalid grant_type: ${grantType ?? ""}` }),
      async issue(from, grantType) {
        if (grantType === "refresh_token") {
          const issued = await issueTokens(ctx, NETWORK, from, { accessTtlSeconds: youtubeSandboxConfig.accessTokenSeconds });
          return json(200, { access_token: issued.accessToken, expires_in: issued.accessExpiresIn, scope: from.scopes.join(" "), token_type: "Bearer" });
        }
        const [offline] = await ctx.sql`select 1 from local_sandbox.youtube_offline_grants where family = ${from.family}`;
        const issued = await issueTokens(ctx, NETWORK, from, {
          accessTtlSeconds: youtubeSandboxConfig.accessTokenSeconds,
          refreshTtlSeconds: offline ? null : undefined,
        });
        return json(200, {
          access_token: issued.accessToken,
          expires_in: issued.accessExpiresIn,
          ...(issued.refreshToken ? { refresh_token: issued.refreshToken } : {}),
          scope: from.scopes.join(" "),
          token_type: "Bearer",
        });
      },
    });

  async function revoke(req: Request): Promise<Response> {
    const form = await readForm(req, () => json(413, { error: "invalid_request" }));
    const token = new URL(req.url).searchParams.get("token") ?? form.get("token") ?? "";
    if (!(await revokeToken(ctx, NETWORK, token))) return json(400, { error: "invalid_token", error_description: "Token expired or revoked" });
    return json(200, {});
  }

  // --- channels ------------------------------------------------------------------------------------------------------

  async function channels(req: Request): Promise<Response> {
    const grant = await member(req, READ_SCOPES);
    await spendQuota(grant.client_id, "units");
    const q = new URL(req.url).searchParams;
    const parts = (q.get("part") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
    if (!parts.length) return googleError(400, "required", "Required parameter: part", { status: "INVALID_ARGUMENT" });
    if (q.get("mine") !== "true") return googleError(400, "missingRequiredParameter", "This sandbox lists the signed-in channel only (mine=true).");
    const [row] = await ctx.sql<{ id: string; username: string; name: string; created_at: Date }[]>`
      select id, username, name, created_at from local_sandbox.accounts where network = ${NETWORK} and id = ${grant.account_id}`;
    const handle = `@${row!.username.toLowerCase()}`;
    const resource: Record<string, unknown> = { kind: "youtube#channel", etag: sha256Hex(row!.id).slice(0, 27), id: row!.id };
    if (parts.includes("snippet")) {
      resource.snippet = {
        title: row!.name,
        description: "",
        customUrl: handle,
        publishedAt: row!.created_at.toISOString(),
        thumbnails: { default: { url: `https://yt3.ggpht.com/sandbox/${row!.id}=s88-c-k-c0x00ffffff-no-rj`, width: 88, height: 88 } },
        localized: { title: row!.name, description: "" },
      };
    }
    if (parts.includes("status")) resource.status = { privacyStatus: "public", isLinked: true, longUploadsStatus: "allowed", madeForKids: false };
    if (parts.includes("statistics")) {
      const [videos] = await ctx.sql<{ n: number }[]>`select count(*)::int as n from local_sandbox.posts where network = ${NETWORK} and account_id = ${row!.id}`;
      const subscribers = await accountFollowers(ctx, NETWORK, row!.id);
      resource.statistics = { viewCount: String(subscribers * 37), subscriberCount: String(subscribers), hiddenSubscriberCount: false, videoCount: String(videos!.n) };
    }
    const etag = sha256Hex(`${row!.id}:list`).slice(0, 27);
    return json(200, { kind: "youtube#channelListResponse", etag, pageInfo: { totalResults: 1, resultsPerPage: 5 }, items: [resource] });
  }

  // --- videos.insert (resumable) -------------------------------------------------------------------------------------

  async function startUpload(req: Request): Promise<Response> {
    const grant = await member(req, UPLOAD_SCOPES);
    const q = new URL(req.url).searchParams;
    if (q.get("uploadType") !== "resumable") return googleError(400, "badRequest", "This sandbox supports uploadType=resumable only.");
    const parts = (q.get("part") ?? "").split(",").map((p) => p.trim());
    if (!parts.includes("snippet")) return googleError(400, "required", "Required parameter: part", { status: "INVALID_ARGUMENT" });
    const total = Number(req.headers.get("x-upload-content-length"));
    const contentType = (req.headers.get("x-upload-content-type") ?? "").toLowerCase();
    if (!contentType.startsWith("video/") && contentType !== "application/octet-stream") {
      return googleError(400, "badContent", `Media type '${contentType}' is not supported. Valid media types: [video/*, application/octet-stream]`);
    }
    if (!Number.isInteger(total) || total <= 0) return googleError(400, "badRequest", "X-Upload-Content-Length must be the size of the video in bytes.");
    if (total > youtubeSandboxConfig.maxVideoBytes) {
      return googleError(400, "uploadTooLarge", `The sandbox takes videos up to ${youtubeSandboxConfig.maxVideoBytes} bytes.`);
    }
    const body = await readJsonObject(req, () => googleError(400, "parseError", "Parse Error"));
    const snippet = (body.snippet ?? {}) as Record<string, unknown>;
    const status = (body.status ?? {}) as Record<string, unknown>;
    const title = typeof snippet.title === "string" ? snippet.title : "";
    const description = typeof snippet.description === "string" ? snippet.description : "";

    const injected = await injectedFailure(ctx, NETWORK, grant.account_id, description || title);
    const early = injected ? injectedAtInsert(injected) : undefined;
    if (early) return early;
    await spendQuota(grant.client_id, "insert");

    const invalid = metadataError(snippet, status, title, description);
    if (invalid) return invalid;
    const uploadId = `AUxP${randomBytes(30).toString("base64url")}`;
    await ctx.sql`
      insert into local_sandbox.youtube_uploads (upload_id, account_id, client_id, snippet, status, total, content_type, injected, created_at)
      values (${uploadId}, ${grant.account_id}, ${grant.client_id}, ${ctx.sql.json(snippet as never)}, ${ctx.sql.json(status as never)},
              ${total}, ${contentType}, ${injected ?? null}, ${ctx.now()})`;
    const location = `${ctx.baseUrl}/upload/youtube/v3/videos?uploadType=resumable&part=${encodeURIComponent(parts.join(","))}&upload_id=${uploadId}`;
    return new Response(null, { status: 200, headers: { location, "x-guploader-uploadid": uploadId } });
  }

  /** Google's own answer for a category that fails at the session POST (the processing categories fail later). */
  function injectedAtInsert(category: ErrorCategory): Response | undefined {
    switch (category) {
      case "rate_limited":
        return errors.quota();
      case "auth_error":
        return errors.auth();
      case "network_error":
        return errors.backend();
      case "unknown":
        return errors.invalid("invalidVideoMetadata", "The request metadata is invalid.");
      default:
        return undefined;
    }
  }

  async function putBytes(req: Request): Promise<Response> {
    const uploadId = new URL(req.url).searchParams.get("upload_id") ?? "";
    const [session] = await ctx.sql<UploadRow[]>`
      select ${ctx.sql.unsafe(UPLOAD_COLUMNS)} from local_sandbox.youtube_uploads where upload_id = ${uploadId}`;
    if (!session) return refuseUpload(req, googleError(404, "notFound", "Not Found", { status: "NOT_FOUND" }));
    const total = Number(session.total);
    const received = Number(session.received);
    const range = req.headers.get("content-range");
    if (session.video_id) return refuseUpload(req, json(201, await videoResource(session.video_id)));
    const incomplete = (have: number) =>
      new Response(null, { status: 308, headers: have > 0 ? { range: `bytes=0-${have - 1}`, "x-range-md5": "sandbox" } : {} });
    if (range && /^bytes \*\/\d+$/.test(range)) return incomplete(received);
    // Without Content-Range the body is the whole file.
    let [first, last] = [0, total - 1];
    if (range) {
      const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range);
      if (!match) return refuseUpload(req, googleError(400, "badRequest", "Invalid Content-Range"));
      if (Number(match[3]) !== total) return refuseUpload(req, googleError(400, "badRequest", "Content-Range total does not match X-Upload-Content-Length"));
      [first, last] = [Number(match[1]), Number(match[2])];
    }
    if (first !== received || last < first || last >= total) {
      // Not where the session is: say what it holds, so the client resumes from there.
      return refuseUpload(req, incomplete(received));
    }
    const length = last - first + 1;
    const bytes = await readBytes(req, youtubeSandboxConfig.maxVideoBytes, () => googleError(413, "uploadTooLarge", "The body is too large"));
    if (bytes.byteLength !== length) return googleError(400, "badRequest", "The body's length does not match its Content-Range");
    const final = last === total - 1;
    // A non-final chunk is kept in whole 256 KiB units only; the client resends the rest from the Range.
    const kept = final ? bytes : bytes.subarray(0, Math.floor(bytes.byteLength / youtubeSandboxConfig.chunkUnitBytes) * youtubeSandboxConfig.chunkUnitBytes);
    const [stored] = await ctx.sql<{ received: string }[]>`
      update local_sandbox.youtube_uploads set bytes = coalesce(bytes, ''::bytea) || ${kept}, received = received + ${kept.byteLength},
        largest_chunk = greatest(largest_chunk, ${bytes.byteLength})
      where upload_id = ${uploadId} and received = ${received} and video_id is null
      returning received`;
    if (!stored) return incomplete(received);
    if (!final) return incomplete(Number(stored.received));
    return json(201, await videoResource(await completeUpload(uploadId)));
  }

  /** The last byte arrived: the video exists (uploaded), to be processed over the next list calls. */
  async function completeUpload(uploadId: string): Promise<string> {
    return ctx.sql.begin(async (tx) => {
      const [session] = await tx<(UploadRow & { bytes: Buffer | null })[]>`
        select ${tx.unsafe(UPLOAD_COLUMNS)}, bytes from local_sandbox.youtube_uploads where upload_id = ${uploadId} for update`;
      if (session!.video_id) return session!.video_id;
      const id = videoId();
      const bytes = session!.bytes ?? Buffer.alloc(0);
      const video = sniffVideo(bytes);
      const requested = typeof session!.status.privacyStatus === "string" ? session!.status.privacyStatus : "public";
      const audited = clients.get(session!.client_id)?.projectAudited ?? false;
      const status = {
        uploadStatus: "uploaded",
        privacyStatus: audited ? requested : "private",
        license: "youtube",
        embeddable: session!.status.embeddable ?? true,
        publicStatsViewable: true,
        selfDeclaredMadeForKids: session!.status.selfDeclaredMadeForKids ?? false,
      };
      const snippet = {
        ...session!.snippet,
        publishedAt: ctx.now().toISOString(),
        channelId: session!.account_id,
        thumbnails: { default: { url: `https://i.ytimg.com/vi/${id}/default.jpg`, width: 120, height: 90 } },
        liveBroadcastContent: "none",
      };
      await tx`
        insert into local_sandbox.youtube_videos (id, account_id, snippet, status, processing, injected, readable, created_at)
        values (${id}, ${session!.account_id}, ${tx.json(snippet as never)}, ${tx.json(status as never)},
                ${tx.json({ processingStatus: "processing" } as never)}, ${session!.injected}, ${video !== undefined && bytes.byteLength > 0}, ${ctx.now()})`;
      await tx`update local_sandbox.youtube_uploads set video_id = ${id}, bytes = null where upload_id = ${uploadId}`;
      await createMedia(txContext(tx), NETWORK, {
        id,
        accountId: session!.account_id,
        state: "uploaded",
        mimeType: video?.mimeType ?? session!.content_type,
        sizeBytes: bytes.byteLength,
        sha256: sha256Hex(bytes),
      });
      return id;
    });
  }

  // --- videos.list -----------------------------------------------------------------------------------------------------

  async function listVideos(req: Request): Promise<Response> {
    const grant = await member(req, READ_SCOPES);
    await spendQuota(grant.client_id, "units");
    const q = new URL(req.url).searchParams;
    const parts = (q.get("part") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
    const known = new Set(["id", "snippet", "status", "processingDetails", "statistics"]);
    const unknown = parts.find((p) => !known.has(p));
    if (!parts.length || unknown) return googleError(400, "unknownPart", `'${unknown ?? ""}'`, { status: "INVALID_ARGUMENT" });
    const ids = (q.get("id") ?? "").split(",").map((id) => id.trim()).filter(Boolean).slice(0, 50);
    if (parts.includes("statistics")) {
      const posts = [];
      for (const id of ids) {
        const post = await findPost(ctx, NETWORK, id);
        if (post) posts.push(post);
      }
      const failure = await metricsFailure(ctx, NETWORK, posts);
      if (failure === "garbage") return garbageResponse();
      if (failure) return injectedAtInsert(failure)!;
    }
    const items = [];
    for (const id of ids) {
      const row = await ctx.sql.begin(async (tx) => {
        const [locked] = await tx<VideoRow[]>`select * from local_sandbox.youtube_videos where id = ${id} for update`;
        return locked && locked.account_id === grant.account_id ? advance(tx, locked) : undefined;
      });
      if (!row) continue;
      const item: Record<string, unknown> = { kind: "youtube#video", etag: sha256Hex(`${row.id}:${row.lists}`).slice(0, 27), id: row.id };
      if (parts.includes("snippet")) item.snippet = row.snippet;
      if (parts.includes("status")) item.status = row.status;
      if (parts.includes("processingDetails")) item.processingDetails = row.processing;
      if (parts.includes("statistics")) {
        // Counts are strings on YouTube; a video not processed yet has none.
        const post = await findPost(ctx, NETWORK, row.id);
        const m = post ? await postMetrics(ctx, NETWORK, post) : undefined;
        item.statistics = {
          viewCount: String(m?.videoViews ?? 0),
          likeCount: String(m?.likes ?? 0),
          favoriteCount: "0",
          commentCount: String(m?.comments ?? 0),
        };
      }
      items.push(item);
    }
    const pageInfo = { totalResults: items.length, resultsPerPage: items.length };
    return json(200, { kind: "youtube#videoListResponse", etag: sha256Hex(ids.join(",")).slice(0, 27), items, pageInfo });
  }

  /** One list call's worth of processing: after enough of them the video is processed, or fails as injected. */
  async function advance(tx: TransactionSql, row: VideoRow): Promise<VideoRow> {
    if (row.status.uploadStatus !== "uploaded") return row;
    const lists = row.lists + 1;
    let status = row.status;
    let processing: Record<string, unknown> = {
      processingStatus: "processing",
      processingProgress: { partsTotal: 1000, partsProcessed: Math.min(999, lists * 400), timeLeftMs: 20_000 },
    };
    let published = false;
    if (lists >= youtubeSandboxConfig.completeAfterLists && row.injected !== "media_processing") {
      if (row.injected === "duplicate") {
        status = { ...status, uploadStatus: "rejected", rejectionReason: "duplicate" };
        processing = { processingStatus: "terminated" };
      } else if (row.injected === "media_error" || !row.readable) {
        status = { ...status, uploadStatus: "failed", failureReason: row.readable ? "codec" : "invalidFile" };
        processing = { processingStatus: "failed", processingFailureReason: "transcodeFailed" };
      } else {
        status = { ...status, uploadStatus: "processed" };
        processing = { processingStatus: "succeeded" };
        published = true;
      }
    }
    const [updated] = await tx<VideoRow[]>`
      update local_sandbox.youtube_videos set lists = ${lists}, status = ${tx.json(status as never)}, processing = ${tx.json(processing as never)}
      where id = ${row.id} returning *`;
    const txCtx = txContext(tx);
    await setMediaState(txCtx, NETWORK, [row.id], String(status.uploadStatus));
    if (published) {
      const [media] = await tx<{ mime_type: string | null; size_bytes: number | null }[]>`
        select mime_type, size_bytes from local_sandbox.media where network = ${NETWORK} and id = ${row.id}`;
      const text = String(row.snippet.description || row.snippet.title || "");
      const attached = [{ id: row.id, mimeType: media?.mime_type ?? null, sizeBytes: media?.size_bytes ?? null }];
      await recordPost(txCtx, NETWORK, { id: row.id, accountId: row.account_id, text, media: attached });
    }
    return updated!;
  }

  async function videoResource(id: string): Promise<Record<string, unknown>> {
    const [row] = await ctx.sql<VideoRow[]>`select * from local_sandbox.youtube_videos where id = ${id}`;
    return { kind: "youtube#video", etag: sha256Hex(`${id}:0`).slice(0, 27), id, snippet: row!.snippet, status: row!.status };
  }

  /** The shared helpers only run queries, which a transaction runs as well as the pool. */
  function txContext(tx: TransactionSql): SandboxContext {
    return { ...ctx, sql: tx as unknown as Sql };
  }

  const routes = dispatcher(
    "youtube sandbox",
    {
      "* /__sandbox/*": (req, params) => handleControl(ctx, NETWORK, req, `/${params["*"]!}`),
      "GET /o/oauth2/v2/auth": (req) => consent(req),
      "POST /token": (req) => token(req),
      "POST /revoke": (req) => revoke(req),
      "GET /youtube/v3/channels": (req) => channels(req),
      "POST /upload/youtube/v3/videos": (req) => startUpload(req),
      "PUT /upload/youtube/v3/videos": (req) => putBytes(req),
      "GET /youtube/v3/videos": (req) => listVideos(req),
    },
    {
      notFound: () => googleError(404, "notFound", "Not Found", { status: "NOT_FOUND" }),
      methodNotAllowed: () => googleError(405, "methodNotAllowed", "Method Not Allowed", { status: "METHOD_NOT_ALLOWED" }),
    },
  );

  return async (req, path) => {
    await ready();
    return routes(req, path);
  };
}

/** YouTube's metadata checks on videos.insert, as Google's 400 answer, or undefined when it passes. */
function metadataError(snippet: Record<string, unknown>, status: Record<string, unknown>, title: string, description: string): Response | undefined {
  const c = youtubeSandboxConfig;
  if (!title.trim() || [...title].length > c.titleMaxChars || /[<>]/.test(title)) {
    return errors.invalid("invalidTitle", "The request metadata specifies an invalid or empty video title.");
  }
  if (Buffer.byteLength(description) > c.descriptionMaxBytes || /[<>]/.test(description)) {
    return errors.invalid("invalidDescription", "The request metadata specifies an invalid video description.");
  }
  if (snippet.categoryId !== undefined && !c.categoryIds.has(String(snippet.categoryId))) {
    return errors.invalid("invalidCategoryId", "The snippet.categoryId property specifies an invalid category ID.");
  }
  if (status.privacyStatus !== undefined && !["public", "unlisted", "private"].includes(String(status.privacyStatus))) {
    return errors.invalid("invalidVideoMetadata", "The request metadata is invalid.");
  }
  const tags = snippet.tags;
  if (tags !== undefined && (!Array.isArray(tags) || tags.join(",").length > 500)) {
    return errors.invalid("invalidTags", "The request metadata specifies invalid video keywords.");
  }
  return undefined;
}
