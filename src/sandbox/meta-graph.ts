import { sniffVideo } from "../platforms/sniff-video.js";
import type { ErrorCategory } from "../platforms/types.js";
import {
  authorize,
  dispatcher,
  countCall,
  grantAndCount,
  createMedia,
  handleControl,
  injectedFailure,
  issueTokens,
  json,
  redeemCode,
  accountFollowers,
  findPost,
  garbageResponse,
  metricsFailure,
  postMetrics,
  type SandboxMetrics,
  Reply,
  setMediaState,
  sha256Hex,
  type Handler,
  type Grant,
  type NetworkHandler,
  type RateWindow,
  type SandboxContext,
} from "./common.js";
import {
  type AccountRow,
  type Call,
  CONTAINER_TTL_SECONDS,
  type ContainerKind,
  type ContainerRow,
  fieldsOf,
  IMMEDIATE_INJECTIONS,
  type Ingested,
  type MetaDialect,
  type PublishedRow,
} from "./meta-graph/dialect.js";
import {
  accessGrant,
  fetchMedia,
  graphError,
  graphId,
  graphParams,
  imageFacts,
  injectedGraphError,
  invalidParameter,
  noSuchObject,
  tokenErrors,
  tokenOf,
  unknownPath,
} from "./meta-graph/graph.js";

export * from "./meta-graph/graph.js";
export * from "./meta-graph/dialect.js";

import { networkTables } from "./network-tables.js";

/**
 * The engine shared by the sandboxes of Meta's container APIs, Instagram and Threads: Graph error envelopes,
 * parameters from the query or the body, the token exchange and refresh of long-lived tokens, and the container flow: create a container from a public media URL (the sandbox downloads it, as Meta does),
 * read its status (video finishes after a few status reads), publish it, list and read published media, and the
 * publishing quota. Each network supplies its dialect: names, limits, validation, rendering and its own error bodies.
 *
 * State lives in `local_sandbox`: accounts, grants, posts and media (container status) through common.ts, plus two
 * tables of its own, created on the first request (network-tables.ts): `meta_containers` (what a container holds and
 * how far it is) and `meta_accounts` (Instagram's account type).
 */

// --- schema ----------------------------------------------------------------------------------------------------------

const ddl = `
create table if not exists local_sandbox.meta_containers (
  network           text not null,
  id                text not null,
  account_id        text not null,
  media_type        text not null,
  text              text not null,
  source_url        text,
  polls             integer not null default 0,
  ready_after_polls integer not null default 0,
  stuck             boolean not null default false,
  injected          text,
  error_detail      text,
  published_id      text,
  created_at        timestamptz not null default now(),
  primary key (network, id)
);
create table if not exists local_sandbox.meta_accounts (
  network      text not null,
  id           text not null,
  account_type text not null,
  primary key (network, id)
);
`;

// --- the engine ------------------------------------------------------------------------------------------------------

