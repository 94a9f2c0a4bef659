import { randomBytes, randomInt } from "node:crypto";
import { sniffVideo } from "../platforms/sniff-video.js";
import type { ErrorCategory } from "../platforms/types.js";
import {
  authorize,
  countCall,
  createMedia,
  handleControl,
  injectedFailure,
  issueTokens,
  json,
  readBytes,
  recordPost,
  redeemCode,
  SandboxReply,
  setMediaState,
  sha256Hex,
  sniffImage,
  type AuthorizeOptions,
  type Grant,
  type NetworkHandler,
  type RateWindow,
  type SandboxContext,
} from "./common.js";
import { networkTables } from "./network-tables.js";

/**
 * The engine shared by the sandboxes of Meta's container APIs, Instagram and Threads (reference/platforms.md §3, §4,
 * §6): Graph error envelopes, parameters from the query or the body, the token exchange and refresh of long-lived
 * tokens, and the container flow: create a container from a public media URL (the sandbox downloads it, as Meta does),
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

// --- Graph errors ----------------------------------------------------------------------------------------------------

export interface GraphErrorFields {
  message: string;
  code: number;
  subcode?: number;
  type?: string;
  transient?: boolean;
  userTitle?: string;
  userMessage?: string;
}

/** Meta's error envelope (§3): `{"error":{message,type,code,error_subcode,is_transient,…,fbtrace_id}}`. */
export function graphError(status: number, e: GraphErrorFields, headers: Record<string, string> = {}): Response {
  return json(
    status,
    {
      error: {
        message: e.message,
        type: e.type ?? "OAuthException",
        code: e.code,
        ...(e.subcode !== undefined ? { error_subcode: e.subcode } : {}),
        is_transient: e.transient ?? false,
        ...(e.userTitle ? { error_user_title: e.userTitle } : {}),
        ...(e.userMessage ? { error_user_msg: e.userMessage } : {}),
        fbtrace_id: randomBytes(9).toString("base64url"),
      },
    },
    headers,
  );
}

