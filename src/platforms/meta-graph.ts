import { z } from "zod";
import { createHttpClient, excerpt, retryAfterHeader, type HttpClient, type HttpResponse } from "./http.js";
import { invalidResponse } from "./metrics.js";
import { codeFlow, type CodeFlowOptions } from "./oauth.js";
import { PlatformError, type AdapterConfig, type ErrorCategory, type OAuthTokens, type PlatformAdapter, type PublishOutcome, type PublishRequest } from "./types.js";

/**
 * What Instagram, Threads and Facebook share as Meta Graph APIs: the error envelope and its classification by
 * `error.code` / `error_subcode` (never by the HTTP status or the message), the rate-limit reset from the usage
 * headers, the login flow of Instagram and Threads (a short-lived token exchanged for a long-lived one that is
 * refreshed with itself), and the container publishing flow (create a container from a public media URL → its
 * status → publish it).
 */

// --- errors ---------------------------------------------------------------------------------------------------------

const graphErrorSchema = z.object({
  error: z.object({
    message: z.string().optional(),
    type: z.string().optional(),
    code: z.coerce.number().optional(),
    error_subcode: z.coerce.number().optional(),
    is_transient: z.boolean().optional(),
    error_user_title: z.string().optional(),
    error_user_msg: z.string().optional(),
    fbtrace_id: z.string().optional(),
  }),
});

/** api.instagram.com's token endpoint answers in an older shape: `{error_type, code, error_message}`. */
const legacyErrorSchema = z.object({ error_type: z.string(), code: z.coerce.number().optional(), error_message: z.string().optional() });

interface GraphError {
  code?: number;
  subcode?: number;
  type?: string;
  transient?: boolean;
  message?: string;
}

function parseGraphError(json: unknown): GraphError | undefined {
  const graph = graphErrorSchema.safeParse(json);
  if (graph.success) {
    const e = graph.data.error;
    return { code: e.code, subcode: e.error_subcode, type: e.type, transient: e.is_transient, message: e.error_user_msg ?? e.message };
  }
  const legacy = legacyErrorSchema.safeParse(json);
  if (legacy.success) return { code: legacy.data.code, type: legacy.data.error_type, message: legacy.data.error_message };
  return undefined;
}

/** Token invalid, expired (subcode 463), password changed (460), app removed (458)…; 102 session; 2500 no token. */
const AUTH_CODES = new Set([190, 102, 2500]);
/** Pages publishing authorization required: only the person can fix it, by reconnecting after confirming. */
const AUTH_SUBCODES = new Set([1404078]);
/** App (4), user (17), page (32), custom (613) and business-use-case (80001 Pages, 80002 Instagram, 80006) limits. */
const THROTTLE_CODES = new Set([4, 17, 32, 613, 80001, 80002, 80006]);
/** Instagram's publishing limit (100 posts per 24 h), answered with code 9. */
const THROTTLE_SUBCODES = new Set([2207042]);
const PUBLISH_SPAM_CODE = 9;
/** "Media ID is not available": the container is not finished yet. */
const NOT_READY = { code: 9007, subcode: 2207027 };
const DUPLICATE_CODES = new Set([506, 368]);
const DUPLICATE_SUBCODES = new Set([1366051]);
/** Media that could not be fetched, read or accepted (download timeout, too large, format, aspect ratio, …). */
const MEDIA_CODES = new Set([9004, 36000, 36001, 36003, 352]);
const MEDIA_SUBCODES = new Set([
  2207003, 2207004, 2207005, 2207006, 2207008, 2207009, 2207020, 2207023, 2207026, 2207028, 2207032, 2207052, 2207053, 2207057,
  2207077, 2207082, 1366046, 2069019,
]);
/** "An unknown error has occurred" (1) and "An unexpected error has occurred. Please retry" (2). */
const TRANSIENT_CODES = new Set([1, 2]);

function isPermission(code: number | undefined): boolean {
  return code === 10 || (code !== undefined && code >= 200 && code <= 299);
}

export type GraphContext = "api" | "token";

