import { createHash, randomBytes, randomInt } from "node:crypto";
import type postgres from "postgres";
import { readStreamCapped } from "../core/http.js";
import { errorCategories, type ErrorCategory } from "../platforms/types.js";

/**
 * What every sandbox network shares: durable state in the `local_sandbox` schema (accounts, OAuth grants, posts,
 * media, failure-injection attempts, rate-limit windows), the OAuth authorization-code machinery, failure markers,
 * the `__sandbox` control endpoints and small response helpers. Each network file adds its own wire format on top.
 */

export type Sql = postgres.Sql;

export interface SandboxContext {
  sql: Sql;
  /** This network's public base URL, e.g. `http://localhost:8888/sandbox/linkedin` (for absolute upload URLs). */
  baseUrl: string;
  now: () => Date;
}

/** One network's handler: `path` is what follows `/sandbox/<network>`, e.g. `/2/tweets`. */
export type NetworkHandler = (req: Request, path: string) => Promise<Response>;

// --- schema --------------------------------------------------------------------------------------------------------

const ddl = `
create schema if not exists local_sandbox;

create table if not exists local_sandbox.accounts (
  network    text not null,
  id         text not null,
  username   text not null,
  name       text not null,
  created_at timestamptz not null default now(),
  primary key (network, id)
);
create unique index if not exists accounts_username on local_sandbox.accounts (network, username);

-- Authorization codes, access tokens and refresh tokens. "family" ties every token to the consent it descends from.
create table if not exists local_sandbox.grants (
  token                 text primary key,
  network               text not null,
  kind                  text not null check (kind in ('code', 'access', 'refresh')),
  account_id            text not null,
  client_id             text not null,
  scopes                text[] not null,
  family                text not null,
  redirect_uri          text,
  code_challenge        text,
  code_challenge_method text,
  expires_at            timestamptz,
  used_at               timestamptz,
  revoked_at            timestamptz,
  created_at            timestamptz not null default now()
);
create index if not exists grants_account on local_sandbox.grants (network, account_id, kind);

create table if not exists local_sandbox.posts (
  network    text not null,
  id         text not null,
  account_id text not null,
  text       text not null,
  media      jsonb not null default '[]',
  created_at timestamptz not null default now(),
  primary key (network, id)
);
create index if not exists posts_account on local_sandbox.posts (network, account_id, created_at desc);

create table if not exists local_sandbox.media (
  network      text not null,
  id           text not null,
  account_id   text not null,
  state        text not null,
  mime_type    text,
  size_bytes   integer,
  sha256       text,
  upload_token text unique,
  created_at   timestamptz not null default now(),
  primary key (network, id)
);

-- Attempts per marked content, for "[sandbox:<category>:<n>]" (fail the first n attempts).
create table if not exists local_sandbox.attempts (
  network      text not null,
  account_id   text not null,
  content_hash text not null,
  attempts     integer not null,
  primary key (network, account_id, content_hash)
);

create table if not exists local_sandbox.rate_windows (
  network      text not null,
  bucket       text not null,
  window_start timestamptz not null,
  calls        integer not null,
  primary key (network, bucket, window_start)
);
`;

/** Creates the sandbox's own schema if needed (idempotent, safe against concurrent starts on one database). */
export async function ensureSandboxSchema(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('local_sandbox.schema'))`;
    await tx.unsafe(ddl);
    await tx`delete from local_sandbox.rate_windows where window_start < now() - interval '2 days'`;
  });
}

// --- responses -----------------------------------------------------------------------------------------------------

/** Thrown by a step that has already decided the answer (an auth failure, a bad body). */
export class SandboxReply extends Error {
  constructor(readonly response: Response) {
    super(`sandbox reply ${response.status}`);
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export function empty(status: number, headers: Record<string, string> = {}): Response {
  return new Response(null, { status, headers });
}

export function htmlPage(status: number, title: string, message: string): Response {
  const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1><p>${escape(message)}</p></body></html>`;
  return new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8" } });
}

/** `redirectUri` with `params` added to its query (keeping any query it already has), as a 302. */
export function redirectWith(redirectUri: string, params: Record<string, string | undefined>): Response {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return new Response(null, { status: 302, headers: { location: url.toString(), "cache-control": "no-store" } });
}

