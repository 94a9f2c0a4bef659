import type { Params } from "../../core/router.js";
import {
  dispatcher,
  handleControl,
  json,
  Reply,
  type Handler,
  type NetworkHandler,
  type SandboxContext,
} from "../common.js";
import { graphError, graphParams } from "../meta-graph.js";
import { networkTables } from "../network-tables.js";
import { accessToken, authenticate, consent } from "./auth.js";
import { configurations, controlAccount, listPages } from "./control.js";
import { feed, photos } from "./publish.js";
import { accounts, me, pageFields, pageFollowers, permissions, postInsights, readPost, videoInsights } from "./reads.js";
import {
  ddl,
  error400,
  facebookContext,
  facebookSandboxConfig,
  fieldList,
  NETWORK,
  trace,
  unknownPath,
  unsupportedGet,
  usageHeader,
  type Call,
  type Caller,
} from "./shared.js";
import { videos, videoStatus } from "./videos.js";

export { facebookSandboxConfig } from "./shared.js";

/**
 * The Facebook Pages sandbox, at the paths the adapter calls on www.facebook.com and graph.facebook.com. Every path
 * carries a Graph version (`/v21.0` or later):
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
 *   GET  /{v}/{page-id}_{n}/insights       a post's lifetime insights (read_insights)
 *   GET  /{v}/{video-id}/video_insights    a published video's lifetime video insights (read_insights)
 *
 * Tokens go in `Authorization: Bearer|OAuth <token>` or an `access_token` parameter. Publishing needs the Page's own
 * token and `pages_manage_posts`. Errors use Meta's envelope (`error.message/type/code/error_subcode/fbtrace_id`),
 * mostly with HTTP 400. Every authenticated answer carries `X-App-Usage` (the app's calls this hour, in percent of
 * `appCallsPerHour`), and Page-token answers `X-Business-Use-Case-Usage` for the Page (`pageCallsPerHour`); a spent
 * window is answered with code 4 (app) or 80001 (Page, with `estimated_time_to_regain_access`).
 *
 * Facebook Login for Business: `POST /__sandbox/configurations {"clientId", "permissions", "name"?}` registers a
 * configuration of an app (`GET` lists them) and answers its `configId`; a consent naming it (`config_id`) is granted
 * the configuration's permissions in place of its scope, and one naming another app's configuration, or an unknown
 * one, is refused on the dialog.
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
 *
 * One file per resource: auth.ts (consent, tokens, usage windows), reads.ts (`/me`, permissions, Pages, posts),
 * publish.ts (feed and photos), videos.ts (upload and processing), control.ts; shared.ts holds the configuration,
 * Meta's error bodies and the Page lookups.
 */
