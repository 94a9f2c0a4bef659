import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { excerpt, retryAfterHeader, type HttpResponse } from "./http.js";
import { PlatformError, type OAuthTokens } from "./types.js";

/**
 * OAuth 2.0 pieces shared by every network that speaks the standard authorization-code grant (X, LinkedIn, and later
 * TikTok, YouTube, Pinterest, Reddit): PKCE, the token response and the token endpoint's error answer (RFC 6749 §5).
 */

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
 * when the network leaves it out, the scopes asked for stand.
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