export function createMetaSandbox(ctx: SandboxContext, d: MetaDialect): NetworkHandler {
  const network = d.network;
  const ensureTables = networkTables(ctx.sql, "meta", ddl);

  async function authenticated(req: Request, params: URLSearchParams, call: Call): Promise<Grant> {
    const token = tokenOf(req, params);
    if (!token) throw new Reply(tokenErrors.missing());
    // The token's grant and the call counted in its hourly window, in one statement (a refused token counts nothing).
    const checked = await grantAndCount(ctx, network, token, "calls:", d.limits.callsPerHour, 3600);
    if (checked.refused !== undefined) {
      if (checked.refused === "unknown" || !checked.grant) throw new Reply(tokenErrors.unknown());
      if (checked.refused === "revoked") throw new Reply(tokenErrors.revoked(checked.grant));
      throw new Reply(tokenErrors.expired(checked.grant, ctx.now()));
    }
    const grant = checked.grant;
    call.accountId = grant.account_id;
    call.window = checked.window;
    if (checked.exceeded) throw new Reply(d.throttled(grant.account_id, checked.window));
    return grant;
  }

  async function account(id: string): Promise<AccountRow> {
    const [row] = await ctx.sql<AccountRow[]>`
      select a.id, a.username, a.name, m.account_type
      from local_sandbox.accounts a left join local_sandbox.meta_accounts m on m.network = a.network and m.id = a.id
      where a.network = ${network} and a.id = ${id}`;
    return row!;
  }

  async function container(id: string): Promise<ContainerRow | undefined> {
    const [row] = await ctx.sql<ContainerRow[]>`
      select c.id, c.account_id, c.media_type, c.text, m.state, c.polls, c.ready_after_polls, c.stuck, c.injected, c.error_detail,
             c.published_id, m.mime_type, m.size_bytes, c.created_at
      from local_sandbox.meta_containers c join local_sandbox.media m on m.network = c.network and m.id = c.id
      where c.network = ${network} and c.id = ${id}`;
    return row;
  }

  async function publishedPost(id: string): Promise<PublishedRow | undefined> {
    const [row] = await ctx.sql<PublishedRow[]>`
      select id, account_id, text, media, created_at from local_sandbox.posts where network = ${network} and id = ${id}`;
    return row;
  }

  /** The account in the path must be the token's own. */
  function assertOwnUser(userId: string, grant: Grant): void {
    if (userId !== grant.account_id) throw new Reply(noSuchObject(userId));
  }

  function assertScope(grant: Grant, scope: string): void {
    if (!grant.scopes.includes(scope)) {
      throw new Reply(graphError(403, { message: "(#10) Application does not have permission for this action", code: 10 }));
    }
  }

  // GET /oauth/authorize — consent
  async function consent(req: Request): Promise<Response> {
    const res = await authorize(ctx, req, {
      ...d.consent,
      network,
      clients: d.clients,
      pkce: "ignored",
      scopeSeparator: /[\s,+]+/,
      knownScopes: d.limits.scopes,
      codeTtlSeconds: d.limits.codeSeconds,
    });
    const location = res.headers.get("location");
    const code = location ? new URL(location).searchParams.get("code") : null;
    if (code && d.afterConsent) {
      const [grant] = await ctx.sql<{ account_id: string }[]>`select account_id from local_sandbox.grants where token = ${code} and network = ${network}`;
      if (grant) await d.afterConsent(new URL(req.url), grant.account_id);
    }
    return res;
  }

  // POST /oauth/access_token — the code for a short-lived token
  async function shortLivedToken(req: Request): Promise<Response> {
    const params = await graphParams(req);
    const client = d.clients.get(params.get("client_id") ?? "");
    if (!client || client.clientSecret !== params.get("client_secret")) return d.shortLivedToken(params, { ok: false, reason: "client" });
    if (params.get("grant_type") !== "authorization_code") return d.shortLivedToken(params, { ok: false, reason: "grant_type" });
    const code = await redeemCode(ctx, network, params.get("code") ?? "");
    if (!code || code.client_id !== client.clientId || code.redirect_uri !== params.get("redirect_uri")) {
      return d.shortLivedToken(params, { ok: false, reason: "code" });
    }
    const issued = await issueTokens(ctx, network, code, { accessTtlSeconds: d.limits.shortTokenSeconds, tokenPrefix: d.tokenPrefix });
    const [grant] = await ctx.sql<Grant[]>`select * from local_sandbox.grants where token = ${issued.accessToken}`;
    return d.shortLivedToken(params, { ok: true, grant: grant! });
  }

  // GET /access_token (exchange) and GET /refresh_access_token (refresh) — long-lived tokens
  async function longLivedToken(req: Request, kind: "exchange" | "refresh"): Promise<Response> {
    const params = await graphParams(req);
    const grantType = kind === "exchange" ? d.exchangeGrant : d.refreshGrant;
    if (params.get("grant_type") !== grantType) return invalidParameter(`grant_type must be ${grantType}`);
    const grant = await accessGrant(ctx, network, params.get("access_token") ?? undefined);
    if (kind === "exchange") {
      const client = d.clients.get(grant.client_id);
      if (!client || client.clientSecret !== params.get("client_secret")) {
        return graphError(400, { message: "Error validating client secret.", code: 1 });
      }
    }
    // Real tokens can be refreshed only once they are 24 h old; the sandbox does not make you wait a day.
    const issued = await issueTokens(ctx, network, grant, { accessTtlSeconds: d.limits.longTokenSeconds, tokenPrefix: d.tokenPrefix });
    return json(200, { access_token: issued.accessToken, token_type: "bearer", expires_in: d.limits.longTokenSeconds });
  }

  async function me(req: Request, params: URLSearchParams, call: Call): Promise<Response> {
    const grant = await authenticated(req, params, call);
    const fields = fieldsOf(params, ["id", "username"]);
    const rendered = d.renderMe(await account(grant.account_id), fields);
    if (fields.includes("followers_count")) rendered.followers_count = await accountFollowers(ctx, network, grant.account_id);
    return json(200, rendered);
  }

  /**
   * Insights per network: Instagram (`instagram_business_manage_insights`) views, reach, likes, comments, shares, saved,
   * total_interactions; Threads (`threads_manage_insights`) views, likes, replies, reposts, quotes, shares. Lifetime
   * values, in Graph's `{name, period, values: [{value}], title, description, id}` rows.
   */
  const insights =
    network === "instagram"
      ? {
          scope: "instagram_business_manage_insights",
          values: (m: SandboxMetrics): Record<string, number> => ({
            views: m.impressions,
            reach: m.reach,
            likes: m.likes,
            comments: m.comments,
            shares: m.shares,
            saved: m.saves,
            total_interactions: m.likes + m.comments + m.shares + m.saves,
          }),
        }
      : {
          scope: "threads_manage_insights",
          values: (m: SandboxMetrics): Record<string, number> => ({
            views: m.impressions,
            likes: m.likes,
            replies: m.comments,
            reposts: m.shares,
            quotes: m.quotes,
            shares: Math.floor(m.quotes / 2),
          }),
        };

  // GET /{media-id}/insights?metric=… — a published post's lifetime insights
  async function mediaInsights(req: Request, params: URLSearchParams, id: string, call: Call): Promise<Response> {
    const grant = await authenticated(req, params, call);
    assertScope(grant, insights.scope);
    const post = await findPost(ctx, network, id);
    if (!post || post.account_id !== grant.account_id) return noSuchObject(id);
    const available = insights.values(await postMetrics(ctx, network, post));
    const asked = (params.get("metric") ?? "").split(",").map((m) => m.trim()).filter(Boolean);
    const unknown = asked.find((m) => !(m in available));
    if (!asked.length || unknown !== undefined) {
      return graphError(400, {
        message: `(#100) metric[${Math.max(0, asked.indexOf(unknown ?? ""))}] must be one of the following values: ${Object.keys(available).join(", ")}`,
        code: 100,
      });
    }
    const failure = await metricsFailure(ctx, network, [post]);
    if (failure === "garbage") return garbageResponse();
    if (failure) return injectedGraphError(failure, d, grant.account_id, ctx.now());
    const data = asked.map((name) => ({
      name,
      period: "lifetime",
      values: [{ value: available[name] }],
      title: name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()),
      description: `Lifetime ${name.replace(/_/g, " ")} of the media.`,
      id: `${id}/insights/${name}/lifetime`,
    }));
    return json(200, { data });
  }

  // GET /{user-id}/threads_insights?metric=followers_count — the account's total followers (Threads)
  async function userInsights(req: Request, params: URLSearchParams, userId: string, call: Call): Promise<Response> {
    const grant = await authenticated(req, params, call);
    assertOwnUser(userId, grant);
    assertScope(grant, insights.scope);
    const asked = (params.get("metric") ?? "").split(",").map((m) => m.trim()).filter(Boolean);
    if (!asked.length || asked.some((m) => m !== "followers_count")) {
      return graphError(400, { message: "(#100) This sandbox serves the followers_count user insight only", code: 100 });
    }
    const followers = await accountFollowers(ctx, network, grant.account_id);
    return json(200, {
      data: [
        {
          name: "followers_count",
          period: "day",
          title: "followers_count",
          description: "The number of followers on the profile.",
          total_value: { value: followers },
          id: `${userId}/insights/followers_count/day`,
        },
      ],
    });
  }

  /**
   * Fetches the container's media as Meta does. An image that cannot be fetched or is refused fails the request;
   * video is downloaded and transcoded after Meta answers, so its failures show as the container's ERROR status once
   * its processing is over (`errorDetail` is what the status will say).
   */
  async function ingest(request: { kind: ContainerKind; sourceUrl?: string }): Promise<Ingested | Response> {
    if (request.kind === "TEXT") return { state: "FINISHED", errorDetail: null, media: {} };
    if (request.kind === "IMAGE") {
      const fetched = await fetchMedia(request.sourceUrl!, d.limits.imageMaxBytes);
      if (!fetched.ok) return fetched.reason === "too_large" ? d.imageTooLarge() : d.fetchFailed(request.sourceUrl!);
      const image = imageFacts(fetched.bytes);
      if (!image) return d.fetchFailed(request.sourceUrl!);
      const refused = d.refuseImage(image);
      if (refused) return refused;
      return { state: "FINISHED", errorDetail: null, media: { mimeType: image.mimeType, sizeBytes: image.sizeBytes, sha256: sha256Hex(fetched.bytes) } };
    }
    const fetched = await fetchMedia(request.sourceUrl!, d.limits.videoMaxBytes, 20_000);
    if (!fetched.ok) return { state: "IN_PROGRESS", errorDetail: d.processingError("VIDEO", "download"), media: {} };
    // Both networks take MP4 and MOV only.
    const video = sniffVideo(fetched.bytes);
    if (!video || video.mimeType === "video/webm") return { state: "IN_PROGRESS", errorDetail: d.processingError("VIDEO", "format"), media: {} };
    return { state: "IN_PROGRESS", errorDetail: null, media: { mimeType: video.mimeType, sizeBytes: fetched.bytes.byteLength, sha256: sha256Hex(fetched.bytes) } };
  }

  // POST /{user}/<createEdge> — a container
  async function createContainer(req: Request, params: URLSearchParams, userId: string, call: Call): Promise<Response> {
    const grant = await authenticated(req, params, call);
    assertOwnUser(userId, grant);
    assertScope(grant, d.scopes.publish);
    const refusal = d.refuseAccount?.(await account(grant.account_id));
    if (refusal) return refusal;

    const text = params.get(d.textField) ?? "";
    const injected = await injectedFailure(ctx, network, grant.account_id, text);
    if (injected && IMMEDIATE_INJECTIONS.has(injected)) {
      return injectedGraphError(injected as Exclude<ErrorCategory, "media_error" | "media_processing">, d, grant.account_id, ctx.now());
    }
    const request = d.containerRequest(params);
    if (request instanceof Response) return request;
    if (d.textLength(text) > d.textMaxChars) return d.textTooLong();

    const ingested = await ingest(request);
    if (ingested instanceof Response) return ingested;
    // A failure shows when processing is over: at the first read for text and images, after a few for video.
    const errorDetail = injected === "media_error" ? d.processingError(request.kind, "injected") : ingested.errorDetail;
    const stuck = injected === "media_processing";
    const state = errorDetail || stuck ? "IN_PROGRESS" : ingested.state;

    const id = graphId();
    await createMedia(ctx, network, { id, accountId: grant.account_id, state, ...ingested.media });
    await ctx.sql`
      insert into local_sandbox.meta_containers
        (network, id, account_id, media_type, text, source_url, ready_after_polls, stuck, injected, error_detail, created_at)
      values (${network}, ${id}, ${grant.account_id}, ${request.kind}, ${text}, ${request.sourceUrl ?? null},
              ${request.kind === "VIDEO" ? d.limits.videoReadyPolls : 0}, ${stuck}, ${injected ?? null}, ${errorDetail}, ${ctx.now()})`;
    return json(200, { id });
  }

  /**
   * Reading a container advances it: it finishes (or fails, with its error detail) after `ready_after_polls` reads,
   * at once for text and images; a stuck one never does; unpublished containers expire after 24 h.
   */
  async function readContainer(row: ContainerRow, params: URLSearchParams): Promise<Response> {
    const polls = row.polls + 1;
    let state = row.state;
    if (state === "IN_PROGRESS" && !row.stuck && polls >= row.ready_after_polls) state = row.error_detail ? "ERROR" : "FINISHED";
    if (state !== "PUBLISHED" && ctx.now().getTime() - row.created_at.getTime() > CONTAINER_TTL_SECONDS * 1000) state = "EXPIRED";
    await ctx.sql`update local_sandbox.meta_containers set polls = ${polls} where network = ${network} and id = ${row.id}`;
    if (state !== row.state) await setMediaState(ctx, network, [row.id], state);
    return json(200, d.renderContainer({ ...row, polls, state }, fieldsOf(params, ["id"])));
  }

  // GET /{id} — a container's status, or a published media object
  async function readObject(req: Request, params: URLSearchParams, id: string, call: Call): Promise<Response> {
    const grant = await authenticated(req, params, call);
    const row = await container(id);
    if (row && row.account_id === grant.account_id) return readContainer(row, params);
    const post = await publishedPost(id);
    if (post && post.account_id === grant.account_id) {
      return json(200, d.renderPost(post, await account(grant.account_id), fieldsOf(params, ["id"])));
    }
    return noSuchObject(id);
  }

  // POST /{user}/<publishEdge>?creation_id= — publish a finished container
  async function publish(req: Request, params: URLSearchParams, userId: string, call: Call): Promise<Response> {
    const grant = await authenticated(req, params, call);
    assertOwnUser(userId, grant);
    assertScope(grant, d.scopes.publish);
    const creationId = params.get("creation_id") ?? "";
    if (!creationId) return invalidParameter("The parameter creation_id is required");
    const row = await container(creationId);
    if (!row || row.account_id !== grant.account_id) return noSuchObject(creationId);
    if (row.state !== "FINISHED") {
      return graphError(400, {
        message: "Media ID is not available",
        code: 9007,
        subcode: 2207027,
        userTitle: "Cannot publish",
        userMessage: "The media is not ready to be published. Please wait a moment.",
      });
    }
    if (row.injected === "duplicate") return injectedGraphError("duplicate", d, grant.account_id, ctx.now());
    const now = ctx.now();
    const since = new Date(now.getTime() - 24 * 3600 * 1000);
    const mediaId = graphId();
    const media = row.media_type === "TEXT" ? [] : [{ id: row.id, mimeType: row.mime_type, sizeBytes: row.size_bytes, kind: row.media_type }];
    // The day's quota, then the post, the container's published id and its media's state: one statement, and
    // nothing written when the quota is spent.
    const [{ count }] = (await ctx.sql`
      with counted as (
        select count(*)::int as count from local_sandbox.posts
        where network = ${network} and account_id = ${grant.account_id} and created_at > ${since}
      ), recorded as (
        insert into local_sandbox.posts (network, id, account_id, text, media, created_at)
        select ${network}, ${mediaId}, ${grant.account_id}, ${row.text}, ${ctx.sql.json(media as never)}, ${now}
        from counted where counted.count < ${d.limits.postsPerDay}
        returning id
      ), linked as (
        update local_sandbox.meta_containers set published_id = ${mediaId}
        where network = ${network} and id = ${row.id} and exists (select from recorded)
      ), published as (
        update local_sandbox.media set state = 'PUBLISHED'
        where network = ${network} and id = ${row.id} and exists (select from recorded)
      )
      select count from counted`) as unknown as [{ count: number }];
    if (count >= d.limits.postsPerDay) return d.quotaReached();
    return json(200, { id: mediaId });
  }

  // GET /{user}/<createEdge> — the account's published media, newest first
  async function listMedia(req: Request, params: URLSearchParams, userId: string, call: Call): Promise<Response> {
    const grant = await authenticated(req, params, call);
    assertOwnUser(userId, grant);
    const limit = Math.min(100, Math.max(1, Number(params.get("limit") ?? "25") || 25));
    const rows = await ctx.sql<PublishedRow[]>`
      select id, account_id, text, media, created_at from local_sandbox.posts
      where network = ${network} and account_id = ${grant.account_id} order by created_at desc, id desc limit ${limit}`;
    const owner = await account(grant.account_id);
    const fields = fieldsOf(params, ["id"]);
    return json(200, { data: rows.map((r) => d.renderPost(r, owner, fields)), paging: { cursors: { before: "", after: "" } } });
  }

  // GET /{user}/<limitEdge> — the publishing quota
  async function publishingLimit(req: Request, params: URLSearchParams, userId: string, call: Call): Promise<Response> {
    const grant = await authenticated(req, params, call);
    assertOwnUser(userId, grant);
    const since = new Date(ctx.now().getTime() - 24 * 3600 * 1000);
    const [{ count }] = (await ctx.sql`
      select count(*)::int as count from local_sandbox.posts where network = ${network} and account_id = ${grant.account_id} and created_at > ${since}`) as unknown as [
      { count: number },
    ];
    return json(200, { data: [{ quota_usage: count, config: { quota_total: d.limits.postsPerDay, quota_duration: 86400 } }] });
  }

  /** A Graph API call: its parameters from the query or the form. */
  type GraphHandler = (req: Request, params: URLSearchParams, path: Record<string, string>, call: Call) => Promise<Response>;
  const graph =
    (handle: GraphHandler): Handler<Call> =>
    async (req, path, call) =>
      handle(req, await graphParams(req), path, call);

  const controls = Object.entries(d.controls ?? {}).map(([key, handle]) => {
    const [method, path] = key.split(" ");
    return [`${method} /__sandbox${path}`, handle] as const;
  });

  const routes = dispatcher<Call>(
    `${network} sandbox`,
    {
      ...Object.fromEntries(controls),
      "* /__sandbox/*": (req, params) => handleControl(ctx, network, req, `/${params["*"]!}`),
      "GET /oauth/authorize": (req) => consent(req),
      "POST /oauth/access_token": (req) => shortLivedToken(req),
      "GET /access_token": (req) => longLivedToken(req, "exchange"),
      "GET /refresh_access_token": (req) => longLivedToken(req, "refresh"),
      "GET /me": graph((req, params, _path, call) => me(req, params, call)),
      "GET /:objectId": graph((req, params, path, call) => readObject(req, params, path.objectId!, call)),
      "GET /:objectId/insights": graph((req, params, path, call) => mediaInsights(req, params, path.objectId!, call)),
      "GET /:userId/threads_insights": graph((req, params, path, call) => userInsights(req, params, path.userId!, call)),
      [`POST /:userId/${d.createEdge}`]: graph((req, params, path, call) => createContainer(req, params, path.userId!, call)),
      [`GET /:userId/${d.createEdge}`]: graph((req, params, path, call) => listMedia(req, params, path.userId!, call)),
      [`POST /:userId/${d.publishEdge}`]: graph((req, params, path, call) => publish(req, params, path.userId!, call)),
      [`GET /:userId/${d.limitEdge}`]: graph((req, params, path, call) => publishingLimit(req, params, path.userId!, call)),
    },
    {
      notFound: (_method, path) => unknownPath(path),
      methodNotAllowed: (method) =>
        graphError(405, { message: `Unsupported ${method.toLowerCase()} request.`, code: 100, type: "GraphMethodException" }),
    },
  );

  return async (req, path) => {
    await ensureTables();
    const call: Call = {};
    // The API answers with and without its version prefix (`/v1.0/me` and `/me`).
    const versioned = d.versionPattern.exec(path);
    const res = await routes(req, versioned ? (versioned[1] ?? "/") : path, call);
    if (call.accountId && call.window) {
      for (const [name, value] of Object.entries(d.usageHeaders(call.accountId, call.window))) if (!res.headers.has(name)) res.headers.set(name, value);
    }
    return res;
  };
}

/** Usage as a percentage of the window, as Meta's usage headers report it. */
export function usagePercent(window: RateWindow): number {
  return Math.min(100, Math.round(((window.limit - window.remaining) / window.limit) * 100));
}

/** Minutes until the window resets, at least 1 (Meta's `estimated_time_to_regain_access`). */
export function minutesUntil(window: RateWindow, now: Date): number {
  return Math.max(1, Math.ceil((window.reset - now.getTime() / 1000) / 60));
}

/** Sets an account's type (Instagram: BUSINESS, MEDIA_CREATOR or PERSONAL). `keep` leaves an existing type alone. */
export async function setAccountType(ctx: SandboxContext, network: string, accountId: string, type: string, keep = false): Promise<void> {
  if (keep) {
    await ctx.sql`
      insert into local_sandbox.meta_accounts (network, id, account_type) values (${network}, ${accountId}, ${type})
      on conflict (network, id) do nothing`;
  } else {
    await ctx.sql`
      insert into local_sandbox.meta_accounts (network, id, account_type) values (${network}, ${accountId}, ${type})
      on conflict (network, id) do update set account_type = excluded.account_type`;
  }
}
