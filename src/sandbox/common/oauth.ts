import { bearerToken, pkceMatches, randomToken, readForm, redirectWith, safeDecode } from "./http.js";
import type { SandboxContext } from "./schema.js";

/** Accounts, OAuth grants (codes, access and refresh tokens) and the consent page every network shares. */

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

// --- the token endpoint --------------------------------------------------------------------------------------------

export interface SandboxClient {
  clientId: string;
  clientSecret: string;
}

/** HTTP Basic client credentials (RFC 6749 §2.3.1: id and secret are form-encoded, then joined by the first colon). */
export function basicCredentials(req: Request): { id: string | undefined; secret: string | undefined } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const formDecode = (part: string) => safeDecode(part.replace(/\+/g, " "));
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

/** The client whose id and secret are both right, or undefined. */
function knownClient<C extends SandboxClient>(
  clients: ReadonlyMap<string, C>,
  creds: { id: string | null | undefined; secret: string | null | undefined } | undefined,
): C | undefined {
  const client = creds?.id ? clients.get(creds.id) : undefined;
  return client && client.clientSecret === creds!.secret ? client : undefined;
}

/** The client that authenticates with HTTP Basic, or undefined. */
export function basicClient<C extends SandboxClient>(clients: ReadonlyMap<string, C>, req: Request): C | undefined {
  return knownClient(clients, basicCredentials(req));
}

export type TokenGrantType = "authorization_code" | "refresh_token";

/** One network's token endpoint: how the client authenticates, which checks a grant passes, and its error bodies. */
export interface TokenEndpointOptions<C extends SandboxClient = SandboxClient> {
  network: string;
  clients: ReadonlyMap<string, C>;
  /**
   * Where the client's credentials are: `basic`, HTTP Basic, checked before the body is read (Pinterest, Reddit, X);
   * `form`, the body's `idField` (default `client_id`) and `client_secret` (LinkedIn, TikTok's `client_key`);
   * `basic-or-form`, either, Basic first (Google). The body is read first for the last two.
   */
  clientAuth: "basic" | "form" | "basic-or-form";
  idField?: string;
  tooLarge(): Response;
  badClient(): Response;
  /** Runs once the client is known (X counts the endpoint's rate limit per client here). */
  onClient?(clientId: string): Promise<void>;
  code: {
    /** A check before the code is redeemed (LinkedIn's web flow refuses any `code_verifier` without using the code up). */
    before?(form: URLSearchParams): Response | undefined;
    /** Unknown, used, expired or another client's code; also a wrong `redirect_uri` unless `redirectMismatch` is set. */
    invalid(): Response;
    redirectMismatch?(): Response;
    /** `always`: the code's challenge must match `code_verifier`; `when-challenged`: only if the consent sent one. */
    pkce?: {
      when: "always" | "when-challenged";
      /** Default: RFC 7636 (`plain` or base64url S256). */
      matches?(verifier: string, code: Grant): boolean;
      mismatch(): Response;
    };
  };
  /** `rotate`: a refresh uses the refresh token up (X, Pinterest, TikTok); `reuse`: it stays valid (Google, LinkedIn, Reddit). */
  refresh: { mode: "rotate" | "reuse"; invalid(): Response };
  unsupportedGrant(grantType: string | null): Response;
  /** The network's answer for a redeemed code or a refresh token that passed. */
  issue(from: Grant, grantType: TokenGrantType, form: URLSearchParams): Promise<Response>;
}

const rfc7636 = (verifier: string, code: Grant) => pkceMatches(verifier, code.code_challenge ?? "", code.code_challenge_method ?? "plain");

/** The `authorization_code` and `refresh_token` grants, as one network answers them. */
export async function tokenEndpoint<C extends SandboxClient>(ctx: SandboxContext, req: Request, o: TokenEndpointOptions<C>): Promise<Response> {
  let client: C | undefined;
  let form: URLSearchParams;
  if (o.clientAuth === "basic") {
    client = basicClient(o.clients, req);
    if (!client) return o.badClient();
    await o.onClient?.(client.clientId);
    form = await readForm(req, o.tooLarge);
  } else {
    form = await readForm(req, o.tooLarge);
    const fromForm = { id: form.get(o.idField ?? "client_id"), secret: form.get("client_secret") };
    const basic = o.clientAuth === "basic-or-form" && /^Basic\s+\S+$/i.test(req.headers.get("authorization") ?? "");
    client = knownClient(o.clients, basic ? basicCredentials(req) : fromForm);
    if (!client) return o.badClient();
    await o.onClient?.(client.clientId);
  }
  const grantType = form.get("grant_type");
  if (grantType === "authorization_code") {
    const early = o.code.before?.(form);
    if (early) return early;
    const code = await redeemCode(ctx, o.network, form.get("code") ?? "");
    if (!code || code.client_id !== client.clientId) return o.code.invalid();
    if (code.redirect_uri !== form.get("redirect_uri")) return (o.code.redirectMismatch ?? o.code.invalid)();
    const pkce = o.code.pkce;
    if (pkce && (pkce.when === "always" || code.code_challenge) && !(pkce.matches ?? rfc7636)(form.get("code_verifier") ?? "", code)) {
      return pkce.mismatch();
    }
    return o.issue(code, grantType, form);
  }
  if (grantType === "refresh_token") {
    const lookup = o.refresh.mode === "rotate" ? consumeRefreshToken : liveRefreshToken;
    const refresh = await lookup(ctx, o.network, form.get("refresh_token") ?? "", client.clientId);
    if (!refresh) return o.refresh.invalid();
    return o.issue(refresh, grantType, form);
  }
  return o.unsupportedGrant(grantType);
}