// --- request bodies ------------------------------------------------------------------------------------------------

/** Reads at most `maxBytes` of the body; more is answered with `tooLarge()`. */
export async function readBytes(req: Request, maxBytes: number, tooLarge: () => Response): Promise<Buffer> {
  if (Number(req.headers.get("content-length") ?? "0") > maxBytes) throw new SandboxReply(tooLarge());
  return readStreamCapped(req.body, maxBytes, () => new SandboxReply(tooLarge()));
}

export async function readForm(req: Request, tooLarge: () => Response): Promise<URLSearchParams> {
  const bytes = await readBytes(req, 64 * 1024, tooLarge);
  return new URLSearchParams(Buffer.from(bytes).toString("utf8"));
}

/** The JSON body, or `invalid()` when it is not a JSON object. */
export async function readJsonObject(req: Request, invalid: () => Response): Promise<Record<string, unknown>> {
  const bytes = await readBytes(req, 1024 * 1024, invalid);
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString("utf8"));
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new SandboxReply(invalid());
}

/** decodeURIComponent that answers undefined for malformed input instead of throwing. */
export function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

export function bearerToken(req: Request): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
  return match?.[1];
}

// --- ids and tokens ------------------------------------------------------------------------------------------------

/** A 19-digit, time-ordered id like X's and LinkedIn's numeric ids (a snowflake: milliseconds, then random bits). */
export function snowflakeId(now: Date): string {
  const epoch = 1_288_834_974_657n;
  return (((BigInt(now.getTime()) - epoch) << 22n) | BigInt(randomInt(0, 1 << 22))).toString();
}

export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString("base64url");
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export function pkceMatches(verifier: string, challenge: string, method: string): boolean {
  const computed = method === "plain" ? verifier : createHash("sha256").update(verifier).digest("base64url");
  return computed === challenge;
}

