import { randomBytes } from "node:crypto";
import { sniffVideo } from "../platforms/sniff-video.js";
import type { ErrorCategory } from "../platforms/types.js";
import { sandboxClients } from "./clients.js";
import {
  accountById,
  authorize,
  countCall,
  createMedia,
  findDuplicate,
  findMedia,
  handleControl,
  htmlPage,
  injectedFailure,
  issueTokens,
  json,
  randomToken,
  recordPost,
  redeemCode,
  safeDecode,
  SandboxReply,
  sha256Hex,
  sniffImage,
  snowflakeId,
  type Grant,
  type NetworkHandler,
  type SandboxContext,
} from "./common.js";
import { fetchMedia, graphError, graphParams, type GraphErrorFields } from "./meta-graph.js";
import { networkTables } from "./network-tables.js";

/**
 * The Facebook Pages sandbox, at the paths the adapter calls on www.facebook.com and graph.facebook.com
 * (reference/platforms.md §3 and §5). Every path carries a Graph version (`/v21.0` or later):
 *
 *   GET  /{v}/dialog/oauth                 consent (no PKCE; comma-separated scopes), approves at once
 *   GET  /{v}/oauth/access_token           code → short-lived user token (2 h); `grant_type=fb_exchange_token` → a
 *                                          long-lived user token (60 days; the token exchanged keeps working)
 *   GET  /{v}/me                           the user (user token) or the Page (Page token)
 *   GET  /{v}/me/permissions               granted permissions
 *   GET  /{v}/me/accounts                  the user's Pages with their Page tokens and tasks (`limit`, `after`,
 *                                          `paging.next`); a Page token from a long-lived user token never expires
 *   GET  /{v}/{page-id}                    the Page
 *   POST /{v}/{page-id}/feed               text post (`message`) → `{id: "{page-id}_{n}"}`
 *   POST /{v}/{page-id}/photos             one photo by `url` (fetched here, as Meta fetches it) → `{id, post_id}`
 *   POST /{v}/{page-id}/videos             one video by `file_url` (fetched, checked) → `{id}`; it is `processing`
 *                                          until its status has been read `videoReadyAfterPolls` times, then `ready`
 *                                          and published (the post is listed from then on)
 *   GET  /{v}/{video-id}?fields=status     the video's status (video_status and the upload/processing/publishing phases)
 *   GET  /{v}/{page-id}_{n}                a published post
 *
 * Tokens go in `Authorization: Bearer|OAuth <token>` or an `access_token` parameter. Publishing needs the Page's own
 * token and `pages_manage_posts`. Errors use Meta's envelope (`error.message/type/code/error_subcode/fbtrace_id`),
 * mostly with HTTP 400. Every authenticated answer carries `X-App-Usage` (the app's calls this hour, in percent of
 * `appCallsPerHour`), and Page-token answers `X-Business-Use-Case-Usage` for the Page (`pageCallsPerHour`); a spent
 * window is answered with code 4 (app) or 80001 (Page, with `estimated_time_to_regain_access`).
 *
 * Sandbox-only consent parameters, besides `sandbox_user` and `sandbox_deny`: `sandbox_pages=<n>` gives a user signing
 * in for the first time n Pages (0–5, default 1; a user keeps the Pages they have), `sandbox_decline=<perm,…>`
 * unticks those permissions (e.g. `pages_manage_posts`), which `/me/permissions` then lists as declined.
 *
 * Failure injection by the post's text (message, caption or description): rate_limited (80001 with a one-minute
 * `estimated_time_to_regain_access`), auth_error (190/460), network_error (500, code 2, transient), duplicate (506),
 * unknown (code 1). media_error: a photo is refused (324) and a video fails in processing (status `error`);
 * media_processing: a video never leaves `processing` (only videos can be still processing on Facebook: on another
 * post the marker is refused with code 100). Control endpoints as in src/sandbox/index.ts, with the Page id as the
 * account id (the user id works too), plus `POST /__sandbox/accounts/<page-id>/exhaust-page-quota` (the Page's
 * hourly window is spent) and `GET /__sandbox/pages[?owner_id=<user id>]`.
 */

const NETWORK = "facebook";
const clients: ReadonlyMap<string, { clientId: string; clientSecret: string }> = new Map([
  [sandboxClients.facebook.clientId, sandboxClients.facebook],
]);

export const facebookSandboxConfig = {
  shortLivedTokenSeconds: 2 * 3600,
  longLivedTokenSeconds: 60 * 24 * 3600,
  codeSeconds: 10 * 60,
  duplicateWindowSeconds: 24 * 3600,
  messageMaxChars: 63_206,
  photoMaxBytes: 10 * 1024 * 1024,
  videoMaxBytes: 100 * 1024 * 1024,
  mediaFetchTimeoutMs: 10_000,
  /** A video is ready (and published) when its status is read for the n-th time. */
  videoReadyAfterPolls: 2,
  appCallsPerHour: 5000,
  pageCallsPerHour: 200,
  /** How long an injected rate limit says it lasts. */
  injectedRegainMinutes: 1,
  minGraphMajorVersion: 21,
  maxPagesPerUser: 5,
  accountsPageLimit: 25,
  scopes: new Set([
    "public_profile",
    "email",
    "pages_show_list",
    "pages_manage_posts",
    "pages_read_engagement",
    "pages_manage_engagement",
    "pages_manage_metadata",
    "pages_read_user_content",
    "read_insights",
    "business_management",
  ]),
} as const;