/**
 * Classifies a Graph answer from `error.code` and `error_subcode`: invalid or expired tokens and
 * missing permissions → auth_error (reconnecting fixes them); throttling codes and the publishing limit →
 * rate_limited, with the reset from the usage headers; 9007/2207027 → media_processing; 506/368 → duplicate; media
 * codes → media_error; codes 1 and 2, `is_transient` and 5xx without an envelope → network_error; the rest → unknown.
 * At a token endpoint every refusal of the grant (bad code, bad secret, wrong redirect) is an auth_error.
 */
export function classifyGraphError(res: HttpResponse, service: string, now: Date, context: GraphContext = "api"): PlatformError {
  const status = res.status;
  const e = parseGraphError(res.json);
  const code = e?.code;
  const subcode = e?.subcode;
  const platformCode = code === undefined ? undefined : subcode === undefined ? String(code) : `${code}/${subcode}`;
  const detail = excerpt(e?.message);
  const message = `${service} answered ${status}${detail ? `: ${detail}` : ""}`;
  const details = { status, platformCode };
  const fail = (category: ErrorCategory, extra: { retryAfterSeconds?: number } = {}) => new PlatformError(category, message, { ...details, ...extra });

  if (res.ok) return new PlatformError("unknown", `${service} answered ${status} with an unexpected body`, details);
  if (!e) {
    if (status === 429) return fail("rate_limited", { retryAfterSeconds: graphRetryAfterSeconds(res.headers, now) });
    if (status >= 500) return fail("network_error");
    if (context === "token" && status >= 400 && status < 500) return fail("auth_error");
    return fail("unknown");
  }
  if ((code !== undefined && AUTH_CODES.has(code)) || (subcode !== undefined && AUTH_SUBCODES.has(subcode)) || isPermission(code)) {
    return fail("auth_error");
  }
  const throttled =
    (code !== undefined && THROTTLE_CODES.has(code)) || (subcode !== undefined && THROTTLE_SUBCODES.has(subcode)) || code === PUBLISH_SPAM_CODE;
  if (throttled || status === 429) return fail("rate_limited", { retryAfterSeconds: graphRetryAfterSeconds(res.headers, now) });
  if (code === NOT_READY.code && (subcode === undefined || subcode === NOT_READY.subcode)) return fail("media_processing");
  if ((code !== undefined && DUPLICATE_CODES.has(code)) || (subcode !== undefined && DUPLICATE_SUBCODES.has(subcode))) return fail("duplicate");
  if ((code !== undefined && MEDIA_CODES.has(code)) || (subcode !== undefined && MEDIA_SUBCODES.has(subcode))) return fail("media_error");
  if ((code !== undefined && TRANSIENT_CODES.has(code)) || e.transient === true || status >= 500) {
    return context === "token" && status < 500 ? fail("auth_error") : fail("network_error");
  }
  if (context === "token" && status >= 400 && status < 500) return fail("auth_error");
  return fail("unknown");
}

const bucUsageSchema = z.record(z.string(), z.array(z.object({ estimated_time_to_regain_access: z.coerce.number().optional() }).loose()));

/**
 * When a throttled caller may try again: the largest `estimated_time_to_regain_access` (minutes) in
 * `X-Business-Use-Case-Usage`, else `Retry-After`. `X-App-Usage` carries percentages only, so it says nothing here.
 */
export function graphRetryAfterSeconds(headers: Headers, now: Date): number | undefined {
  const raw = headers.get("x-business-use-case-usage");
  if (raw) {
    try {
      const parsed = bucUsageSchema.safeParse(JSON.parse(raw));
      if (parsed.success) {
        const minutes = Object.values(parsed.data)
          .flat()
          .map((entry) => entry.estimated_time_to_regain_access ?? 0);
        const longest = Math.max(0, ...minutes);
        if (longest > 0) return longest * 60;
      }
    } catch {
      // a malformed header is no information
    }
  }
  return retryAfterHeader(headers, now);
}

// --- tokens ---------------------------------------------------------------------------------------------------------

const longLivedTokenSchema = z.object({ access_token: z.string().min(1), token_type: z.string().optional(), expires_in: z.coerce.number().positive() });

