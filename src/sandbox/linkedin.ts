import { randomBytes } from "node:crypto";
import type { ErrorCategory } from "../platforms/types.js";
import { registeredClients } from "./clients.js";
import { networkTables } from "./network-tables.js";
import {
  authorize,
  dispatcher,
  checkAccessToken,
  countCall,
  createMedia,
  empty,
  findMedia,
  findPost,
  garbageResponse,
  handleControl,
  metricsFailure,
  postMetrics,
  type SandboxMetrics,
  type SandboxPost,
  htmlPage,
  injectedFailure,
  issueTokens,
  json,
  readBytes,
  readJsonObject,
  recordPostUnlessDuplicate,
  Reply,
  tokenEndpoint,
  setMediaState,
  sha256Hex,
  sniffImage,
  snowflakeId,
  type Grant,
  type NetworkHandler,
  type SandboxContext,
} from "./common.js";

/**
 * The LinkedIn sandbox, at the paths the adapter calls on www.linkedin.com and api.linkedin.com:
 *
 *   GET  /oauth/v2/authorization                      consent (web flow: no PKCE), approves at once
 *   POST /oauth/v2/accessToken                        authorization_code and refresh_token grants (client id/secret in
 *                                                     the form; a code_verifier is refused as LinkedIn's web flow does)
 *   GET  /v2/userinfo                                 OIDC userinfo (`sub`, `name`, `picture`, `email`)
 *   POST /rest/posts                                  Posts API: 201, empty body, `x-restli-id: urn:li:share:<n>`
 *   POST /rest/images?action=initializeUpload         Images API: an upload URL on this host and an image urn
 *   PUT  /dms-uploads/<token>                         the upload URL: raw bytes, 201
 *   GET  /rest/images/<urlencoded urn>                image status (WAITING_UPLOAD, AVAILABLE, PROCESSING, …)
 *   GET  /rest/memberCreatorPostAnalytics?q=entity&entity=(share:<urn>)&queryType=…&aggregation=TOTAL
 *                                                     a member's own post: one lifetime count (r_member_postAnalytics)
 *   GET  /rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=<org urn>
 *        [&shares=List(<urn>,…)][&ugcPosts=List(<urn>,…)] an organization's posts' lifetime statistics, or their sum
 *                                                     (rw_organization_admin, the member the page's administrator)
 *   GET  /rest/socialActions/<urlencoded urn>         likes and comments summaries (r_organization_social for a
 *                                                     page's post, r_member_social for a member's)
 *   POST /__sandbox/organizations {"admin": member id, "name"?}  creates a page: {"id", "urn"}; its posts are
 *                                                     sandbox posts whose account is the page's numeric id
 *
 * The counts are the shared simulated metrics (src/sandbox/common/metrics.ts: rising, peaking, decaying; set per post
 * with the control endpoint), and the `[sandbox-metrics:…]` failure markers apply to every metrics call.
 *
 * Every /rest call must carry `LinkedIn-Version` (a YYYYMM version in the last 12 months, else 426
 * NONEXISTENT_VERSION; missing, 400 VERSION_MISSING) and `X-Restli-Protocol-Version: 2.0.0` (stricter than LinkedIn,
 * which falls back to protocol 1.0, so that the adapter always sends it). Refresh tokens do not rotate: a refresh
 * returns the same refresh token with its remaining lifetime, counted from the first consent.
 */

const NETWORK = "linkedin";
const clients = registeredClients("linkedin");

export const linkedinSandboxConfig = {
  accessTokenSeconds: 60 * 24 * 3600,
  refreshTokenSeconds: 365 * 24 * 3600,
  codeSeconds: 30 * 60,
  duplicateWindowSeconds: 24 * 3600,
  commentaryMaxChars: 3000,
  imageMaxBytes: 20 * 1024 * 1024,
  /** Versions stay active for about a year. */
  activeVersionMonths: 12,
  /** Posts per member per UTC day (commonly cited for Share on LinkedIn; unconfirmed). */
  postsPerDay: 150,
  scopes: new Set([
    "openid",
    "profile",
    "email",
    "w_member_social",
    "r_basicprofile",
    "w_organization_social",
    "r_organization_social",
    "rw_organization_admin",
    "r_member_postAnalytics",
    "r_member_social",
  ]),
} as const;