/** What each token is, from the prefix the sandbox gives it (Meta's tokens all start with "EAA"). */
const TOKEN_PREFIX = { shortUser: "EAAS", longUser: "EAAL", page: "EAAP" } as const;
const PAGE_TASKS = ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"];
const PUBLISH_PERMISSIONS = ["pages_manage_posts", "pages_read_engagement"];

const ddl = `
create table if not exists local_sandbox.facebook_pages (
  id         text primary key,
  owner_id   text not null,
  name       text not null,
  username   text,
  tasks      text[] not null,
  position   integer not null,
  created_at timestamptz not null default now(),
  unique (owner_id, position)
);
-- Consent choices that /me/permissions reports as declined, per user.
create table if not exists local_sandbox.facebook_declined (
  account_id  text not null,
  permission  text not null,
  primary key (account_id, permission)
);
-- Videos being processed: what the post will say once published, and how processing ends.
create table if not exists local_sandbox.facebook_videos (
  id          text primary key,
  page_id     text not null,
  description text not null,
  fate        text not null check (fate in ('finish', 'fail', 'never')),
  polls       integer not null default 0,
  created_at  timestamptz not null default now()
);
`;

// --- Meta's error envelope (meta-graph.ts `graphError`) -------------------------------------------------------------

const trace = () => randomBytes(8).toString("base64url");

/** Auth failures also carry Meta's `WWW-Authenticate` header. */
function tokenFailure(message: string, code: number, subcode?: number): Response {
  return graphError(400, { message, code, subcode }, { "www-authenticate": `OAuth "Facebook Platform" "invalid_token" "${message.replace(/"/g, "'")}"` });
}

const tokenErrors = {
  missing: () => graphError(400, { message: "An active access token must be used to query information about the current user.", code: 2500 }),
  unknown: () => tokenFailure("Invalid OAuth access token - Cannot parse access token", 190),
  expired: (expiredAt: Date, now: Date) =>
    tokenFailure(`Error validating access token: Session has expired on ${expiredAt.toUTCString()}. The current time is ${now.toUTCString()}.`, 190, 463),
  revoked: () =>
    tokenFailure(
      "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
      190,
      460,
    ),
};
const error400 = (fields: GraphErrorFields) => graphError(400, fields);
const permissionError = () =>
  graphError(403, {
    message: "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission",
    code: 200,
  });