export interface MetaLoginOptions extends Pick<CodeFlowOptions, "service" | "http" | "now" | "clientId" | "clientSecret" | "authorizeUrl"> {
  /** Where the code is exchanged for a short-lived token (1 hour). */
  codeTokenUrl: string;
  /** The host serving `/access_token` (short-lived → long-lived) and `/refresh_access_token`. */
  longLivedBaseUrl: string;
  /** The product's grant names for those two calls (`ig_exchange_token`/`ig_refresh_token`, `th_…`). */
  grants: { exchange: string; refresh: string };
  /** The short-lived token and, when the answer names them, the granted scopes; undefined for an unreadable answer. */
  readShortLived(body: unknown): { accessToken: string; scopes?: string[] } | undefined;
  /** The scopes to record when the answer names none (consent grants what was asked). */
  defaultScopes: string[];
}

/**
 * The login flow of Instagram (Instagram Login) and Threads: consent with comma-separated scopes and no PKCE; the code
 * for a short-lived token (client id and secret in the form); that, on the API host, for a long-lived token (60 days).
 * There is no refresh token: a long-lived token is refreshed with itself while it is still valid, so it is returned
 * as `refreshToken` too (an expired one cannot be refreshed, and the refresh fails with auth_error: reconnect).
 * Every refusal at these endpoints (bad code, bad secret, wrong redirect) is an auth_error.
 */
export function metaLoginFlow(options: MetaLoginOptions): Pick<PlatformAdapter, "authorizeUrl" | "exchangeCode" | "refresh"> {
  const { service, http, now } = options;
  const shortLived = codeFlow({
    service,
    http,
    now,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    authorizeUrl: options.authorizeUrl,
    tokenUrl: options.codeTokenUrl,
    pkce: false,
    clientAuth: "body",
    scopeSeparator: ",",
    error: (res, at) => classifyGraphError(res, service, at, "token"),
    tokens(res) {
      const read = options.readShortLived(res.json);
      if (!read) throw new PlatformError("unknown", `${service} token endpoint answered ${res.status} without an access token`, { status: res.status });
      return { accessToken: read.accessToken, scopes: read.scopes ?? options.defaultScopes };
    },
  });

  /** A GET on a long-lived token endpoint: the query carries everything, the answer is a long-lived token. */
  async function longLived(path: string, query: Record<string, string>, scopes: string[]): Promise<OAuthTokens> {
    const url = new URL(`${options.longLivedBaseUrl.replace(/\/$/, "")}${path}`);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    const res = await http.request({ url });
    if (!res.ok) throw classifyGraphError(res, service, now(), "token");
    return toLongLivedTokens(res, service, now(), scopes);
  }

  return {
    authorizeUrl: shortLived.authorizeUrl,

    async exchangeCode(exchange) {
      const short = await shortLived.exchangeCode(exchange);
      const query = { grant_type: options.grants.exchange, client_secret: options.clientSecret, access_token: short.accessToken };
      return longLived("/access_token", query, short.scopes);
    },

    refresh(longLivedToken) {
      return longLived("/refresh_access_token", { grant_type: options.grants.refresh, access_token: longLivedToken }, []);
    },
  };
}

export function toLongLivedTokens(res: HttpResponse, service: string, now: Date, scopes: string[]): OAuthTokens {
  const parsed = longLivedTokenSchema.safeParse(res.json);
  if (!parsed.success) {
    throw new PlatformError("unknown", `${service} token endpoint answered ${res.status} without a long-lived token`, { status: res.status });
  }
  const token = parsed.data.access_token;
  // The long-lived token is its own refresh token, so it can be renewed until it expires (60 days from each refresh).
  const expiresAt = new Date(now.getTime() + parsed.data.expires_in * 1000);
  return { accessToken: token, refreshToken: token, expiresAt, refreshTokenExpiresAt: expiresAt, scopes };
}

/** Scopes as Meta reports them: a comma-separated string or an array. */
export function scopeList(value: unknown): string[] | undefined {
  if (typeof value === "string") return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return undefined;
}

// --- containers -----------------------------------------------------------------------------------------------------

export type ContainerStatus = "IN_PROGRESS" | "FINISHED" | "PUBLISHED" | "ERROR" | "EXPIRED";