const noSuchObject = (id: string) =>
  graphError(400, {
    message: `Unsupported request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    code: 100,
    subcode: 33,
    type: "GraphMethodException",
  });
const unknownPath = (path: string) => graphError(400, { message: `Unknown path components: ${path}`, code: 2500 });
const invalidParameter = (message: string) => graphError(400, { message: `(#100) ${message}`, code: 100 });

const describeDay = (d: Date) => d.toUTCString().replace("GMT", "PST");
const tokenErrors = {
  missing: () => graphError(400, { message: "An active access token must be used to query information about the current user.", code: 2500 }),
  unknown: () => graphError(400, { message: "Invalid OAuth access token - Cannot parse access token", code: 190 }),
  expired: (g: Grant | undefined, now: Date) =>
    graphError(400, {
      message: `Error validating access token: Session has expired on ${describeDay(g?.expires_at ?? now)}. The current time is ${describeDay(now)}.`,
      code: 190,
      subcode: 463,
    }),
  revoked: (g: Grant | undefined) =>
    graphError(400, { message: `Error validating access token: The user has not authorized application ${g?.client_id ?? ""}.`, code: 190, subcode: 458 }),
};

/** Meta's answer to an injected failure of each category (§3, §4.3, §6.3); media_* are container states instead. */
export function injectedGraphError(category: Exclude<ErrorCategory, "media_error" | "media_processing">, dialect: MetaDialect, accountId: string, now: Date): Response {
  switch (category) {
    case "rate_limited":
      return dialect.throttled(accountId, { limit: dialect.callsPerHour, remaining: 0, reset: Math.floor(now.getTime() / 1000) + 60 });
    case "auth_error":
      return tokenErrors.expired(undefined, new Date(now.getTime() - 60_000));
    case "network_error":
      return graphError(500, { message: "An unexpected error has occurred. Please retry your request later.", code: 2, transient: true });
    case "duplicate":
      return graphError(400, { message: "(#506) Duplicate status message", code: 506 });
    case "unknown":
      return dialect.restricted();
  }
}

// --- requests --------------------------------------------------------------------------------------------------------

/** Graph parameters: the query, plus an urlencoded, multipart or JSON body (Graph accepts them all). */
export async function graphParams(req: Request): Promise<URLSearchParams> {
  const params = new URLSearchParams(new URL(req.url).searchParams);
  if (req.method === "GET" || req.method === "HEAD") return params;
  const type = req.headers.get("content-type") ?? "";
  const raw = await readBytes(req, 256 * 1024, () => graphError(413, { message: "Request body too large", code: 100 }));
  if (!raw.length) return params;
  if (type.startsWith("multipart/form-data")) {
    const form = await new Response(new Uint8Array(raw), { headers: { "content-type": type } }).formData().catch(() => undefined);
    for (const [key, value] of form?.entries() ?? []) if (typeof value === "string") params.set(key, value);
  } else if (type.startsWith("application/json")) {
    try {
      const body: unknown = JSON.parse(raw.toString("utf8"));
      if (body && typeof body === "object") {
        for (const [key, value] of Object.entries(body)) if (["string", "number", "boolean"].includes(typeof value)) params.set(key, String(value));
      }
    } catch {
      throw new SandboxReply(invalidParameter("Request body is not valid JSON"));
    }
  } else {
    for (const [key, value] of new URLSearchParams(raw.toString("utf8"))) params.set(key, value);
  }
  return params;
}

/** The token from `access_token`, or from `Authorization: Bearer …` / `Authorization: OAuth …`. */
function tokenOf(req: Request, params: URLSearchParams): string | undefined {
  const header = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
  return params.get("access_token") ?? header?.[1];
}

async function accessGrant(ctx: SandboxContext, network: string, token: string | undefined): Promise<Grant> {
  if (!token) throw new SandboxReply(tokenErrors.missing());
  const [row] = await ctx.sql<Grant[]>`
    select * from local_sandbox.grants where token = ${token} and network = ${network} and kind = 'access'`;
  if (!row) throw new SandboxReply(tokenErrors.unknown());
  if (row.revoked_at) throw new SandboxReply(tokenErrors.revoked(row));
  if (row.expires_at && row.expires_at <= ctx.now()) throw new SandboxReply(tokenErrors.expired(row, ctx.now()));
  return row;
}

// --- media -----------------------------------------------------------------------------------------------------------

export type FetchedMedia = { ok: true; bytes: Buffer; contentType: string | undefined } | { ok: false; reason: "unreachable" | "status" | "too_large" };

/** Downloads media from its public URL as Meta's fetcher does: bounded in time and size, redirects followed. */
export async function fetchMedia(url: string, maxBytes: number, timeoutMs = 10_000): Promise<FetchedMedia> {
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) return { ok: false, reason: "unreachable" };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      return { ok: false, reason: "status" };
    }
    if (Number(res.headers.get("content-length") ?? "0") > maxBytes) {
      await res.body?.cancel().catch(() => {});
      return { ok: false, reason: "too_large" };
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = res.body?.getReader();
    for (;;) {
      const next = reader ? await reader.read() : { done: true as const, value: undefined };
      if (next.done) break;
      total += next.value.byteLength;
      if (total > maxBytes) {
        await reader?.cancel().catch(() => {});
        return { ok: false, reason: "too_large" };
      }
      chunks.push(next.value);
    }
    return { ok: true, bytes: Buffer.concat(chunks), contentType: res.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase() };
  } catch {
    return { ok: false, reason: "unreachable" };
  }
}

/** Width and height of a JPEG, from its start-of-frame segment. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    const length = b.readUInt16BE(i + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame && i + 9 <= b.length) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + length;
  }
  return undefined;
}

export interface ImageFacts {
  mimeType: string;
  width?: number;
  height?: number;
  sizeBytes: number;
}

/** An image's type by signature and its dimensions (PNG and GIF from their headers, JPEG from its frame). */
export function imageFacts(bytes: Buffer): ImageFacts | undefined {
  const image = sniffImage(bytes);
  if (!image) return undefined;
  const size = image.mimeType === "image/jpeg" ? jpegSize(bytes) : image.width !== undefined ? { width: image.width, height: image.height! } : undefined;
  return { mimeType: image.mimeType, ...size, sizeBytes: bytes.byteLength };
}

// --- ids ------------------------------------------------------------------------------------------------------------

/** A numeric Graph id (17 digits, like Instagram's and Threads' media ids). */
export function graphId(prefix = "17"): string {
  let digits = prefix;
  while (digits.length < 17) digits += String(randomInt(0, 10));
  return digits;
}

/** A stable 11-character shortcode for a media id, as in instagram.com/p/<shortcode>/. */
export function shortcodeOf(id: string): string {
  return Buffer.from(sha256Hex(id), "hex").toString("base64url").slice(0, 11);
}

// --- the dialect -----------------------------------------------------------------------------------------------------

export type ContainerKind = "TEXT" | "IMAGE" | "VIDEO";

export interface ContainerRow {
  id: string;
  account_id: string;
  media_type: ContainerKind;
  text: string;
  state: string;
  polls: number;
  ready_after_polls: number;
  stuck: boolean;
  injected: string | null;
  error_detail: string | null;
  published_id: string | null;
  mime_type: string | null;
  size_bytes: number | null;
  created_at: Date;
}

export interface PublishedRow {
  id: string;
  account_id: string;
  text: string;
  media: { id: string; mimeType: string | null; sizeBytes: number | null; kind?: ContainerKind }[];
  created_at: Date;
}

export interface AccountRow {
  id: string;
  username: string;
  name: string;
  account_type: string | null;
}

export interface MetaDialect {
  network: string;
  clients: ReadonlyMap<string, { clientId: string; clientSecret: string }>;
  /** The consent page's options (common.ts `authorize`). */
  consent: Omit<AuthorizeOptions, "network" | "clients">;
  /** Paths: `/v<version>` prefixes accepted before API paths (unversioned paths are accepted too, as on Graph). */
  versionPattern: RegExp;
  scopes: { publish: string };
  createEdge: string;
  publishEdge: string;
  limitEdge: string;
  textField: string;
  exchangeGrant: string;
  refreshGrant: string;
  tokenPrefix: string;
  shortTokenSeconds: number;
  longTokenSeconds: number;
  callsPerHour: number;
  postsPerDay: number;
  /** Status reads after which a video container is finished. */
  videoReadyPolls: number;
  imageMaxBytes: number;
  videoMaxBytes: number;
  textLength(text: string): number;
  textMaxChars: number;
  /** POST /oauth/access_token: the network's own short-lived token answer and its error shape. */
  shortLivedToken(params: URLSearchParams, grant: { ok: true; grant: Grant } | { ok: false; reason: "client" | "code" | "grant_type" }): Promise<Response> | Response;
  /** Refuses the account publishing at all (Instagram: a personal account), or undefined. */
  refuseAccount?(account: AccountRow): Response | undefined;
  /** What kind of container the parameters ask for, and from which URL; or the network's refusal. */
  containerRequest(params: URLSearchParams): { kind: ContainerKind; sourceUrl?: string } | Response;
  /** The network's refusal of a fetched image (format, aspect ratio), or undefined. */
  refuseImage(image: ImageFacts): Response | undefined;
  textTooLong(): Response;
  fetchFailed(url: string): Response;
  imageTooLarge(): Response;
  /** The container's status detail when processing fails (a video that cannot be read or fetched, an injection). */
  processingError(kind: ContainerKind, reason: "download" | "format" | "injected"): string;
  renderContainer(row: ContainerRow, fields: string[]): Record<string, unknown>;
  renderMe(account: AccountRow, fields: string[]): Record<string, unknown>;
  renderPost(post: PublishedRow, account: AccountRow, fields: string[]): Record<string, unknown>;
  usageHeaders(accountId: string, window: RateWindow): Record<string, string>;
  throttled(accountId: string, window: RateWindow): Response;
  quotaReached(): Response;
  /** The network's answer for an injected `unknown` failure (a restricted action). */
  restricted(): Response;
  /** Extra `/__sandbox` control endpoints (`path` after `/__sandbox`), or undefined to fall through. */
  control?(req: Request, path: string): Promise<Response | undefined>;
  /** Called after a consent that issued a code (Instagram records the account type asked for). */
  afterConsent?(req: URL, accountId: string): Promise<void>;
}

const CONTAINER_TTL_SECONDS = 24 * 3600;
const IMMEDIATE_INJECTIONS: ReadonlySet<ErrorCategory> = new Set(["rate_limited", "auth_error", "network_error", "unknown"]);

interface Ingested {
  state: string;
  errorDetail: string | null;
  media: { mimeType?: string; sizeBytes?: number; sha256?: string };
}

interface Call {
  accountId?: string;
  window?: RateWindow;
}

/** Requested fields (`fields=a,b`), or the defaults. */
export function fieldsOf(params: URLSearchParams, defaults: string[]): string[] {
  const value = params.get("fields");
  return value ? value.split(",").map((f) => f.trim()).filter(Boolean) : defaults;
}

export function pick(all: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { id: all.id };
  for (const field of fields) if (all[field] !== undefined) out[field] = all[field];
  return out;
}

// --- the engine ------------------------------------------------------------------------------------------------------

export function createMetaSandbox(ctx: SandboxContext, d: MetaDialect): NetworkHandler {
  const network = d.network;
  const ensureTables = networkTables(ctx.sql, "meta", ddl);

  async function authenticated(req: Request, params: URLSearchParams, call: Call): Promise<Grant> {
    const grant = await accessGrant(ctx, network, tokenOf(req, params));
    call.accountId = grant.account_id;
    const counted = await countCall(ctx, network, `calls:${grant.account_id}`, d.callsPerHour, 3600);
    call.window = counted.window;
    if (counted.exceeded) throw new SandboxReply(d.throttled(grant.account_id, counted.window));
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
    if (userId !== grant.account_id) throw new SandboxReply(noSuchObject(userId));
  }

  function assertScope(grant: Grant, scope: string): void {
    if (!grant.scopes.includes(scope)) {
      throw new SandboxReply(graphError(403, { message: "(#10) Application does not have permission for this action", code: 10 }));
    }
  }

  // GET /oauth/authorize — consent
  async function consent(req: Request): Promise<Response> {
    const res = await authorize(ctx, req, { ...d.consent, network, clients: d.clients });
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
    const issued = await issueTokens(ctx, network, code, { accessTtlSeconds: d.shortTokenSeconds, tokenPrefix: d.tokenPrefix });
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
    const issued = await issueTokens(ctx, network, grant, { accessTtlSeconds: d.longTokenSeconds, tokenPrefix: d.tokenPrefix });
    return json(200, { access_token: issued.accessToken, token_type: "bearer", expires_in: d.longTokenSeconds });
  }

  async function me(req: Request, params: URLSearchParams, call: Call): Promise<Response> {
    const grant = await authenticated(req, params, call);
    return json(200, d.renderMe(await account(grant.account_id), fieldsOf(params, ["id", "username"])));
  }

  /**
   * Fetches the container's media as Meta does. An image that cannot be fetched or is refused fails the request;
   * video is downloaded and transcoded after Meta answers, so its failures show as the container's ERROR status once
   * its processing is over (`errorDetail` is what the status will say).
   */
  async function ingest(request: { kind: ContainerKind; sourceUrl?: string }): Promise<Ingested | Response> {
    if (request.kind === "TEXT") return { state: "FINISHED", errorDetail: null, media: {} };
    if (request.kind === "IMAGE") {
      const fetched = await fetchMedia(request.sourceUrl!, d.imageMaxBytes);
      if (!fetched.ok) return fetched.reason === "too_large" ? d.imageTooLarge() : d.fetchFailed(request.sourceUrl!);
      const image = imageFacts(fetched.bytes);
      if (!image) return d.fetchFailed(request.sourceUrl!);
      const refused = d.refuseImage(image);
      if (refused) return refused;
      return { state: "FINISHED", errorDetail: null, media: { mimeType: image.mimeType, sizeBytes: image.sizeBytes, sha256: sha256Hex(fetched.bytes) } };
    }
    const fetched = await fetchMedia(request.sourceUrl!, d.videoMaxBytes, 20_000);
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
              ${request.kind === "VIDEO" ? d.videoReadyPolls : 0}, ${stuck}, ${injected ?? null}, ${errorDetail}, ${ctx.now()})`;
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
    const since = new Date(ctx.now().getTime() - 24 * 3600 * 1000);
    const [{ count }] = (await ctx.sql`
      select count(*)::int as count from local_sandbox.posts where network = ${network} and account_id = ${grant.account_id} and created_at > ${since}`) as unknown as [
      { count: number },
    ];
    if (count >= d.postsPerDay) return d.quotaReached();

    const mediaId = graphId();
    const media = row.media_type === "TEXT" ? [] : [{ id: row.id, mimeType: row.mime_type, sizeBytes: row.size_bytes, kind: row.media_type }];
    await recordPost(ctx, network, { id: mediaId, accountId: grant.account_id, text: row.text, media });
    await ctx.sql`update local_sandbox.meta_containers set published_id = ${mediaId} where network = ${network} and id = ${row.id}`;
    await setMediaState(ctx, network, [row.id], "PUBLISHED");
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
    return json(200, { data: [{ quota_usage: count, config: { quota_total: d.postsPerDay, quota_duration: 86400 } }] });
  }

  async function api(req: Request, path: string, call: Call): Promise<Response> {
    const params = await graphParams(req);
    const parts = path.split("/").filter(Boolean);
    if (parts.length === 1 && parts[0] === "me" && req.method === "GET") return me(req, params, call);
    if (parts.length === 1 && req.method === "GET") return readObject(req, params, parts[0]!, call);
    if (parts.length === 2) {
      const [userId, edge] = parts as [string, string];
      if (edge === d.createEdge && req.method === "POST") return createContainer(req, params, userId, call);
      if (edge === d.createEdge && req.method === "GET") return listMedia(req, params, userId, call);
      if (edge === d.publishEdge && req.method === "POST") return publish(req, params, userId, call);
      if (edge === d.limitEdge && req.method === "GET") return publishingLimit(req, params, userId, call);
    }
    return unknownPath(path);
  }

  async function route(req: Request, path: string, call: Call): Promise<Response> {
    await ensureTables();
    if (path.startsWith("/__sandbox/")) {
      const rest = path.slice("/__sandbox".length);
      return (await d.control?.(req, rest)) ?? handleControl(ctx, network, req, rest);
    }
    if (req.method === "GET" && path === "/oauth/authorize") return consent(req);
    if (req.method === "POST" && path === "/oauth/access_token") return shortLivedToken(req);
    if (req.method === "GET" && path === "/access_token") return longLivedToken(req, "exchange");
    if (req.method === "GET" && path === "/refresh_access_token") return longLivedToken(req, "refresh");
    const versioned = d.versionPattern.exec(path);
    return api(req, versioned ? (versioned[1] ?? "/") : path, call);
  }

  return async (req, path) => {
    const call: Call = {};
    let res: Response;
    try {
      res = await route(req, path, call);
    } catch (error) {
      if (!(error instanceof SandboxReply)) throw error;
      res = error.response;
    }
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

