import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { excerpt, retryAfterHeader, type HttpClient, type HttpResponse } from "./http.js";
import { PlatformError, type AdapterConfig, type BaseUrls, type OAuthTokens, type PlatformAdapter } from "./types.js";

/**
 * The OAuth 2.0 authorization-code flow (RFC 6749 §4.1) as every network that speaks it needs it, configured per
 * adapter with `codeFlow`: the consent URL, the code exchange, the refresh, PKCE, client authentication, the token
 * response and the token endpoint's error answer (RFC 6749 §5.2). An adapter states its network's choices and keeps
 * only what is truly its own (TikTok's `client_key`, Meta's long-lived token exchange in meta-graph.ts).
 */

/** A network's base URLs: its real hosts (`defaults`) unless the config names others (the local home's sandbox). */
export function baseUrls(config: AdapterConfig, defaults: BaseUrls) {
  const trim = (url: string) => url.replace(/\/$/, "");
  const apiBase = trim(config.apiBaseUrl ?? defaults.apiBaseUrl);
  const authBase = trim(config.authBaseUrl ?? defaults.authBaseUrl);
  const tokenBase = trim(config.tokenBaseUrl ?? defaults.tokenBaseUrl ?? authBase);
  return {
    api: (path: string) => `${apiBase}${path}`,
    auth: (path: string) => `${authBase}${path}`,
    token: (path: string) => `${tokenBase}${path}`,
    apiOrigin: new URL(apiBase).origin,
    authOrigin: new URL(authBase).origin,
  };
}

export interface CodeFlowOptions {
  /** The network's name in error messages ("X", "Google"). */
  service: string;
  http: HttpClient;
  now: () => Date;
  clientId: string;
  clientSecret: string;
  /** The consent page. */
  authorizeUrl: string;
  /** The token endpoint (code exchange and refresh). */
  tokenUrl: string;
  /**
   * `S256`: PKCE as RFC 7636 says (the challenge is base64url of the verifier's SHA-256). `S256-hex`: TikTok's
   * reading of it (the hex digest). `false`: no PKCE; the challenge and verifier are not sent (LinkedIn's web flow
   * rejects a token request carrying a `code_verifier`; Pinterest, Reddit and Meta ignore PKCE).
   */
  pkce: "S256" | "S256-hex" | false;
  /**
   * How the client authenticates at the token endpoint: `basic` (HTTP Basic, RFC 6749 §2.3.1) or `body` (client id
   * and secret as form parameters).
   */
  clientAuth: "basic" | "body";
  /** The client id's parameter name, in the consent URL and the token request (default `client_id`). */
  clientIdParam?: string;
  /** How scopes are joined in the consent URL: a space (RFC 6749 §3.3) or a comma (TikTok, Pinterest, Meta). */
  scopeSeparator: " " | ",";
  /** Further consent parameters (Reddit's `duration=permanent`, Google's `access_type=offline`). */
  authorizeParams?: Record<string, string>;
  /** Headers on every token request (Reddit's User-Agent). */
  tokenHeaders?: Record<string, string>;
  /** `form` (default): a POSTed form. `query`: a GET with the parameters in the query string (Meta's documented form). */
  tokenRequest?: "form" | "query";
  /** Whether a token answer is a failure; default: a non-2xx status. */
  failed?(response: HttpResponse): boolean;
  /** Classifies a failed token answer; default `tokenEndpointError`. */
  error?(response: HttpResponse, now: Date): PlatformError;
  /** Reads a successful token answer; default `toOAuthTokens` (expires_in, refresh_token_expires_in, scope). */
  tokens?(response: HttpResponse, now: Date): OAuthTokens;
}

export interface CodeFlow extends Pick<PlatformAdapter, "authorizeUrl" | "exchangeCode" | "refresh"> {
  /** One token request with `grant` (plus the client's authentication), read into tokens or a classified error. */
  requestToken(grant: Record<string, string>): Promise<OAuthTokens>;
}