/** The image type of some bytes by their signature (what a network's media pipeline trusts, not the declared type). */
export function sniffImage(bytes: Uint8Array): { mimeType: string; width?: number; height?: number } | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a) {
    return { mimeType: "image/png", width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { mimeType: "image/jpeg" };
  if (b.length >= 10 && b.toString("ascii", 0, 4) === "GIF8") {
    return { mimeType: "image/gif", width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  }
  if (b.length >= 12 && b.toString("ascii", 0, 4) === "RIFF" && b.toString("ascii", 8, 12) === "WEBP") return { mimeType: "image/webp" };
  return undefined;
}

// --- accounts ------------------------------------------------------------------------------------------------------

export interface SandboxAccount {
  id: string;
  username: string;
  name: string;
}

/** The account that signs in as `username` on the consent page, created on first sign-in. */
export async function accountForLogin(
  ctx: SandboxContext,
  network: string,
  username: string,
  create: () => { id: string; name: string },
): Promise<SandboxAccount> {
  const fresh = create();
  await ctx.sql`
    insert into local_sandbox.accounts (network, id, username, name)
    values (${network}, ${fresh.id}, ${username}, ${fresh.name})
    on conflict (network, username) do nothing`;
  const [row] = await ctx.sql<SandboxAccount[]>`
    select id, username, name from local_sandbox.accounts where network = ${network} and username = ${username}`;
  return row!;
}

export async function accountById(ctx: SandboxContext, network: string, id: string): Promise<SandboxAccount | undefined> {
  const [row] = await ctx.sql<SandboxAccount[]>`
    select id, username, name from local_sandbox.accounts where network = ${network} and id = ${id}`;
  return row;
}

// --- OAuth grants --------------------------------------------------------------------------------------------------

export interface Grant {
  token: string;
  kind: "code" | "access" | "refresh";
  account_id: string;
  client_id: string;
  scopes: string[];
  family: string;
  redirect_uri: string | null;
  code_challenge: string | null;
  code_challenge_method: string | null;
  expires_at: Date | null;
  used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
}

const at = (now: Date, seconds: number | null) => (seconds === null ? null : new Date(now.getTime() + seconds * 1000));

export async function issueCode(
  ctx: SandboxContext,
  network: string,
  code: {
    accountId: string;
    clientId: string;
    scopes: string[];
    redirectUri: string;
    codeChallenge: string | null;
    codeChallengeMethod: string | null;
    ttlSeconds: number;
  },
): Promise<string> {
  const token = randomToken(32);
  await ctx.sql`
    insert into local_sandbox.grants
      (token, network, kind, account_id, client_id, scopes, family, redirect_uri, code_challenge, code_challenge_method, expires_at)
    values (${token}, ${network}, 'code', ${code.accountId}, ${code.clientId}, ${code.scopes}, ${randomToken(12)},
            ${code.redirectUri}, ${code.codeChallenge}, ${code.codeChallengeMethod}, ${at(ctx.now(), code.ttlSeconds)})`;
  return token;
}

/** Consumes a code once: a second redemption (or an expired code) finds nothing. */
export async function redeemCode(ctx: SandboxContext, network: string, code: string): Promise<Grant | undefined> {
  const [row] = await ctx.sql<Grant[]>`
    update local_sandbox.grants set used_at = ${ctx.now()}
    where token = ${code} and network = ${network} and kind = 'code' and used_at is null and revoked_at is null
      and expires_at > ${ctx.now()}
    returning *`;
  return row;
}

export interface IssuedTokens {
  accessToken: string;
  accessExpiresIn: number;
  refreshToken?: string;
}

/** Issues an access token, and a refresh token when `refreshTtlSeconds` is given (`null`: never expires). */
export async function issueTokens(
  ctx: SandboxContext,
  network: string,
  from: { account_id: string; client_id: string; scopes: string[]; family: string },
  options: { accessTtlSeconds: number; refreshTtlSeconds?: number | null; tokenPrefix?: string },
): Promise<IssuedTokens> {
  const prefix = options.tokenPrefix ?? "";
  const accessToken = `${prefix}${randomToken(48)}`;
  const insert = (token: string, kind: string, expiresAt: Date | null) => ctx.sql`
    insert into local_sandbox.grants (token, network, kind, account_id, client_id, scopes, family, expires_at)
    values (${token}, ${network}, ${kind}, ${from.account_id}, ${from.client_id}, ${from.scopes}, ${from.family}, ${expiresAt})`;
  await insert(accessToken, "access", at(ctx.now(), options.accessTtlSeconds));
  if (options.refreshTtlSeconds === undefined) return { accessToken, accessExpiresIn: options.accessTtlSeconds };
  const refreshToken = `${prefix}${randomToken(48)}`;
  await insert(refreshToken, "refresh", at(ctx.now(), options.refreshTtlSeconds));
  return { accessToken, accessExpiresIn: options.accessTtlSeconds, refreshToken };
}

/** Uses up a refresh token for rotation: afterwards it is refused, as X refuses a rotated-out refresh token. */
export async function consumeRefreshToken(ctx: SandboxContext, network: string, token: string, clientId: string): Promise<Grant | undefined> {
  const [row] = await ctx.sql<Grant[]>`
    update local_sandbox.grants set used_at = ${ctx.now()}
    where token = ${token} and network = ${network} and kind = 'refresh' and client_id = ${clientId}
      and used_at is null and revoked_at is null and (expires_at is null or expires_at > ${ctx.now()})
    returning *`;
  return row;
}

/** A live refresh token that is reused as is (LinkedIn: the same refresh token until it expires). */
export async function liveRefreshToken(ctx: SandboxContext, network: string, token: string, clientId: string): Promise<Grant | undefined> {
  const [row] = await ctx.sql<Grant[]>`
    select * from local_sandbox.grants
    where token = ${token} and network = ${network} and kind = 'refresh' and client_id = ${clientId}
      and used_at is null and revoked_at is null and (expires_at is null or expires_at > ${ctx.now()})`;
  return row;
}

export type AccessCheck = { ok: true; grant: Grant } | { ok: false; reason: "missing" | "unknown" | "expired" | "revoked" };

export async function checkAccessToken(ctx: SandboxContext, network: string, req: Request): Promise<AccessCheck> {
  const token = bearerToken(req);
  if (!token) return { ok: false, reason: "missing" };
  const [row] = await ctx.sql<Grant[]>`
    select * from local_sandbox.grants where token = ${token} and network = ${network} and kind = 'access'`;
  if (!row) return { ok: false, reason: "unknown" };
  if (row.revoked_at) return { ok: false, reason: "revoked" };
  if (row.expires_at && row.expires_at <= ctx.now()) return { ok: false, reason: "expired" };
  return { ok: true, grant: row };
}

export async function revokeToken(ctx: SandboxContext, network: string, token: string): Promise<boolean> {
  const rows = await ctx.sql`
    update local_sandbox.grants set revoked_at = ${ctx.now()}
    where token = ${token} and network = ${network} and kind in ('access', 'refresh') and revoked_at is null
    returning token`;
  return rows.length > 0;
}

// --- the consent page ----------------------------------------------------------------------------------------------

export interface AuthorizeOptions {
  network: string;
  clients: ReadonlyMap<string, unknown>;
  /** `required`: a code_challenge must be sent (X); `ignored`: the web flow has no PKCE (LinkedIn). */
  pkce: "required" | "ignored";
  scopeSeparator: RegExp;
  knownScopes: ReadonlySet<string>;
  codeTtlSeconds: number;
  /** The query the network redirects back with when the user declines. */
  denial: Record<string, string>;
  /** A new account for a first sign-in as `username`. */
  newAccount(username: string): { id: string; name: string };
  /** The network's error page, for requests that cannot be redirected back (unknown client, no redirect_uri). */
  errorPage(message: string): Response;
}

/**
 * The consent page. A plain GET approves at once and 302s back to `redirect_uri` with `code` and `state`, so a test or
 * `curl -L` completes the flow without a browser. Sandbox-only query parameters: `sandbox_user=<name>` signs in as
 * that user (created on first use; default `sandbox_user`), `sandbox_deny=1` declines.
 */
export async function authorize(ctx: SandboxContext, req: Request, o: AuthorizeOptions): Promise<Response> {
  const q = new URL(req.url).searchParams;
  const clientId = q.get("client_id") ?? "";
  const redirectUri = q.get("redirect_uri") ?? "";
  const state = q.get("state") ?? undefined;
  if (!o.clients.has(clientId)) return o.errorPage("The application you are trying to connect is not known.");
  if (!/^https?:\/\//.test(redirectUri) || !URL.canParse(redirectUri)) return o.errorPage("The redirect_uri is missing or invalid.");
  const back = (params: Record<string, string>) => redirectWith(redirectUri, { ...params, state });

  if (q.get("response_type") !== "code") return back({ error: "unsupported_response_type" });
  const scopes = (q.get("scope") ?? "").split(o.scopeSeparator).filter(Boolean);
  if (!scopes.length || scopes.some((s) => !o.knownScopes.has(s))) return back({ error: "invalid_scope" });
  const challenge = q.get("code_challenge");
  const method = q.get("code_challenge_method") ?? "plain";
  if (o.pkce === "required" && (!challenge || !["S256", "plain"].includes(method))) {
    return back({ error: "invalid_request", error_description: "Missing or invalid code_challenge" });
  }
  if (q.get("sandbox_deny") === "1") return back(o.denial);

  const username = (q.get("sandbox_user") ?? "sandbox_user").replace(/[^A-Za-z0-9_]/g, "_").slice(0, 30) || "sandbox_user";
  const account = await accountForLogin(ctx, o.network, username, () => o.newAccount(username));
  const code = await issueCode(ctx, o.network, {
    accountId: account.id,
    clientId,
    scopes,
    redirectUri,
    codeChallenge: o.pkce === "required" ? challenge : null,
    codeChallengeMethod: o.pkce === "required" ? method : null,
    ttlSeconds: o.codeTtlSeconds,
  });
  return back({ code });
}

// --- posts and media -----------------------------------------------------------------------------------------------

export interface PostMedia {
  id: string;
  mimeType: string | null;
  sizeBytes: number | null;
}

export async function recordPost(
  ctx: SandboxContext,
  network: string,
  post: { id: string; accountId: string; text: string; media: PostMedia[] },
): Promise<void> {
  await ctx.sql`
    insert into local_sandbox.posts (network, id, account_id, text, media, created_at)
    values (${network}, ${post.id}, ${post.accountId}, ${post.text}, ${ctx.sql.json(post.media as never)}, ${ctx.now()})`;
}

/** The earlier post with the same text from the same account within the window, if any. */
export async function findDuplicate(
  ctx: SandboxContext,
  network: string,
  accountId: string,
  text: string,
  windowSeconds: number,
): Promise<{ id: string } | undefined> {
  const since = new Date(ctx.now().getTime() - windowSeconds * 1000);
  const [row] = await ctx.sql<{ id: string }[]>`
    select id from local_sandbox.posts
    where network = ${network} and account_id = ${accountId} and text = ${text} and created_at > ${since}
    order by created_at desc limit 1`;
  return row;
}

export interface MediaRow {
  id: string;
  account_id: string;
  state: string;
  mime_type: string | null;
  size_bytes: number | null;
  upload_token: string | null;
}

export async function createMedia(
  ctx: SandboxContext,
  network: string,
  media: { id: string; accountId: string; state: string; mimeType?: string; sizeBytes?: number; sha256?: string; uploadToken?: string },
): Promise<void> {
  await ctx.sql`
    insert into local_sandbox.media (network, id, account_id, state, mime_type, size_bytes, sha256, upload_token, created_at)
    values (${network}, ${media.id}, ${media.accountId}, ${media.state}, ${media.mimeType ?? null}, ${media.sizeBytes ?? null},
            ${media.sha256 ?? null}, ${media.uploadToken ?? null}, ${ctx.now()})`;
}

export async function findMedia(ctx: SandboxContext, network: string, id: string): Promise<MediaRow | undefined> {
  const [row] = await ctx.sql<MediaRow[]>`
    select id, account_id, state, mime_type, size_bytes, upload_token from local_sandbox.media where network = ${network} and id = ${id}`;
  return row;
}

export async function setMediaState(
  ctx: SandboxContext,
  network: string,
  ids: string[],
  state: string,
  upload?: { mimeType: string | null; sizeBytes: number; sha256: string },
): Promise<void> {
  if (!ids.length) return;
  await ctx.sql`
    update local_sandbox.media
    set state = ${state},
        mime_type = coalesce(${upload?.mimeType ?? null}, mime_type),
        size_bytes = coalesce(${upload?.sizeBytes ?? null}, size_bytes),
        sha256 = coalesce(${upload?.sha256 ?? null}, sha256)
    where network = ${network} and id in ${ctx.sql(ids)}`;
}

// --- failure injection ---------------------------------------------------------------------------------------------

const categorySet: ReadonlySet<string> = new Set(errorCategories);

/**
 * `[sandbox:<category>]` in a post's text fails every publish of it with the network's own error for that category;
 * `[sandbox:<category>:<n>]` fails only the first n attempts of that exact text by that account.
 */
export function failureMarker(text: string): { category: ErrorCategory; failFirst?: number } | undefined {
  const match = /\[sandbox:([a-z_]+)(?::(\d+))?\]/.exec(text);
  if (!match || !categorySet.has(match[1]!)) return undefined;
  return { category: match[1] as ErrorCategory, failFirst: match[2] === undefined ? undefined : Number(match[2]) };
}

/** The category this publish attempt must fail with, counting the attempt when the marker limits failures. */
export async function injectedFailure(ctx: SandboxContext, network: string, accountId: string, text: string): Promise<ErrorCategory | undefined> {
  const marker = failureMarker(text);
  if (!marker) return undefined;
  if (marker.failFirst === undefined) return marker.category;
  const [row] = await ctx.sql<{ attempts: number }[]>`
    insert into local_sandbox.attempts (network, account_id, content_hash, attempts)
    values (${network}, ${accountId}, ${sha256Hex(text)}, 1)
    on conflict (network, account_id, content_hash) do update set attempts = local_sandbox.attempts.attempts + 1
    returning attempts`;
  return row!.attempts <= marker.failFirst ? marker.category : undefined;
}

// --- rate-limit windows --------------------------------------------------------------------------------------------

export interface RateWindow {
  limit: number;
  remaining: number;
  /** Epoch seconds when the window resets. */
  reset: number;
}

/** Counts one call in a fixed window (aligned to the epoch) and reports what is left; `exceeded` past the limit. */
export async function countCall(
  ctx: SandboxContext,
  network: string,
  bucket: string,
  limit: number,
  windowSeconds: number,
): Promise<{ window: RateWindow; exceeded: boolean }> {
  const nowSeconds = Math.floor(ctx.now().getTime() / 1000);
  const start = nowSeconds - (nowSeconds % windowSeconds);
  const [row] = await ctx.sql<{ calls: number }[]>`
    insert into local_sandbox.rate_windows (network, bucket, window_start, calls)
    values (${network}, ${bucket}, ${new Date(start * 1000)}, 1)
    on conflict (network, bucket, window_start) do update set calls = local_sandbox.rate_windows.calls + 1
    returning calls`;
  const calls = row!.calls;
  return { window: { limit, remaining: Math.max(0, limit - calls), reset: start + windowSeconds }, exceeded: calls > limit };
}

// --- control endpoints ---------------------------------------------------------------------------------------------

/**
 * `/__sandbox/...` for tests and manual checks (documented in src/sandbox/index.ts). `accountRef` turns what a caller
 * passes (e.g. LinkedIn's `urn:li:person:<id>`) into the sandbox's account id.
 */
export async function handleControl(
  ctx: SandboxContext,
  network: string,
  req: Request,
  path: string,
  accountRef: (ref: string) => string = (ref) => ref,
): Promise<Response> {
  const q = new URL(req.url).searchParams;
  const account = q.get("account_id") ? accountRef(q.get("account_id")!) : null;
  if (req.method === "GET" && path === "/accounts") {
    const rows = await ctx.sql`select id, username, name, created_at from local_sandbox.accounts where network = ${network} order by created_at`;
    return json(200, { accounts: rows.map((r) => ({ id: r.id, username: r.username, name: r.name, createdAt: r.created_at })) });
  }
  if (req.method === "GET" && path === "/posts") {
    const rows = await ctx.sql`
      select id, account_id, text, media, created_at from local_sandbox.posts
      where network = ${network} and (${account}::text is null or account_id = ${account}) order by created_at, id`;
    return json(200, {
      posts: rows.map((r) => ({ id: r.id, accountId: r.account_id, text: r.text, media: r.media, createdAt: r.created_at })),
    });
  }
  if (req.method === "GET" && path === "/media") {
    const rows = await ctx.sql`
      select id, account_id, state, mime_type, size_bytes, created_at from local_sandbox.media
      where network = ${network} and (${account}::text is null or account_id = ${account}) order by created_at, id`;
    return json(200, {
      media: rows.map((r) => ({ id: r.id, accountId: r.account_id, state: r.state, mimeType: r.mime_type, sizeBytes: r.size_bytes })),
    });
  }
  const action = /^\/accounts\/([^/]+)\/([a-z-]+)$/.exec(path);
  if (req.method === "POST" && action) {
    const accountId = accountRef(safeDecode(action[1]!) ?? "");
    const kinds = { "expire-access-tokens": ["access"], "revoke-refresh-tokens": ["refresh"], "revoke-all-tokens": ["access", "refresh"] };
    const verb = action[2] as keyof typeof kinds;
    if (!Object.hasOwn(kinds, verb)) return json(404, { error: `unknown control action ${action[2]}` });
    if (!(await accountById(ctx, network, accountId))) return json(404, { error: `no ${network} sandbox account ${accountId}` });
    const now = ctx.now();
    const rows =
      verb === "expire-access-tokens"
        ? await ctx.sql`
            update local_sandbox.grants set expires_at = ${new Date(now.getTime() - 1000)}
            where network = ${network} and account_id = ${accountId} and kind = 'access' and (expires_at is null or expires_at > ${now})
            returning token`
        : await ctx.sql`
            update local_sandbox.grants set revoked_at = ${now}
            where network = ${network} and account_id = ${accountId} and kind in ${ctx.sql(kinds[verb])} and revoked_at is null
            returning token`;
    return json(200, { accountId, action: verb, tokens: rows.length });
  }
  return json(404, { error: `unknown sandbox control endpoint ${req.method} ${path}` });
}
