import { bearerToken, randomToken, redirectWith } from "./http.js";
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