/** The authorization-code flow configured for one network. */
export function codeFlow(options: CodeFlowOptions): CodeFlow {
  const clientIdParam = options.clientIdParam ?? "client_id";
  const failed = options.failed ?? ((res: HttpResponse) => !res.ok);
  const error = options.error ?? ((res: HttpResponse, now: Date) => tokenEndpointError(res, options.service, now));
  const read = options.tokens ?? ((res: HttpResponse, now: Date) => toOAuthTokens(res, options.service, now));

  async function requestToken(grant: Record<string, string>): Promise<OAuthTokens> {
    const body =
      options.clientAuth === "body" ? { ...grant, [clientIdParam]: options.clientId, client_secret: options.clientSecret } : grant;
    const headers = {
      ...options.tokenHeaders,
      ...(options.clientAuth === "basic" ? { authorization: basicAuthorization(options.clientId, options.clientSecret) } : {}),
    };
    let res: HttpResponse;
    if (options.tokenRequest === "query") {
      const url = new URL(options.tokenUrl);
      for (const [key, value] of Object.entries(body)) url.searchParams.set(key, value);
      res = await options.http.request({ url, headers });
    } else {
      res = await options.http.request({ url: options.tokenUrl, form: body, headers });
    }
    const now = options.now();
    if (failed(res)) throw error(res, now);
    return read(res, now);
  }

  return {
    requestToken,

    authorizeUrl({ state, codeChallenge, redirectUri, scopes }) {
      const url = new URL(options.authorizeUrl);
      url.searchParams.set("response_type", "code");
      url.searchParams.set(clientIdParam, options.clientId);
      url.searchParams.set("redirect_uri", redirectUri);
      url.searchParams.set("scope", scopes.join(options.scopeSeparator));
      url.searchParams.set("state", state);
      if (options.pkce) {
        url.searchParams.set("code_challenge", options.pkce === "S256-hex" ? hexChallenge(codeChallenge) : codeChallenge);
        url.searchParams.set("code_challenge_method", "S256");
      }
      for (const [key, value] of Object.entries(options.authorizeParams ?? {})) url.searchParams.set(key, value);
      return url.toString();
    },

    exchangeCode({ code, codeVerifier, redirectUri }) {
      const grant: Record<string, string> = { grant_type: "authorization_code", code, redirect_uri: redirectUri };
      if (options.pkce) grant.code_verifier = codeVerifier;
      return requestToken(grant);
    },

    refresh(refreshToken) {
      return requestToken({ grant_type: "refresh_token", refresh_token: refreshToken });
    },
  };
}

/** The hex form of an S256 challenge the caller made in base64url (TikTok's PKCE: the hex SHA-256 of the verifier). */
export function hexChallenge(base64urlChallenge: string): string {
  return Buffer.from(base64urlChallenge, "base64url").toString("hex");
}

/** A PKCE pair (RFC 7636, S256): keep the verifier server-side, send the challenge in the authorize URL. */
export function createPkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString("base64url");
  return { verifier, challenge: pkceChallenge(verifier) };
}

export function pkceChallenge(verifier: string): string {
  return createHash("sha256").update(verifier).digest("base64url");
}

/** HTTP Basic client authentication (RFC 6749 §2.3.1: each part form-encoded before base64). */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString("base64")}`;
}

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive().optional(),
  refresh_token: z.string().min(1).optional(),
  refresh_token_expires_in: z.coerce.number().positive().optional(),
  scope: z.string().optional(),
});

/**
 * A successful token response, normalised. `scope` is space separated in the RFC and comma separated on LinkedIn;
 * when the network leaves it out, the scopes asked for stand (none, when the caller does not say).
 */
export function toOAuthTokens(response: HttpResponse, service: string, now: Date, requestedScopes: string[] = []): OAuthTokens {
  const parsed = tokenResponseSchema.safeParse(response.json);
  if (!parsed.success) {
    throw new PlatformError("unknown", `${service} token endpoint answered ${response.status} without an access token`, {
      status: response.status,
    });
  }
  const body = parsed.data;
  const at = (seconds: number | undefined) => (seconds === undefined ? undefined : new Date(now.getTime() + seconds * 1000));
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    expiresAt: at(body.expires_in),
    refreshTokenExpiresAt: at(body.refresh_token_expires_in),
    scopes: body.scope ? body.scope.split(/[\s,]+/).filter(Boolean) : requestedScopes,
  };
}

const tokenErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() });

/**
 * Classifies a failed token-endpoint call. A rejected grant or client (400/401/403, RFC 6749 `error` codes such as
 * `invalid_grant`, `invalid_request`, `invalid_client`) means the connection cannot continue: `auth_error`.
 */
export function tokenEndpointError(response: HttpResponse, service: string, now: Date): PlatformError {
  const parsed = tokenErrorSchema.safeParse(response.json);
  const platformCode = parsed.success ? parsed.data.error : undefined;
  const detail = parsed.success ? excerpt(parsed.data.error_description ?? parsed.data.error) : undefined;
  const message = `${service} token endpoint answered ${response.status}${detail ? `: ${detail}` : ""}`;
  const status = response.status;
  if (status === 429) {
    return new PlatformError("rate_limited", message, { status, platformCode, retryAfterSeconds: retryAfterHeader(response.headers, now) });
  }
  if (status >= 500) return new PlatformError("network_error", message, { status, platformCode });
  if (status === 400 || status === 401 || status === 403) return new PlatformError("auth_error", message, { status, platformCode });
  return new PlatformError("unknown", message, { status, platformCode });
}