export function createFacebookSandbox(sandbox: SandboxContext): NetworkHandler {
  const ctx = facebookContext(sandbox);
  const ensureTables = networkTables(ctx.sql, NETWORK, ddl);

  /** A Graph call: the version checked, the parameters read, the token authenticated and counted. */
  type GraphHandler = (req: Request, caller: Caller, params: URLSearchParams, path: Params, call: Call) => Promise<Response>;
  const graph =
    (handle: GraphHandler): Handler<Call> =>
    async (req, path, call) => {
      checkVersion(path.v!);
      const params = await graphParams(req);
      return handle(req, await authenticate(ctx, req, params, call), params, path, call);
    };
  const token: Handler<Call> = async (req, path) => {
    checkVersion(path.v!);
    return accessToken(ctx, await graphParams(req));
  };
  /** Publishing to a Page's edge: the Page must exist. */
  const edge = (publish: typeof feed): Handler<Call> =>
    graph(async (_req, caller, params, path, call) =>
      (await ctx.pageById(path.pageId!)) ? publish(ctx, caller, path.pageId!, params, call) : unsupportedGet(path.pageId!),
    );

  const V = ":v(v\\d+\\.\\d+)";
  const routes = dispatcher<Call>(
    "facebook sandbox",
    {
      "POST /__sandbox/accounts/:ref/followers": (req, path) => handleControl(ctx, NETWORK, req, `/accounts/${path.ref!}/followers`),
      "POST /__sandbox/accounts/:ref/:action([a-z-]+)": (_req, path) => controlAccount(ctx, path.ref!, path.action!),
      "GET /__sandbox/pages": (req) => listPages(ctx, req),
      "GET /__sandbox/configurations": (req) => configurations(ctx, req),
      "POST /__sandbox/configurations": (req) => configurations(ctx, req),
      "* /__sandbox/*": (req, path) => handleControl(ctx, NETWORK, req, `/${path["*"]!}`),
      "GET /dialog/oauth": (req) => consent(ctx, req),
      [`GET /${V}/dialog/oauth`]: (req) => consent(ctx, req),
      [`GET /${V}/oauth/access_token`]: token,
      [`POST /${V}/oauth/access_token`]: token,
      [`GET /${V}/me`]: graph((_req, caller, params) => me(ctx, caller, params)),
      [`GET /${V}/me/permissions`]: graph((_req, caller) => permissions(ctx, caller)),
      [`GET /${V}/me/accounts`]: graph((req, caller, params) => accounts(ctx, req, caller, params)),
      [`POST /${V}/:pageId(\\d+)/feed`]: edge(feed),
      [`POST /${V}/:pageId(\\d+)/photos`]: edge(photos),
      [`POST /${V}/:pageId(\\d+)/videos`]: edge(videos),
      // A node: a post (`{page-id}_{n}`), a Page, or a video (its status).
      [`GET /${V}/:postId(\\d+_\\d+)/insights`]: graph((_req, caller, params, path, call) => postInsights(ctx, caller, path.postId!, params, call)),
      [`GET /${V}/:videoId(\\d+)/video_insights`]: graph((_req, caller, params, path, call) => videoInsights(ctx, caller, path.videoId!, params, call)),
      [`GET /${V}/:nodeId(\\d+(?:_\\d+)?)`]: graph(async (_req, caller, params, path, call) => {
        const id = path.nodeId!;
        if (id.includes("_")) return readPost(ctx, caller, id, params, call);
        const page = await ctx.pageById(id);
        if (page) {
          const fields = fieldList(params, ["id", "name"]);
          const out = pageFields(ctx, page, fields);
          for (const f of ["followers_count", "fan_count"]) if (fields.includes(f)) out[f] = await pageFollowers(ctx, page.id);
          return json(200, out);
        }
        return videoStatus(ctx, caller, id, params);
      }),
    },
    {
      notFound: (_method, path) => unknownPath(path.replace(/^\/v\d+\.\d+(?=\/)/, "")),
      methodNotAllowed: (method) =>
        graphError(405, { message: `Unsupported ${method.toLowerCase()} request.`, code: 100, type: "GraphMethodException" }),
    },
  );

  return async (req, path) => {
    await ensureTables();
    const call: Call = {};
    const res = await routes(req, path, call);
    res.headers.set("x-fb-trace-id", trace());
    if (call.app) res.headers.set("x-app-usage", JSON.stringify(usageHeader(call.app)));
    if (call.page) {
      const entry = { type: "pages", ...usageHeader(call.page.usage), estimated_time_to_regain_access: call.page.usage.regainMinutes };
      res.headers.set("x-business-use-case-usage", JSON.stringify({ [call.page.id]: [entry] }));
    }
    return res;
  };
}

/** Graph versions older than the sandbox's minimum are refused, as Meta refuses retired versions. */
function checkVersion(version: string): void {
  const [major, minor] = version.slice(1).split(".");
  if (Number(major) < facebookSandboxConfig.minGraphMajorVersion) {
    const message = `[sandbox] Graph API v${major}.${minor} is not available: use v${facebookSandboxConfig.minGraphMajorVersion}.0 or later`;
    throw new Reply(error400({ message, code: 2500 }));
  }
}