const personUrn = (id: string) => `urn:li:person:${id}`;
const accountRef = (ref: string) => ref.replace(/^urn:li:person:/, "");

const CODE_ERROR =
  "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists";

const serviceError = (status: number, serviceErrorCode: number, code: string, message: string) => ({ status, serviceErrorCode, code, message });
const tokenErrors = {
  missing: { serviceErrorCode: 65604, message: "Empty oauth2_access_token", status: 401 },
  unknown: serviceError(401, 65600, "INVALID_ACCESS_TOKEN", "Invalid access token"),
  revoked: serviceError(401, 65601, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user"),
  expired: serviceError(401, 65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"),
};
const accessDenied = (resource: string) => serviceError(403, 100, "ACCESS_DENIED", `Not enough permissions to access: ${resource}`);
const throttled = () => ({ serviceErrorCode: 101, message: "Resource level throttle limit for calls to this resource is reached.", status: 429 });
const notFound = () => ({ status: 404, code: "NOT_FOUND", message: "No virtual resource found" });
const inputError = (status: number, code: string, fieldPath: string, description: string) => ({
  errorDetailType: "com.linkedin.common.error.BadRequest",
  message: `com.linkedin.content.common.exception.BadRequestResponseException: ${description}`,
  errorDetails: { inputErrors: [{ description, input: { inputPath: { fieldPath } }, code }] },
  status,
});
const duplicateError = (original: string) => ({
  errorDetailType: "com.linkedin.common.error.BadRequest",
  message: `com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of ${original}`,
  errorDetails: { inputErrors: [{ description: "Duplicate post is detected", input: {}, code: "DUPLICATE_POST" }] },
  status: 422,
});

/** The memberCreatorPostAnalytics metric types the sandbox answers, and the simulated count each reads. */
const memberQueryTypes = { IMPRESSION: "impressions", MEMBERS_REACHED: "reach", RESHARE: "shares", REACTION: "likes", COMMENT: "comments" } as const;
const METRIC_TYPE_KEY = "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1";
const badRequest = (message: string) => json(400, { status: 400, code: "ILLEGAL_ARGUMENT", message });

const organizationsDdl = `
create table if not exists local_sandbox.linkedin_organizations (
  id         text primary key,
  name       text not null,
  admin      text not null,
  created_at timestamptz not null default now()
);`;

export function createLinkedInSandbox(ctx: SandboxContext): NetworkHandler {
  const ensureTables = networkTables(ctx.sql, NETWORK, organizationsDdl);

  async function member(req: Request, scopes: string[], resource: string): Promise<Grant> {
    const check = await checkAccessToken(ctx, NETWORK, req);
    if (!check.ok) throw new Reply(json(401, tokenErrors[check.reason]));
    if (scopes.some((s) => !check.grant.scopes.includes(s))) throw new Reply(json(403, accessDenied(resource)));
    return check.grant;
  }

  /** The versioned-API headers every /rest call needs. */
  function assertVersioned(req: Request): void {
    const version = req.headers.get("linkedin-version");
    if (!version) {
      throw new Reply(
        json(400, { status: 400, code: "VERSION_MISSING", message: "A version must be present. Please specify a version by adding the LinkedIn-Version header." }),
      );
    }
    if (!isActiveVersion(version, ctx.now())) {
      throw new Reply(json(426, { status: 426, code: "NONEXISTENT_VERSION", message: `Requested version ${version} is not active` }));
    }
    if (req.headers.get("x-restli-protocol-version") !== "2.0.0") {
      throw new Reply(json(400, { status: 400, message: "X-Restli-Protocol-Version 2.0.0 is required by this sandbox" }));
    }
  }

  const accessToken = (req: Request) =>
    tokenEndpoint(ctx, req, {
      network: NETWORK,
      clients,
      clientAuth: "form",
      tooLarge: () => json(413, { error: "invalid_request", error_description: "Request too large" }),
      badClient: () => json(401, { error: "invalid_client", error_description: "Client authentication failed" }),
      code: {
        // LinkedIn's web flow has no PKCE: a code_verifier cannot match the code, whatever it is.
        before: (form) => (form.has("code_verifier") ? json(400, { error: "invalid_request", error_description: CODE_ERROR }) : undefined),
        invalid: () => json(400, { error: "invalid_request", error_description: CODE_ERROR }),
      },
      refresh: {
        mode: "reuse",
        invalid: () =>
          json(400, { error: "invalid_request", error_description: "The provided authorization grant or refresh token is invalid, expired or revoked" }),
      },
      unsupportedGrant: () =>
        json(400, { error: "unsupported_grant_type", error_description: "A required parameter \"grant_type\" is missing or invalid" }),
      async issue(from, grantType) {
        const refreshing = grantType === "refresh_token";
        const issued = await issueTokens(ctx, NETWORK, from, {
          accessTtlSeconds: linkedinSandboxConfig.accessTokenSeconds,
          ...(refreshing ? {} : { refreshTtlSeconds: linkedinSandboxConfig.refreshTokenSeconds }),
          tokenPrefix: "AQ",
        });
        // A refresh returns the same refresh token with what is left of its lifetime.
        const remaining = from.expires_at ? Math.floor((from.expires_at.getTime() - ctx.now().getTime()) / 1000) : undefined;
        return json(200, {
          access_token: issued.accessToken,
          expires_in: issued.accessExpiresIn,
          refresh_token: refreshing ? from.token : issued.refreshToken,
          refresh_token_expires_in: refreshing ? remaining : linkedinSandboxConfig.refreshTokenSeconds,
          scope: from.scopes.join(","),
          token_type: "Bearer",
        });
      },
    });

  async function userinfo(req: Request): Promise<Response> {
    const grant = await member(req, ["openid", "profile"], "userinfo.GET.NO_VERSION");
    const [row] = await ctx.sql`select id, username, name from local_sandbox.accounts where network = ${NETWORK} and id = ${grant.account_id}`;
    const [given, ...family] = String(row!.name).split(" ");
    const info: Record<string, unknown> = {
      sub: row!.id,
      email_verified: true,
      name: row!.name,
      locale: { country: "US", language: "en" },
      given_name: given,
      family_name: family.join(" "),
      picture: `https://media.licdn.com/dms/image/sandbox/${row!.id}/profile-displayphoto-shrink_100_100/0/`,
    };
    if (grant.scopes.includes("email")) info.email = `${row!.username}@sandbox.invalid`;
    return json(200, info);
  }

  async function initializeUpload(req: Request): Promise<Response> {
    const grant = await member(req, ["w_member_social"], "partnerApiImages.ACTION.initializeUpload");
    if (new URL(req.url).searchParams.get("action") !== "initializeUpload") return json(400, { status: 400, message: "Unsupported action" });
    const body = await readJsonObject(req, () => json(400, { status: 400, message: "Invalid JSON body" }));
    const owner = (body.initializeUploadRequest as { owner?: unknown } | undefined)?.owner;
    if (owner !== personUrn(grant.account_id)) return json(403, accessDenied("partnerApiImages.ACTION.initializeUpload"));
    const image = `urn:li:image:C4E10AQ${randomBytes(12).toString("base64url")}`;
    const uploadToken = randomBytes(24).toString("base64url");
    await createMedia(ctx, NETWORK, { id: image, accountId: grant.account_id, state: "WAITING_UPLOAD", uploadToken });
    return json(200, {
      value: { uploadUrlExpiresAt: ctx.now().getTime() + 3600_000, uploadUrl: `${ctx.baseUrl}/dms-uploads/${uploadToken}`, image },
    });
  }

  async function upload(req: Request, uploadToken: string): Promise<Response> {
    const check = await checkAccessToken(ctx, NETWORK, req);
    if (!check.ok) return json(401, tokenErrors[check.reason]);
    const [row] = await ctx.sql<{ id: string; account_id: string; state: string }[]>`
      select id, account_id, state from local_sandbox.media where network = ${NETWORK} and upload_token = ${uploadToken}`;
    if (!row) return json(404, notFound());
    if (row.account_id !== check.grant.account_id) return json(403, accessDenied("upload"));
    if (row.state !== "WAITING_UPLOAD") return json(400, { status: 400, message: "The upload URL has already been used" });
    const bytes = await readBytes(req, linkedinSandboxConfig.imageMaxBytes, () => json(413, { status: 413, message: "Request Entity Too Large" }));
    // LinkedIn accepts any bytes here; an unreadable image fails in processing, visible on the image's status.
    const image = sniffImage(bytes);
    await setMediaState(ctx, NETWORK, [row.id], image ? "AVAILABLE" : "PROCESSING_FAILED", {
      mimeType: image?.mimeType ?? null,
      sizeBytes: bytes.byteLength,
      sha256: sha256Hex(bytes),
    });
    return empty(201);
  }

  async function imageStatus(req: Request, urn: string): Promise<Response> {
    const grant = await member(req, ["w_member_social"], "partnerApiImages.GET");
    const row = await findMedia(ctx, NETWORK, urn);
    if (!row) return json(404, notFound());
    if (row.account_id !== grant.account_id) return json(403, accessDenied("partnerApiImages.GET"));
    return json(200, { owner: personUrn(row.account_id), id: row.id, status: row.state, ...(row.mime_type ? { mediaType: row.mime_type } : {}) });
  }

  async function createPost(req: Request): Promise<Response> {
    const grant = await member(req, ["w_member_social"], "partnerApiPostsExternal.CREATE");
    const body = await readJsonObject(req, () => json(400, { status: 400, message: "Invalid JSON body" }));
    if (body.author !== personUrn(grant.account_id)) return json(403, accessDenied(`partnerApiPostsExternal.CREATE.${req.headers.get("linkedin-version")}`));
    const text = typeof body.commentary === "string" ? renderLittleText(body.commentary) : "";
    const mediaId = (body.content as { media?: { id?: unknown } } | undefined)?.media?.id;
    const mediaIds = typeof mediaId === "string" ? [mediaId] : [];

    const injected = await injectedFailure(ctx, NETWORK, grant.account_id, text);
    if (injected) return injectedResponse(injected, mediaIds, grant.account_id);

    for (const field of ["visibility", "distribution", "lifecycleState"] as const) {
      if (body[field] === undefined) return json(422, inputError(422, "FIELD_VALUE_REQUIRED", `/${field}`, `Field /${field} is required`));
    }
    if (text.length > linkedinSandboxConfig.commentaryMaxChars) {
      return json(422, inputError(422, "FIELD_VALUE_TOO_LONG", "/commentary", "Commentary is too long"));
    }
    const attached = [];
    for (const id of mediaIds) {
      const row = await findMedia(ctx, NETWORK, id);
      if (!row || row.account_id !== grant.account_id || row.state !== "AVAILABLE") {
        const state = row?.state ?? "not found";
        return json(422, inputError(422, "INVALID_MEDIA_ASSET", "/content/media/id", `Media asset ${id} cannot be used (${state})`));
      }
      attached.push({ id: row.id, mimeType: row.mime_type, sizeBytes: row.size_bytes });
    }
    const daily = await countCall(ctx, NETWORK, `posts:${grant.account_id}`, linkedinSandboxConfig.postsPerDay, 24 * 3600);
    if (daily.exceeded) return json(429, throttled());
    const id = `urn:li:share:${snowflakeId(ctx.now())}`;
    const post = { id, accountId: grant.account_id, text, media: attached };
    const duplicate = await recordPostUnlessDuplicate(ctx, NETWORK, post, linkedinSandboxConfig.duplicateWindowSeconds);
    if (duplicate) return json(422, duplicateError(duplicate.id));
    return empty(201, { "x-restli-id": id, "x-linkedin-id": id });
  }

  /** LinkedIn's own answer for each failure category. */
  async function injectedResponse(category: ErrorCategory, mediaIds: string[], accountId: string): Promise<Response> {
    switch (category) {
      case "rate_limited":
        return json(429, throttled());
      case "auth_error":
        return json(401, tokenErrors.revoked);
      case "network_error":
        return htmlPage(503, "Service Unavailable", "The service is temporarily unavailable.");
      case "duplicate": {
        const [latest] = await ctx.sql<{ id: string }[]>`
          select id from local_sandbox.posts where network = ${NETWORK} and account_id = ${accountId} order by created_at desc limit 1`;
        return json(422, duplicateError(latest?.id ?? `urn:li:share:${snowflakeId(ctx.now())}`));
      }
      case "media_error":
      case "media_processing": {
        const state = category === "media_error" ? "PROCESSING_FAILED" : "PROCESSING";
        await setMediaState(ctx, NETWORK, mediaIds, state);
        return json(422, inputError(422, "INVALID_MEDIA_ASSET", "/content/media/id", `Media asset cannot be used (${state})`));
      }
      case "unknown":
        return json(400, { status: 400, message: "Unable to obtain activity" });
    }
  }

  // --- metrics -------------------------------------------------------------------------------------------------------

  /** A failure injected for these posts' metrics calls (marker or control), as LinkedIn answers it. */
  async function metricsFailureResponse(posts: SandboxPost[], accountId: string): Promise<Response | undefined> {
    const failure = await metricsFailure(ctx, NETWORK, posts);
    if (!failure) return undefined;
    if (failure === "garbage") return garbageResponse();
    return injectedResponse(failure, [], accountId);
  }

  async function memberPostAnalytics(req: Request): Promise<Response> {
    const grant = await member(req, ["r_member_postAnalytics"], "memberCreatorPostAnalytics.FINDER-entity");
    const params = new URL(req.url).searchParams;
    if (params.get("q") !== "entity") return badRequest("[sandbox] only the entity finder (q=entity) is emulated");
    const entity = /^\((share|ugcPost):(urn:li:(share|ugcPost):\d+)\)$/.exec(params.get("entity") ?? "");
    if (!entity || entity[1] !== entity[3]) return badRequest("Invalid entity: expected (share:urn:li:share:…) or (ugcPost:urn:li:ugcPost:…)");
    const queryType = params.get("queryType") ?? "";
    if (!Object.hasOwn(memberQueryTypes, queryType)) return badRequest(`Invalid queryType ${queryType}`);
    const aggregation = params.get("aggregation");
    if (aggregation !== "TOTAL") return badRequest("[sandbox] only aggregation=TOTAL is emulated");
    const post = await findPost(ctx, NETWORK, entity[2]!);
    if (!post || post.account_id !== grant.account_id) return json(404, notFound());
    const failed = await metricsFailureResponse([post], grant.account_id);
    if (failed) return failed;
    const m = await postMetrics(ctx, NETWORK, post);
    const value = m[memberQueryTypes[queryType as keyof typeof memberQueryTypes]];
    return json(200, {
      paging: { start: 0, count: 10, links: [], total: 1 },
      elements: [{ count: value, metricType: { [METRIC_TYPE_KEY]: queryType } }],
    });
  }

  async function organization(req: Request, urn: string | null, scope: string, resource: string) {
    const grant = await member(req, [scope], resource);
    const id = /^urn:li:organization:(\d+)$/.exec(urn ?? "")?.[1];
    if (!id) throw new Reply(badRequest(`Invalid organization URN ${urn ?? ""}`));
    await ensureTables();
    const [org] = await ctx.sql<{ id: string; admin: string }[]>`select id, admin from local_sandbox.linkedin_organizations where id = ${id}`;
    if (!org) throw new Reply(json(404, notFound()));
    if (org.admin !== grant.account_id) throw new Reply(json(403, accessDenied(resource)));
    return { grant, org };
  }

  async function shareStatistics(req: Request): Promise<Response> {
    const params = new URL(req.url).searchParams;
    const resource = "organizationalEntityShareStatistics.FINDER-organizationalEntity";
    if (params.get("q") !== "organizationalEntity") return badRequest("[sandbox] only q=organizationalEntity is emulated");
    const orgUrn = params.get("organizationalEntity");
    const { org } = await organization(req, orgUrn, "rw_organization_admin", resource);
    if (params.has("timeIntervals") || params.has("timeIntervals.timeGranularityType")) {
      return badRequest("[sandbox] only lifetime statistics (no timeIntervals) are emulated");
    }
    const asked = [
      ...restliList(params, "shares").map((urn) => ({ urn, key: "share" })),
      ...restliList(params, "ugcPosts").map((urn) => ({ urn, key: "ugcPost" })),
    ];
    const posts: { key: string; post: SandboxPost }[] = [];
    if (asked.length) {
      for (const a of asked) {
        const post = await findPost(ctx, NETWORK, a.urn);
        // A post that is not the organization's (or no longer exists) has no statistics: it is left out.
        if (post && post.account_id === org.id && a.urn.startsWith(`urn:li:${a.key}:`)) posts.push({ key: a.key, post });
      }
    } else {
      const rows = await ctx.sql<SandboxPost[]>`
        select id, account_id, text, media, created_at from local_sandbox.posts where network = ${NETWORK} and account_id = ${org.id}`;
      posts.push(...rows.map((post) => ({ key: "", post })));
    }
    const failed = await metricsFailureResponse(posts.map((p) => p.post), org.id);
    if (failed) return failed;
    const measured = [];
    for (const p of posts) measured.push({ ...p, m: await postMetrics(ctx, NETWORK, p.post) });
    const paging = { start: 0, count: 10, links: [] };
    if (!asked.length) {
      const total = { impressions: 0, reach: 0, clicks: 0, likes: 0, comments: 0, shares: 0, quotes: 0, saves: 0, videoViews: 0 };
      for (const { m } of measured) for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += m[k];
      return json(200, { paging, elements: [{ organizationalEntity: orgUrn, totalShareStatistics: shareStatisticsOf(total) }] });
    }
    return json(200, {
      paging,
      elements: measured.map(({ key, post, m }) => ({ organizationalEntity: orgUrn, [key]: post.id, totalShareStatistics: shareStatisticsOf(m) })),
    });
  }

  async function socialActions(req: Request, urn: string): Promise<Response> {
    const post = /^urn:li:(share|ugcPost):\d+$/.test(urn) ? await findPost(ctx, NETWORK, urn) : undefined;
    if (!post) {
      await member(req, [], "socialActions.GET");
      return json(404, notFound());
    }
    const byOrganization = /^\d+$/.test(post.account_id);
    if (byOrganization) await organization(req, `urn:li:organization:${post.account_id}`, "r_organization_social", "socialActions.GET");
    else {
      const grant = await member(req, ["r_member_social"], "socialActions.GET");
      if (grant.account_id !== post.account_id) return json(403, accessDenied("socialActions.GET"));
    }
    const failed = await metricsFailureResponse([post], post.account_id);
    if (failed) return failed;
    const m = await postMetrics(ctx, NETWORK, post);
    return json(200, {
      $URN: `urn:li:socialActions:${urn}`,
      target: urn,
      likesSummary: { selectedLikes: [], aggregatedTotalLikes: m.likes, likedByCurrentUser: false, totalLikes: m.likes },
      commentsSummary: { selectedComments: [], totalFirstLevelComments: Math.floor(m.comments * 0.8), commentsState: "OPEN", aggregatedTotalComments: m.comments },
    });
  }

  /** Control: a new organization page administered by `admin` (a member id or urn). */
  async function createOrganization(req: Request): Promise<Response> {
    const body = await readJsonObject(req, () => json(400, { error: "invalid JSON" }));
    const admin = typeof body.admin === "string" ? accountRef(body.admin) : "";
    if (!admin) return json(400, { error: "admin (a member id) is required" });
    await ensureTables();
    const id = String(10_000_000 + Math.floor(Math.random() * 89_999_999));
    const name = typeof body.name === "string" && body.name ? body.name : `Sandbox Organization ${id}`;
    await ctx.sql`insert into local_sandbox.linkedin_organizations (id, name, admin) values (${id}, ${name}, ${admin})`;
    return json(200, { id, urn: `urn:li:organization:${id}`, name, admin });
  }

  /** The versioned REST API (`/rest/...`) needs the `LinkedIn-Version` and Rest.li headers first. */
  const rest =
    (handle: (req: Request, params: Record<string, string>) => Promise<Response>) =>
    (req: Request, params: Record<string, string>) => {
      assertVersioned(req);
      return handle(req, params);
    };

  return dispatcher(
    "linkedin sandbox",
    {
      "POST /__sandbox/organizations": (req) => createOrganization(req),
      "* /__sandbox/*": (req, params) => handleControl(ctx, NETWORK, req, `/${params["*"]!}`, accountRef),
      "GET /oauth/v2/authorization": (req) =>
        authorize(ctx, req, {
          network: NETWORK,
          clients,
          pkce: "ignored",
          scopeSeparator: /[\s,+]+/,
          knownScopes: linkedinSandboxConfig.scopes,
          codeTtlSeconds: linkedinSandboxConfig.codeSeconds,
          denial: { error: "user_cancelled_authorize", error_description: "The user cancelled the authorization" },
          newAccount: (username) => ({ id: memberId(), name: `Sandbox ${username}` }),
          errorPage: (message) => htmlPage(400, "LinkedIn", `Bummer, something went wrong. ${message}`),
        }),
      "POST /oauth/v2/accessToken": (req) => accessToken(req),
      "GET /v2/userinfo": (req) => userinfo(req),
      "PUT /dms-uploads/:uploadId([A-Za-z0-9_-]+)": (req, params) => upload(req, params.uploadId!),
      "POST /rest/posts": rest((req) => createPost(req)),
      "POST /rest/images": rest((req) => initializeUpload(req)),
      "GET /rest/images/:image": rest((req, params) => imageStatus(req, params.image!)),
      "GET /rest/memberCreatorPostAnalytics": rest((req) => memberPostAnalytics(req)),
      "GET /rest/organizationalEntityShareStatistics": rest((req) => shareStatistics(req)),
      "GET /rest/socialActions/:urn": rest((req, params) => socialActions(req, params.urn!)),
    },
    {
      notFound: () => json(404, notFound()),
      methodNotAllowed: () => json(405, { status: 405, code: "METHOD_NOT_ALLOWED", message: "Method not allowed" }),
    },
  );
}

/** A Rest.li 2.0 `List(a,b)` query parameter, decoded (absent: empty). */
function restliList(params: URLSearchParams, name: string): string[] {
  const value = params.get(name);
  if (value === null) return [];
  const inner = /^List\((.*)\)$/.exec(value)?.[1];
  if (inner === undefined) throw new Reply(badRequest(`Invalid ${name}: expected List(urn,…)`));
  return inner ? inner.split(",") : [];
}

/** A post's (or a sum of posts') `totalShareStatistics`, as organizationalEntityShareStatistics answers them. */
function shareStatisticsOf(m: SandboxMetrics) {
  return {
    impressionCount: m.impressions,
    uniqueImpressionsCount: m.reach,
    clickCount: m.clicks,
    likeCount: m.likes,
    commentCount: m.comments,
    shareCount: m.shares,
    // LinkedIn's engagement: (clicks + likes + comments + shares) / impressions.
    engagement: m.impressions ? (m.clicks + m.likes + m.comments + m.shares) / m.impressions : 0,
  };
}

/** LinkedIn member ids (`sub`) are short opaque alphanumeric strings. */
function memberId(): string {
  return randomBytes(16).toString("base64").replace(/[^A-Za-z0-9]/g, "").slice(0, 10);
}

/** A YYYYMM version (optionally `.NN`) released within the last year and not in the future. */
export function isActiveVersion(version: string, now: Date): boolean {
  const match = /^(\d{4})(\d{2})(?:\.\d{2})?$/.exec(version);
  if (!match) return false;
  const months = Number(match[1]) * 12 + Number(match[2]) - 1;
  const current = now.getUTCFullYear() * 12 + now.getUTCMonth();
  return Number(match[2]) >= 1 && Number(match[2]) <= 12 && months <= current && current - months <= linkedinSandboxConfig.activeVersionMonths;
}

/** Little text as LinkedIn renders it: hashtag templates become `#tag`, backslash escapes are dropped. */
export function renderLittleText(commentary: string): string {
  return commentary.replace(/\{hashtag\|\\#\|([^}]*)\}/g, "#$1").replace(/\\(.)/gs, "$1");
}