/** How one Meta product names the pieces of the container flow. */
export interface ContainerDialect {
  service: string;
  /** The Graph version path prefix, e.g. `/v24.0`. */
  version: string;
  /** `POST /{user}/<createEdge>` creates a container; `GET /{user}/<createEdge>` lists published media. */
  createEdge: string;
  /** `POST /{user}/<publishEdge>?creation_id=` publishes a finished container. */
  publishEdge: string;
  /** The field that carries the post's text on a published media object (`caption`, `text`). */
  textField: string;
  /** The fields to ask a container for, and how to read its status from the answer. */
  statusFields: string;
  readStatus(body: unknown): { status: ContainerStatus; detail?: string } | undefined;
  /** The container's parameters for this post; throws PlatformError("media_error") for media the network refuses. */
  containerParams(request: PublishRequest): Record<string, string>;
}

const stateSchema = z.object({ containerId: z.string().min(1), polls: z.number().int().min(0), createdAt: z.string() });
type ContainerState = z.infer<typeof stateSchema>;

const idSchema = z.object({ id: z.string().min(1) });
const permalinkSchema = z.object({ permalink: z.string().url().optional() });
const recentMediaSchema = z.object({ data: z.array(z.object({ id: z.string(), permalink: z.string().optional(), timestamp: z.string().optional() }).catchall(z.unknown())) });

/** The longest wait between two status checks; the first check is 1 s after the container is created, then 2, 4, 8… */
export const MAX_CHECK_INTERVAL_SECONDS = 60;

export function checkAfterSeconds(polls: number): number {
  return Math.min(MAX_CHECK_INTERVAL_SECONDS, 2 ** Math.max(0, polls - 1));
}

/**
 * The container flow as `publish` and `checkStatus`. `publish` creates the container and looks at it
 * once: finished media (images, text) are published in the same call; media still processing (video) come back as
 * `processing`, and the executor calls `checkStatus` through the queue until the container is finished, failed or the
 * bounded wait is over. Nothing here waits in a loop.
 *
 * Publishing is not idempotent, and Meta warns that a publish answered with a transient error (code 2) may still have
 * gone out. So a publish that gets no answer or a transient error is not retried blindly: the outcome is
 * `processing`, and the next check reads the container, whose `PUBLISHED` status says whether the post exists (then
 * the post is looked up among the account's recent media) or not (then it is published again).
 */