const unsupportedGet = (id: string) =>
  error400({
    message: `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    code: 100,
    subcode: 33,
    type: "GraphMethodException",
  });
const unknownPath = (path: string) => error400({ message: `Unknown path components: ${path}`, code: 2500 });
const invalidParameter = (message: string) => error400({ message: `(#100) ${message}`, code: 100 });
const duplicateStatus = () => error400({ message: "(#506) Duplicate status message", code: 506 });
const invalidImage = () => error400({ message: "(#324) Missing or invalid image file", code: 324 });
const pageThrottled = () =>
  error400({
    message:
      "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    code: 80001,
  });

// --- usage accounting ----------------------------------------------------------------------------------------------

interface Usage {
  callCount: number;
  regainMinutes: number;
}

/** What the answer's usage headers report (set while handling the call). */
interface Call {
  app?: Usage;
  page?: { id: string; usage: Usage };
}

interface Caller {
  grant: Grant;
  kind: "user" | "page";
  /** The user behind the token (for a Page token: the Page's owner). */
  userId: string;
  /** The Page a Page token is for. */
  pageId?: string;
}

interface PageRow {
  id: string;
  owner_id: string;
  name: string;
  username: string | null;
  tasks: string[];
}

export function createFacebookSandbox(ctx: SandboxContext): NetworkHandler {
  const ensureTables = networkTables(ctx.sql, NETWORK, ddl);

  const pageById = async (id: string) => {
    const [row] = await ctx.sql<PageRow[]>`select id, owner_id, name, username, tasks from local_sandbox.facebook_pages where id = ${id}`;
    return row;
  };
  const pagesOf = (ownerId: string) =>
    ctx.sql<PageRow[]>`select id, owner_id, name, username, tasks from local_sandbox.facebook_pages where owner_id = ${ownerId} order by position`;

  /** Counts one call in a usage window; a spent window is Meta's throttling error. */
  async function useQuota(call: Call, caller: Caller): Promise<void> {
    const hour = 3600;
    const app = await countCall(ctx, NETWORK, `app:${caller.grant.client_id}`, facebookSandboxConfig.appCallsPerHour, hour);
    call.app = usageOf(app.window.limit - app.window.remaining + (app.exceeded ? 1 : 0), app.window.limit, 0);
    if (app.exceeded) throw new SandboxReply(error400({ message: "(#4) Application request limit reached", code: 4, transient: true }));
    if (caller.kind !== "page") return;
    const page = await countCall(ctx, NETWORK, `page:${caller.pageId}`, facebookSandboxConfig.pageCallsPerHour, hour);
    const regain = Math.ceil((page.window.reset - ctx.now().getTime() / 1000) / 60);
    const pageCalls = page.window.limit - page.window.remaining + (page.exceeded ? 1 : 0);
    call.page = { id: caller.pageId!, usage: usageOf(pageCalls, page.window.limit, page.exceeded ? regain : 0) };
    if (page.exceeded) throw new SandboxReply(pageThrottled());
  }

  /** The token on the request (header, query or form) and who it belongs to, or Meta's token error. */
  async function authenticate(req: Request, params: URLSearchParams, call: Call): Promise<Caller> {
    const header = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
    const token = header?.[1] ?? params.get("access_token") ?? undefined;
    if (!token) throw new SandboxReply(tokenErrors.missing());
    const [grant] = await ctx.sql<Grant[]>`
      select * from local_sandbox.grants where token = ${token} and network = ${NETWORK} and kind = 'access'`;
    if (!grant) throw new SandboxReply(tokenErrors.unknown());
    if (grant.revoked_at) throw new SandboxReply(tokenErrors.revoked());
    if (grant.expires_at && grant.expires_at <= ctx.now()) throw new SandboxReply(tokenErrors.expired(grant.expires_at, ctx.now()));
    let caller: Caller;
    if (token.startsWith(TOKEN_PREFIX.page)) {
      const page = await pageById(grant.account_id);
      if (!page) throw new SandboxReply(tokenErrors.revoked());
      caller = { grant, kind: "page", userId: page.owner_id, pageId: page.id };
    } else {
      caller = { grant, kind: "user", userId: grant.account_id };
    }
    await useQuota(call, caller);
    return caller;
  }

  /** A user token that is live (for `fb_exchange_token`), or the reason it is not. */
  async function liveUserToken(token: string, clientId: string): Promise<Grant | Response> {
    const [grant] = await ctx.sql<Grant[]>`
      select * from local_sandbox.grants where token = ${token} and network = ${NETWORK} and kind = 'access' and client_id = ${clientId}`;
    if (!grant || token.startsWith(TOKEN_PREFIX.page)) return tokenErrors.unknown();
    if (grant.revoked_at) return tokenErrors.revoked();
    if (grant.expires_at && grant.expires_at <= ctx.now()) return tokenErrors.expired(grant.expires_at, ctx.now());
    return grant;
  }

  // --- consent and tokens --------------------------------------------------------------------------------------------

  async function consent(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const declined = (url.searchParams.get("sandbox_decline") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    if (declined.length) {
      const kept = (url.searchParams.get("scope") ?? "").split(/[\s,]+/).filter((s) => s && !declined.includes(s));
      url.searchParams.set("scope", kept.join(","));
    }
    const res = await authorize(ctx, new Request(url, { headers: req.headers }), {
      network: NETWORK,
      clients,
      pkce: "ignored",
      scopeSeparator: /[\s,]+/,
      knownScopes: facebookSandboxConfig.scopes,
      codeTtlSeconds: facebookSandboxConfig.codeSeconds,
      denial: { error: "access_denied", error_code: "200", error_description: "Permissions error", error_reason: "user_denied" },
      newAccount: (username) => ({ id: snowflakeId(ctx.now()), name: `Sandbox ${username}` }),
      errorPage: (message) => htmlPage(400, "Facebook", `Sorry, something went wrong. ${message}`),
    });
    const location = res.headers.get("location");
    const code = location ? new URL(location).searchParams.get("code") : null;
    if (code) {
      const [grant] = await ctx.sql<{ account_id: string }[]>`
        select account_id from local_sandbox.grants where token = ${code} and network = ${NETWORK} and kind = 'code'`;
      const wanted = Number(url.searchParams.get("sandbox_pages") ?? "1");
      await ensurePages(grant!.account_id, Number.isInteger(wanted) ? Math.min(Math.max(wanted, 0), facebookSandboxConfig.maxPagesPerUser) : 1);
      await ctx.sql`delete from local_sandbox.facebook_declined where account_id = ${grant!.account_id}`;
      for (const permission of declined) {
        await ctx.sql`
          insert into local_sandbox.facebook_declined (account_id, permission) values (${grant!.account_id}, ${permission})
          on conflict do nothing`;
      }
    }
    return res;
  }

  /** A user signing in for the first time gets `count` Pages; a returning user keeps theirs. */
  async function ensurePages(ownerId: string, count: number): Promise<void> {
    // The consent that just happened issued one code: a second one means the user has signed in before.
    const [returning] = await ctx.sql`
      select 1 from local_sandbox.grants where network = ${NETWORK} and account_id = ${ownerId} and kind = 'code' offset 1 limit 1`;
    if (returning || (await pagesOf(ownerId)).length > 0) return;
    const owner = await accountById(ctx, NETWORK, ownerId);
    for (let position = 0; position < count; position++) {
      const suffix = position === 0 ? "" : ` ${position + 1}`;
      await ctx.sql`
        insert into local_sandbox.facebook_pages (id, owner_id, name, username, tasks, position, created_at)
        values (${snowflakeId(ctx.now())}, ${ownerId}, ${`${owner?.username ?? "sandbox"} Page${suffix}`},
                ${`${(owner?.username ?? "sandbox").toLowerCase()}.page${position + 1}`}, ${PAGE_TASKS}, ${position}, ${ctx.now()})
        on conflict (owner_id, position) do nothing`;
    }
  }

  async function accessToken(params: URLSearchParams): Promise<Response> {
    const client = clients.get(params.get("client_id") ?? "");
    if (!client) return error400({ message: "Error validating application. Invalid application ID.", code: 101 });
    if (client.clientSecret !== params.get("client_secret")) return error400({ message: "Error validating client secret.", code: 1 });
    if (params.get("grant_type") === "fb_exchange_token") {
      const from = await liveUserToken(params.get("fb_exchange_token") ?? "", client.clientId);
      if (from instanceof Response) return from;
      const issued = await issueTokens(ctx, NETWORK, from, {
        accessTtlSeconds: facebookSandboxConfig.longLivedTokenSeconds,
        tokenPrefix: TOKEN_PREFIX.longUser,
      });
      return json(200, { access_token: issued.accessToken, token_type: "bearer", expires_in: issued.accessExpiresIn });
    }
    const codeValue = params.get("code");
    if (!codeValue) return error400({ message: "Missing authorization code", code: 1 });
    const [known] = await ctx.sql<Grant[]>`
      select * from local_sandbox.grants where token = ${codeValue} and network = ${NETWORK} and kind = 'code'`;
    const used = () => error400({ message: "This authorization code has been used.", code: 100, subcode: 36009 });
    if (!known) return error400({ message: "Invalid verification code format.", code: 100 });
    if (known.used_at) return used();
    if (known.expires_at && known.expires_at <= ctx.now()) return error400({ message: "This authorization code has expired.", code: 100, subcode: 36007 });
    if (known.client_id !== client.clientId || known.redirect_uri !== params.get("redirect_uri")) {
      return error400({
        message: "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        code: 100,
        subcode: 36008,
      });
    }
    const code = await redeemCode(ctx, NETWORK, codeValue);
    if (!code) return used();
    const issued = await issueTokens(ctx, NETWORK, code, {
      accessTtlSeconds: facebookSandboxConfig.shortLivedTokenSeconds,
      tokenPrefix: TOKEN_PREFIX.shortUser,
    });
    return json(200, { access_token: issued.accessToken, token_type: "bearer", expires_in: issued.accessExpiresIn });
  }

  /** The Page's token for this consent: reused while it lives; from a long-lived user token it never expires. */
  async function pageToken(user: Grant, pageId: string): Promise<string> {
    const longLived = user.token.startsWith(TOKEN_PREFIX.longUser);
    // From a long-lived user token only a non-expiring Page token will do.
    const [live] = await ctx.sql<{ token: string }[]>`
      select token from local_sandbox.grants
      where network = ${NETWORK} and kind = 'access' and account_id = ${pageId} and family = ${user.family}
        and token like ${`${TOKEN_PREFIX.page}%`} and revoked_at is null
        and (expires_at is null or (${!longLived} and expires_at > ${ctx.now()}))
      order by created_at desc limit 1`;
    if (live) return live.token;
    const token = `${TOKEN_PREFIX.page}${randomToken(48)}`;
    await ctx.sql`
      insert into local_sandbox.grants (token, network, kind, account_id, client_id, scopes, family, expires_at, created_at)
      values (${token}, ${NETWORK}, 'access', ${pageId}, ${user.client_id}, ${user.scopes}, ${user.family},
              ${longLived ? null : user.expires_at}, ${ctx.now()})`;
    return token;
  }

  // --- reads ---------------------------------------------------------------------------------------------------------

  function picture(id: string) {
    return { data: { height: 50, width: 50, is_silhouette: false, url: `https://scontent.xx.fbcdn.net/v/sandbox/${id}/picture.jpg` } };
  }

  function pageFields(page: PageRow, fields: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = { id: page.id };
    for (const field of fields) {
      if (field === "name") out.name = page.name;
      else if (field === "username" && page.username) out.username = page.username;
      else if (field === "link") out.link = `https://www.facebook.com/${page.username ?? page.id}`;
      else if (field.startsWith("picture")) out.picture = picture(page.id);
      else if (field === "category") out.category = "Sandbox";
    }
    return out;
  }

  async function me(caller: Caller, params: URLSearchParams): Promise<Response> {
    const fields = fieldList(params, ["id", "name"]);
    if (caller.kind === "page") return json(200, pageFields((await pageById(caller.pageId!))!, fields));
    const user = await accountById(ctx, NETWORK, caller.userId);
    const out: Record<string, unknown> = { id: user!.id };
    if (fields.includes("name")) out.name = user!.name;
    if (fields.some((f) => f.startsWith("picture"))) out.picture = picture(user!.id);
    if (fields.includes("email") && caller.grant.scopes.includes("email")) out.email = `${user!.username}@sandbox.invalid`;
    return json(200, out);
  }

  async function permissions(caller: Caller): Promise<Response> {
    if (caller.kind === "page") return invalidParameter("Tried accessing nonexisting field (permissions) on node type (Page)");
    const declined = await ctx.sql<{ permission: string }[]>`
      select permission from local_sandbox.facebook_declined where account_id = ${caller.userId} order by permission`;
    return json(200, {
      data: [
        ...caller.grant.scopes.map((permission) => ({ permission, status: "granted" })),
        ...declined.filter((d) => !caller.grant.scopes.includes(d.permission)).map((d) => ({ permission: d.permission, status: "declined" })),
      ],
    });
  }

  async function accounts(req: Request, caller: Caller, params: URLSearchParams): Promise<Response> {
    if (caller.kind === "page") return invalidParameter("Tried accessing nonexisting field (accounts) on node type (Page)");
    // Without pages_show_list Meta lists no Pages.
    const pages = caller.grant.scopes.includes("pages_show_list") ? await pagesOf(caller.userId) : [];
    const limit = Math.min(Math.max(Number(params.get("limit") ?? facebookSandboxConfig.accountsPageLimit) || 1, 1), 100);
    const offset = Math.max(Number(Buffer.from(params.get("after") ?? "", "base64url").toString("utf8")) || 0, 0);
    const slice = pages.slice(offset, offset + limit);
    const fields = fieldList(params, ["id", "name", "access_token", "category", "tasks"]);
    const data = [];
    for (const page of slice) {
      const item = pageFields(page, fields);
      if (fields.includes("access_token")) item.access_token = await pageToken(caller.grant, page.id);
      if (fields.includes("tasks")) item.tasks = page.tasks;
      data.push(item);
    }
    const cursor = (n: number) => Buffer.from(String(n)).toString("base64url");
    const paging: Record<string, unknown> = { cursors: { before: cursor(offset), after: cursor(offset + slice.length) } };
    if (offset + slice.length < pages.length) {
      const next = new URL(`${ctx.baseUrl}${new URL(req.url).pathname.slice(new URL(ctx.baseUrl).pathname.length)}`);
      for (const [key, value] of params) if (key !== "after") next.searchParams.set(key, value);
      next.searchParams.set("after", cursor(offset + slice.length));
      paging.next = next.toString();
    }
    return json(200, { data, paging });
  }

  async function videoStatus(caller: Caller, videoId: string, params: URLSearchParams): Promise<Response> {
    const media = await findMedia(ctx, NETWORK, videoId);
    const [video] = await ctx.sql<{ page_id: string; description: string; fate: string; polls: number }[]>`
      select page_id, description, fate, polls from local_sandbox.facebook_videos where id = ${videoId}`;
    if (!media || !video || caller.kind !== "page" || caller.pageId !== video.page_id) return unsupportedGet(videoId);
    const fields = fieldList(params, ["id"]);
    let state = media.state;
    if (fields.includes("status")) state = await pollVideo(videoId, video);
    const out: Record<string, unknown> = { id: videoId };
    if (fields.includes("status")) out.status = statusOf(state, media.size_bytes ?? 0, ctx.now());
    if (fields.includes("permalink_url")) out.permalink_url = `/${video.page_id}/videos/${videoId}/`;
    if (fields.includes("description")) out.description = video.description;
    return json(200, out);
  }

  /** One read of the status moves processing along: ready (and published) after a few reads, failed, or never. */
  async function pollVideo(videoId: string, video: { page_id: string; description: string; fate: string }): Promise<string> {
    return ctx.sql.begin(async (tx) => {
      const [row] = await tx<{ polls: number; state: string; mime_type: string | null; size_bytes: number | null }[]>`
        with polled as (update local_sandbox.facebook_videos set polls = polls + 1 where id = ${videoId} returning polls)
        select p.polls, m.state, m.mime_type, m.size_bytes from polled p
        join local_sandbox.media m on m.network = ${NETWORK} and m.id = ${videoId}
        for update of m`;
      if (!row || row.state !== "processing") return row?.state ?? "error";
      const next = video.fate === "fail" ? "error" : video.fate === "finish" && row.polls >= facebookSandboxConfig.videoReadyAfterPolls ? "ready" : "processing";
      if (next === "processing") return next;
      await tx`update local_sandbox.media set state = ${next} where network = ${NETWORK} and id = ${videoId}`;
      if (next === "ready") {
        await tx`
          insert into local_sandbox.posts (network, id, account_id, text, media, created_at)
          values (${NETWORK}, ${videoId}, ${video.page_id}, ${video.description},
                  ${tx.json([{ id: videoId, mimeType: row.mime_type, sizeBytes: row.size_bytes }] as never)}, ${ctx.now()})`;
      }
      return next;
    });
  }

  async function readPost(caller: Caller, postId: string, params: URLSearchParams): Promise<Response> {
    const [post] = await ctx.sql<{ id: string; account_id: string; text: string; created_at: Date }[]>`
      select id, account_id, text, created_at from local_sandbox.posts where network = ${NETWORK} and id = ${postId}`;
    if (!post || (caller.kind === "page" && caller.pageId !== post.account_id)) return unsupportedGet(postId);
    const fields = fieldList(params, ["id", "message", "created_time"]);
    const out: Record<string, unknown> = { id: post.id };
    if (fields.includes("message") && post.text) out.message = post.text;
    if (fields.includes("created_time")) out.created_time = post.created_at.toISOString().replace(/\.\d{3}Z$/, "+0000");
    if (fields.includes("permalink_url")) out.permalink_url = `https://www.facebook.com/${post.id}`;
    return json(200, out);
  }

  // --- publishing ----------------------------------------------------------------------------------------------------

  /** The Page token of the Page in the path, with the permissions to publish, or Meta's (#200). */
  function assertCanPublish(caller: Caller, pageId: string): void {
    if (caller.kind !== "page" || caller.pageId !== pageId) throw new SandboxReply(permissionError());
    if (PUBLISH_PERMISSIONS.some((p) => !caller.grant.scopes.includes(p))) throw new SandboxReply(permissionError());
  }

  async function feed(caller: Caller, pageId: string, params: URLSearchParams, call: Call): Promise<Response> {
    assertCanPublish(caller, pageId);
    const text = params.get("message") ?? "";
    const injected = await injectedFailure(ctx, NETWORK, pageId, text);
    if (injected) return injectedResponse(injected, "feed", call);
    if (!text && !params.get("link")) return invalidParameter("Missing message or attachment");
    if (text.length > facebookSandboxConfig.messageMaxChars) return invalidParameter("Param message must be at most 63206 characters long");
    if (params.get("published") === "false") return invalidParameter("[sandbox] unpublished and scheduled Page posts are not emulated");
    if (await findDuplicate(ctx, NETWORK, pageId, text, facebookSandboxConfig.duplicateWindowSeconds)) return duplicateStatus();
    const id = `${pageId}_${snowflakeId(ctx.now())}`;
    await recordPost(ctx, NETWORK, { id, accountId: pageId, text, media: [] });
    return json(200, { id });
  }

  async function photos(caller: Caller, pageId: string, params: URLSearchParams, call: Call): Promise<Response> {
    assertCanPublish(caller, pageId);
    const text = params.get("caption") ?? params.get("message") ?? "";
    const injected = await injectedFailure(ctx, NETWORK, pageId, text);
    if (injected) return injectedResponse(injected, "photo", call);
    const url = params.get("url");
    if (!url) return error400({ message: "(#324) Requires upload file", code: 324 });
    if (params.get("published") === "false") return invalidParameter("[sandbox] unpublished photos are not emulated");
    const fetched = await fetchMedia(url, facebookSandboxConfig.photoMaxBytes, facebookSandboxConfig.mediaFetchTimeoutMs);
    if (!fetched.ok) return fetched.reason === "too_large" ? photoTooLarge() : invalidImage();
    const image = sniffImage(fetched.bytes);
    if (!image) return invalidImage();
    const photoId = snowflakeId(ctx.now());
    const postId = `${pageId}_${snowflakeId(ctx.now())}`;
    const media = { id: photoId, mimeType: image.mimeType, sizeBytes: fetched.bytes.byteLength };
    await createMedia(ctx, NETWORK, { ...media, accountId: pageId, state: "published", sha256: sha256Hex(fetched.bytes) });
    await recordPost(ctx, NETWORK, { id: postId, accountId: pageId, text, media: [media] });
    return json(200, { id: photoId, post_id: postId });
  }

  async function videos(caller: Caller, pageId: string, params: URLSearchParams, call: Call): Promise<Response> {
    assertCanPublish(caller, pageId);
    const text = params.get("description") ?? "";
    const injected = await injectedFailure(ctx, NETWORK, pageId, text);
    if (injected && injected !== "media_error" && injected !== "media_processing") return injectedResponse(injected, "video", call);
    const url = params.get("file_url");
    if (!url) return invalidParameter("[sandbox] send the video by file_url (multipart source uploads are not emulated)");
    if (params.get("published") === "false") return invalidParameter("[sandbox] unpublished videos are not emulated");
    const fetched = await fetchMedia(url, facebookSandboxConfig.videoMaxBytes, facebookSandboxConfig.mediaFetchTimeoutMs);
    if (!fetched.ok) return error400({ message: "(#389) Unable to fetch video file from URL.", code: 389 });
    // Meta transcodes what it fetched; the sandbox only checks that a video container arrived, declared as video.
    if (!fetched.contentType?.startsWith("video/") || !sniffVideo(fetched.bytes)) {
      return error400({ message: "(#352) Sorry, the video file you selected is in a format that we don't support.", code: 352 });
    }
    const videoId = snowflakeId(ctx.now());
    await createMedia(ctx, NETWORK, {
      id: videoId,
      accountId: pageId,
      state: "processing",
      mimeType: fetched.contentType,
      sizeBytes: fetched.bytes.byteLength,
      sha256: sha256Hex(fetched.bytes),
    });
    const fate = injected === "media_error" ? "fail" : injected === "media_processing" ? "never" : "finish";
    await ctx.sql`
      insert into local_sandbox.facebook_videos (id, page_id, description, fate, created_at)
      values (${videoId}, ${pageId}, ${text}, ${fate}, ${ctx.now()})`;
    return json(200, { id: videoId });
  }

  /** Meta's own answer for each failure category (§3, §5.3). */
  function injectedResponse(category: ErrorCategory, kind: "feed" | "photo" | "video", call: Call): Response {
    switch (category) {
      case "rate_limited":
        if (call.page) call.page.usage = { callCount: 100, regainMinutes: facebookSandboxConfig.injectedRegainMinutes };
        return pageThrottled();
      case "auth_error":
        return tokenErrors.revoked();
      case "network_error":
        return graphError(500, { message: "An unexpected error has occurred. Please retry your request later.", code: 2, transient: true });
      case "duplicate":
        return duplicateStatus();
      case "media_error":
        return invalidImage();
      case "media_processing":
        return invalidParameter(`[sandbox] media_processing applies to videos only (this is a ${kind} post)`);
      case "unknown":
        return error400({
          message: "(#100) Invalid parameter",
          code: 100,
          subcode: 1349125,
          userTitle: "Invalid content",
          userMessage: "The content of this post could not be accepted.",
        });
    }
  }

  // --- control -------------------------------------------------------------------------------------------------------

  /** Token actions on an account: a Page id acts on that Page's tokens and its owner's user tokens. */
  async function controlAccount(ref: string, action: string): Promise<Response> {
    const page = await pageById(ref);
    const userId = page?.owner_id ?? ref;
    if (!page && !(await accountById(ctx, NETWORK, userId))) return json(404, { error: `no ${NETWORK} sandbox Page or user ${ref}` });
    const pageIds = page ? [page.id] : (await pagesOf(userId)).map((p) => p.id);
    const userPattern = `${TOKEN_PREFIX.shortUser}%`;
    const longPattern = `${TOKEN_PREFIX.longUser}%`;
    const now = ctx.now();
    let rows: { token: string }[];
    switch (action) {
      case "expire-access-tokens":
        // Page tokens (and, for a user, their short-lived user tokens): the long-lived user token still refreshes.
        rows = await ctx.sql`
          update local_sandbox.grants set expires_at = ${new Date(now.getTime() - 1000)}
          where network = ${NETWORK} and kind = 'access' and revoked_at is null and (expires_at is null or expires_at > ${now})
            and ((account_id in ${ctx.sql(pageIds.length ? pageIds : [""])} and token like ${`${TOKEN_PREFIX.page}%`})
                 or (${page ? null : userId}::text is not null and account_id = ${userId} and token like ${userPattern}))
          returning token`;
        break;
      case "revoke-refresh-tokens":
        rows = await ctx.sql`
          update local_sandbox.grants set revoked_at = ${now}
          where network = ${NETWORK} and account_id = ${userId} and (token like ${longPattern} or token like ${userPattern})
            and revoked_at is null
          returning token`;
        break;
      case "revoke-all-tokens": {
        const all = [userId, ...(await pagesOf(userId)).map((p) => p.id)];
        rows = await ctx.sql`
          update local_sandbox.grants set revoked_at = ${now}
          where network = ${NETWORK} and account_id in ${ctx.sql(all)} and kind in ('access', 'refresh') and revoked_at is null
          returning token`;
        break;
      }
      case "exhaust-page-quota": {
        if (!page) return json(400, { error: "exhaust-page-quota needs a Page id" });
        const seconds = Math.floor(now.getTime() / 1000);
        const start = new Date((seconds - (seconds % 3600)) * 1000);
        await ctx.sql`
          insert into local_sandbox.rate_windows (network, bucket, window_start, calls)
          values (${NETWORK}, ${`page:${page.id}`}, ${start}, ${facebookSandboxConfig.pageCallsPerHour})
          on conflict (network, bucket, window_start) do update set calls = ${facebookSandboxConfig.pageCallsPerHour}`;
        return json(200, { accountId: page.id, action });
      }
      default:
        return json(404, { error: `unknown control action ${action}` });
    }
    return json(200, { accountId: ref, action, tokens: rows.length });
  }

  async function control(req: Request, path: string): Promise<Response> {
    const action = /^\/accounts\/([^/]+)\/([a-z-]+)$/.exec(path);
    if (req.method === "POST" && action) return controlAccount(safeDecode(action[1]!) ?? "", action[2]!);
    if (req.method === "GET" && path === "/pages") {
      const owner = new URL(req.url).searchParams.get("owner_id");
      const rows = await ctx.sql<(PageRow & { position: number })[]>`
        select id, owner_id, name, username, tasks, position from local_sandbox.facebook_pages
        where (${owner}::text is null or owner_id = ${owner}) order by owner_id, position`;
      return json(200, { pages: rows.map((r) => ({ id: r.id, ownerId: r.owner_id, name: r.name, username: r.username, tasks: r.tasks })) });
    }
    return handleControl(ctx, NETWORK, req, path);
  }

  // --- routing -------------------------------------------------------------------------------------------------------

  async function graph(req: Request, path: string, call: Call): Promise<Response> {
    const params = await graphParams(req);
    if (req.method === "GET" && path === "/oauth/access_token") return accessToken(params);
    if (req.method === "POST" && path === "/oauth/access_token") return accessToken(params);
    const caller = await authenticate(req, params, call);
    if (req.method === "GET" && path === "/me") return me(caller, params);
    if (req.method === "GET" && path === "/me/permissions") return permissions(caller);
    if (req.method === "GET" && path === "/me/accounts") return accounts(req, caller, params);
    const edge = /^\/(\d+)\/(feed|photos|videos)$/.exec(path);
    if (req.method === "POST" && edge) {
      const [, pageId, name] = edge;
      if (!(await pageById(pageId!))) return unsupportedGet(pageId!);
      if (name === "feed") return feed(caller, pageId!, params, call);
      if (name === "photos") return photos(caller, pageId!, params, call);
      return videos(caller, pageId!, params, call);
    }
    const node = /^\/(\d+(?:_\d+)?)$/.exec(path);
    if (req.method === "GET" && node) {
      const id = node[1]!;
      if (id.includes("_")) return readPost(caller, id, params);
      const page = await pageById(id);
      if (page) return json(200, pageFields(page, fieldList(params, ["id", "name"])));
      return videoStatus(caller, id, params);
    }
    return unknownPath(path);
  }

  async function route(req: Request, path: string, call: Call): Promise<Response> {
    if (path.startsWith("/__sandbox/")) return control(req, path.slice("/__sandbox".length));
    const versioned = /^\/v(\d+)\.(\d+)(\/.*)$/.exec(path);
    const rest = versioned ? versioned[3]! : path;
    if (req.method === "GET" && rest === "/dialog/oauth") return consent(req);
    if (!versioned) return unknownPath(path);
    if (Number(versioned[1]) < facebookSandboxConfig.minGraphMajorVersion) {
      const message = `[sandbox] Graph API v${versioned[1]}.${versioned[2]} is not available: use v${facebookSandboxConfig.minGraphMajorVersion}.0 or later`;
      return error400({ message, code: 2500 });
    }
    return graph(req, rest, call);
  }

  return async (req, path) => {
    await ensureTables();
    const call: Call = {};
    let res: Response;
    try {
      res = await route(req, path, call);
    } catch (error) {
      if (!(error instanceof SandboxReply)) throw error;
      res = error.response;
    }
    res.headers.set("x-fb-trace-id", trace());
    if (call.app) res.headers.set("x-app-usage", JSON.stringify(usageHeader(call.app)));
    if (call.page) {
      const entry = { type: "pages", ...usageHeader(call.page.usage), estimated_time_to_regain_access: call.page.usage.regainMinutes };
      res.headers.set("x-business-use-case-usage", JSON.stringify({ [call.page.id]: [entry] }));
    }
    return res;
  };
}

function usageOf(calls: number, limit: number, regainMinutes: number): Usage {
  return { callCount: Math.min(100, Math.floor((calls * 100) / limit)), regainMinutes };
}

function usageHeader(usage: Usage) {
  return { call_count: usage.callCount, total_cputime: Math.floor(usage.callCount / 2), total_time: Math.floor(usage.callCount / 2) };
}

function photoTooLarge(): Response {
  return error400({
    message: "Invalid parameter",
    code: 100,
    subcode: 1366046,
    userTitle: "Photo upload failed",
    userMessage: "Your photos couldn't be uploaded. Photos should be less than 4 MB and saved as JPG, PNG, GIF, TIFF, HEIF or WebP files.",
  });
}

/** The `fields` parameter as a list (nested selections such as `picture{url}` keep their first name). */
function fieldList(params: URLSearchParams, defaults: string[]): string[] {
  const raw = params.get("fields");
  if (!raw) return defaults;
  const fields: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of raw) {
    if (char === "{" || char === "(") depth++;
    if (char === "}" || char === ")") depth--;
    if (char === "," && depth === 0) {
      fields.push(current.trim());
      current = "";
    } else current += char;
  }
  if (current.trim()) fields.push(current.trim());
  return fields.map((f) => f.replace(/[{(.].*$/, ""));
}

/** A video's `status` as Meta reports it for each state. */
function statusOf(state: string, bytes: number, now: Date): Record<string, unknown> {
  const uploaded = { status: "complete", bytes_transferred: bytes };
  if (state === "ready") {
    return {
      video_status: "ready",
      uploading_phase: uploaded,
      processing_phase: { status: "complete" },
      publishing_phase: { status: "complete", publish_status: "published", publish_time: Math.floor(now.getTime() / 1000) },
    };
  }
  if (state === "error") {
    return {
      video_status: "error",
      uploading_phase: uploaded,
      processing_phase: { status: "error", errors: [{ code: 1363008, message: "The video could not be processed. Please try again with another file." }] },
      publishing_phase: { status: "not_started" },
    };
  }
  return { video_status: "processing", uploading_phase: uploaded, processing_phase: { status: "in_progress" }, publishing_phase: { status: "not_started" } };
}