export function containerPublisher(
  http: HttpClient,
  dialect: ContainerDialect,
  options: { apiBaseUrl: string; now: () => Date },
): Pick<PlatformAdapter, "publish" | "checkStatus"> {
  const graph = (path: string) => `${options.apiBaseUrl.replace(/\/$/, "")}${dialect.version}${path}`;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const fail = (res: HttpResponse) => classifyGraphError(res, dialect.service, options.now());
  const userPath = (request: PublishRequest) => `/${encodeURIComponent(request.account.externalAccountId)}`;

  const processing = (state: ContainerState): PublishOutcome => ({
    status: "processing",
    checkAfterSeconds: checkAfterSeconds(state.polls),
    state: { ...state },
  });

  async function published(request: PublishRequest, mediaId: string, permalink?: string): Promise<PublishOutcome> {
    if (permalink) return { status: "published", externalPostId: mediaId, url: permalink };
    // The post exists now: a failure to read its permalink must not turn into an error (a retry would post it twice).
    const url = new URL(graph(`/${encodeURIComponent(mediaId)}`));
    url.searchParams.set("fields", "permalink");
    const res = await http.request({ url, headers: bearer(request.accessToken) }).catch(() => undefined);
    const parsed = res?.ok ? permalinkSchema.safeParse(res.json) : undefined;
    const link = parsed?.success ? parsed.data.permalink : undefined;
    return link ? { status: "published", externalPostId: mediaId, url: link } : { status: "published", externalPostId: mediaId };
  }

  async function readContainer(request: PublishRequest, containerId: string) {
    const url = new URL(graph(`/${encodeURIComponent(containerId)}`));
    url.searchParams.set("fields", dialect.statusFields);
    const res = await http.request({ url, headers: bearer(request.accessToken) });
    const status = res.ok ? dialect.readStatus(res.json) : undefined;
    if (!status) throw fail(res);
    return status;
  }

  async function publishContainer(request: PublishRequest, state: ContainerState): Promise<PublishOutcome> {
    let res: HttpResponse;
    try {
      res = await http.request({
        method: "POST",
        url: graph(`${userPath(request)}/${dialect.publishEdge}`),
        form: { creation_id: state.containerId },
        headers: bearer(request.accessToken),
      });
    } catch (error) {
      if (error instanceof PlatformError && error.category === "network_error") return processing(state);
      throw error;
    }
    const parsed = res.ok ? idSchema.safeParse(res.json) : undefined;
    if (parsed?.success) return published(request, parsed.data.id);
    // A success without an id says nothing certain either: the container's status will.
    if (res.ok) return processing(state);
    const error = fail(res);
    // Not ready after all, or an answer that leaves it open whether the post went out: look at the container again.
    if (error.category === "media_processing" || error.category === "network_error") return processing(state);
    throw error;
  }

  /** The container says it was published (an earlier answer was lost): find the post among the recent media. */
  async function findPublished(request: PublishRequest, state: ContainerState): Promise<PublishOutcome> {
    const url = new URL(graph(`${userPath(request)}/${dialect.createEdge}`));
    url.searchParams.set("fields", `id,${dialect.textField},permalink,timestamp`);
    url.searchParams.set("limit", "25");
    const res = await http.request({ url, headers: bearer(request.accessToken) });
    const parsed = res.ok ? recentMediaSchema.safeParse(res.json) : undefined;
    if (!parsed?.success) throw fail(res);
    const since = Date.parse(state.createdAt) - 60_000;
    const match = parsed.data.data.find(
      // An empty caption is left out of the answer.
      (m) => (m[dialect.textField] ?? "") === request.text && (m.timestamp === undefined || metaTime(m.timestamp) >= since),
    );
    // Listed a moment later than the container flips: look again on the next check.
    return match ? published(request, match.id, match.permalink) : processing(state);
  }

  async function advance(request: PublishRequest, previous: ContainerState): Promise<PublishOutcome> {
    const state = { ...previous, polls: previous.polls + 1 };
    const { status, detail } = await readContainer(request, state.containerId);
    const why = detail ? `: ${excerpt(detail)}` : "";
    switch (status) {
      case "IN_PROGRESS":
        return processing(state);
      case "FINISHED":
        return publishContainer(request, state);
      case "PUBLISHED":
        return findPublished(request, state);
      case "ERROR":
        throw new PlatformError("media_error", `${dialect.service} could not process the media of container ${state.containerId}${why}`, {
          platformCode: status,
        });
      case "EXPIRED":
        throw new PlatformError("media_error", `${dialect.service} container ${state.containerId} expired before it was published`, {
          platformCode: status,
        });
    }
  }

  return {
    async publish(request) {
      const params = dialect.containerParams(request);
      const res = await http.request({
        method: "POST",
        url: graph(`${userPath(request)}/${dialect.createEdge}`),
        form: params,
        headers: bearer(request.accessToken),
      });
      const parsed = res.ok ? idSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw fail(res);
      return advance(request, { containerId: parsed.data.id, polls: 0, createdAt: options.now().toISOString() });
    },

    async checkStatus(request, raw) {
      const parsed = stateSchema.safeParse(raw);
      if (!parsed.success) throw new PlatformError("unknown", `${dialect.service}: no container to check in this processing state`);
      return advance(request, parsed.data);
    },
  };
}

/** Meta timestamps come as `2026-08-01T12:00:00+0000`, which not every parser reads. */
function metaTime(value: string): number {
  return Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
}

/** A media item's kind from its MIME type. */
export function mediaKind(mimeType: string): "image" | "video" | "other" {
  const type = mimeType.toLowerCase();
  if (type.startsWith("image/")) return "image";
  if (type.startsWith("video/")) return "video";
  return "other";
}

// --- one Meta product ------------------------------------------------------------------------------------------------

/** What one Meta product (Instagram, Threads) sets: its URLs, Graph version, login answers and container dialect. */
export interface MetaProduct {
  service: string;
  /** The Graph version path segment, e.g. `v24.0`. */
  version: string;
  /** The consent page, the code-for-short-lived-token endpoint and the API host (long-lived tokens, `/me`, media). */
  urls: { authorize: string; codeToken: string; api: string };
  login: Pick<MetaLoginOptions, "grants" | "readShortLived" | "defaultScopes">;
  container: Omit<ContainerDialect, "service" | "version">;
}

/**
 * The parts Instagram and Threads share: the login flow, the container publisher, and the `/me` read (the product
 * names the fields and reads the answer into its account).
 */
export function metaProductAdapter(
  config: AdapterConfig,
  product: MetaProduct,
): {
  /** The adapter's login and publishing methods, as they are. */
  methods: Pick<PlatformAdapter, "authorizeUrl" | "exchangeCode" | "refresh" | "publish" | "checkStatus">;
  me<T>(accessToken: string, fields: string, schema: z.ZodType<T>): Promise<T>;
  /** Insights of one object (`/{id}/{edge}?metric=…`): values by metric name, or why there are none. */
  insights(accessToken: string, objectId: string, metrics: string, edge?: string): Promise<GraphInsights>;
} {
  const { service } = product;
  const http = createHttpClient({ service, fetch: config.fetch, timeoutMs: config.timeoutMs });
  const now = config.now ?? (() => new Date());
  const api = (path: string) => `${product.urls.api.replace(/\/$/, "")}${path}`;
  const login = metaLoginFlow({
    ...product.login,
    service,
    http,
    now,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    authorizeUrl: product.urls.authorize,
    codeTokenUrl: product.urls.codeToken,
    longLivedBaseUrl: product.urls.api,
  });
  const publisher = containerPublisher(
    http,
    { ...product.container, service, version: `/${product.version}` },
    { apiBaseUrl: product.urls.api, now },
  );
  return {
    methods: { ...login, ...publisher },
    async insights(accessToken, objectId, metrics, edge = "insights") {
      const url = new URL(api(`/${product.version}/${encodeURIComponent(objectId)}/${edge}`));
      url.searchParams.set("metric", metrics);
      const res = await http.request({ url, headers: { authorization: `Bearer ${accessToken}` } });
      return readInsights(res, service, now());
    },
    async me(accessToken, fields, schema) {
      const url = new URL(api(`/${product.version}/me`));
      url.searchParams.set("fields", fields);
      const res = await http.request({ url, headers: { authorization: `Bearer ${accessToken}` } });
      const parsed = res.ok ? schema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyGraphError(res, service, now());
      return parsed.data;
    },
  };
}

// --- insights --------------------------------------------------------------------------------------------------------

/** Graph insights rows: a lifetime metric has `values: [{value}]`, a total has `total_value: {value}`. */
const insightsSchema = z.object({
  data: z.array(
    z.looseObject({
      name: z.string(),
      values: z.array(z.looseObject({ value: z.unknown() })).optional(),
      total_value: z.looseObject({ value: z.unknown() }).optional(),
    }),
  ),
});

export type GraphInsights = { values: Record<string, unknown>; raw: Record<string, unknown> } | { unavailable: string };

/** "(#10) Not enough viewers for the media to show insights". */
const NOT_ENOUGH_VIEWERS_SUBCODE = 2108006;
/** "Object with ID … does not exist, cannot be loaded due to missing permissions" (a deleted post). */
const NO_SUCH_OBJECT = { code: 100, subcode: 33 };

/**
 * Reads an insights answer. A post with too few viewers or one that no longer exists has no insights (not a failure of
 * the account's sync); other errors are classified like every Graph error; a 2xx that is not the insights shape is an
 * invalid response.
 */
export function readInsights(res: HttpResponse, service: string, now: Date): GraphInsights {
  if (!res.ok) {
    const e = parseGraphError(res.json);
    if (e?.subcode === NOT_ENOUGH_VIEWERS_SUBCODE) return { unavailable: `${service} shows no insights for media with too few viewers` };
    if (e?.code === NO_SUCH_OBJECT.code && e.subcode === NO_SUCH_OBJECT.subcode) return { unavailable: `${service} has no such post (deleted)` };
    throw classifyGraphError(res, service, now);
  }
  const parsed = insightsSchema.safeParse(res.json);
  if (!parsed.success) throw invalidResponse(service, res.status, parsed.error);
  const values: Record<string, unknown> = {};
  for (const row of parsed.data.data) values[row.name] = row.values?.[0]?.value ?? row.total_value?.value;
  return { values, raw: values };
}
