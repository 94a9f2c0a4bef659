import type { Platform } from "../platforms/catalog.js";
import type { OAuthTokens } from "../platforms/types.js";

/**
 * Connection health before it fails: how long each network's tokens live, when they are refreshed ahead of time, and
 * when a connection stops working unless its user reconnects.
 *
 * What the networks give (OAuth token answers; always trust the `expires_in`-style fields over these figures, which
 * only explain the rules below):
 * - X: access tokens last 2 hours; a refresh token comes only with the `offline.access` scope, is single-use and
 *   rotates on every refresh (the old one stops working), and has no stated expiry.
 * - LinkedIn: access tokens last 60 days; refresh tokens (approved partners only) last 365 days counted from the first
 *   consent and are NOT extended by refreshing: each refresh answers what is left (`refresh_token_expires_in`). Without
 *   a refresh token, the user must consent again before the access token's 60 days run out.
 * - Meta (Facebook, Instagram, Threads): a short-lived token (1–2 h) is exchanged for a long-lived one of about 60
 *   days. There is no refresh token: Facebook re-exchanges the long-lived user token (`fb_exchange_token`), Instagram
 *   and Threads refresh the long-lived token with itself (`ig_refresh_token`/`th_refresh_token`, once it is 24 h old
 *   and while it is unexpired); each gives another 60 days, and a token left to expire is dead. Facebook Page tokens
 *   obtained from a long-lived user token do not expire themselves.
 * - TikTok: access tokens 24 h (newer documents: 2 h), refresh tokens 365 days (newer: 180), both given as
 *   `expires_in`/`refresh_expires_in`; refresh tokens rotate, and the new one comes with its own lifetime.
 * - Google (YouTube): access tokens about 1 hour; refresh tokens have no stated expiry but die when the user revokes
 *   access, after 6 months unused, or after 7 days for apps still in "Testing" status (`invalid_grant`).
 * - Pinterest: access tokens about 30 days, refresh tokens about 365 days (`refresh_token_expires_in`/`_at`);
 *   continuous refresh returns a new rotating refresh token with a new lifetime.
 * - Reddit: access tokens 1 h or 24 h (`expires_in`); with `duration=permanent` the refresh token lasts until revoked.
 * - Bluesky (app-password sessions): the access JWT lives about 2 hours, the refresh JWT about 60–90 days (its `exp`
 *   claim); `refreshSession` returns a new pair, so the session lives on while it is refreshed in time.
 */
export interface TokenPolicy {
  /**
   * Whether a refresh gives the refresh token (Meta: the long-lived token itself) a new lifetime. When it does, the
   * refresh-ahead job renews it while it still works and the connection has no end; when it does not (LinkedIn), the
   * refresh token's expiry is when the user must reconnect.
   */
  refreshRenews: boolean;
}

const policies: Record<Platform, TokenPolicy> = {
  twitter: { refreshRenews: true },
  linkedin: { refreshRenews: false },
  instagram: { refreshRenews: true },
  facebook: { refreshRenews: true },
  threads: { refreshRenews: true },
  tiktok: { refreshRenews: true },
  youtube: { refreshRenews: true },
  pinterest: { refreshRenews: true },
  reddit: { refreshRenews: true },
  bluesky: { refreshRenews: true },
  snapchat: { refreshRenews: true },
};

export function tokenPolicy(platform: string): TokenPolicy {
  return policies[platform as Platform] ?? { refreshRenews: true };
}

const DAY_MS = 24 * 3600_000;

/** A renewable refresh token (Meta's long-lived tokens, TikTok, Pinterest, Bluesky) is renewed when less than this remains. */
export const RENEW_AHEAD_MS = 7 * DAY_MS;
/**
 * Access tokens that live a day or more (LinkedIn 60 days, Pinterest 30, TikTok 1) are refreshed in the last quarter
 * of their life; shorter ones (X, Google, Reddit, Bluesky: an hour or two) are refreshed when a post needs them soon.
 */
export const LONG_LIVED_ACCESS_MS = DAY_MS;
/** A short-lived access token is refreshed when a post is due within this window and the token would lapse by then. */
export const POST_LOOKAHEAD_MS = 15 * 60_000;
/** `connection.expiring` is sent this long before a connection that cannot be renewed stops working, once each. */
export const EXPIRY_WARNINGS = [
  { days: 7, ms: 7 * DAY_MS, column: "expiry_warned_7d_for" },
  { days: 1, ms: DAY_MS, column: "expiry_warned_1d_for" },
] as const;

/** The expiry columns of a connection row, from the tokens a network just gave (connect or refresh). */
export interface ExpiryColumns {
  token_expires_at: Date | null;
  refresh_token_expires_at: Date | null;
  /** When the connection stops working unless its user reconnects; null when nothing known ends it. */
  usable_until: Date | null;
}

/**
 * The expiries to store. `previous` is what the row held before a refresh: a network that answers a refresh without
 * a refresh-token expiry (and without a new refresh token) keeps the one it gave before (LinkedIn's countdown).
 */
export function expiryColumns(
  platform: string,
  tokens: OAuthTokens,
  previous?: { refreshToken?: string; refreshTokenExpiresAt: Date | null },
): ExpiryColumns {
  const token_expires_at = tokens.expiresAt ?? null;
  const sameRefreshToken = previous !== undefined && (tokens.refreshToken === undefined || tokens.refreshToken === previous.refreshToken);
  const refresh_token_expires_at = tokens.refreshTokenExpiresAt ?? (sameRefreshToken ? previous!.refreshTokenExpiresAt : null);
  const hasRefreshToken = tokens.refreshToken !== undefined || previous?.refreshToken !== undefined;
  return { token_expires_at, refresh_token_expires_at, usable_until: usableUntil(platform, { hasRefreshToken, token_expires_at, refresh_token_expires_at }) };
}

/** When a connection stops working unless its user reconnects (null: nothing known ends it). */
export function usableUntil(
  platform: string,
  c: { hasRefreshToken: boolean; token_expires_at: Date | null; refresh_token_expires_at: Date | null },
): Date | null {
  if (!c.hasRefreshToken) return c.token_expires_at; // nothing can renew the access token
  if (!tokenPolicy(platform).refreshRenews) return c.refresh_token_expires_at; // LinkedIn: fixed from the first consent
  return null; // renewed ahead of time by the refresh-ahead job
}

export interface TokenHealth {
  status: "ok" | "expiring" | "needs_reconnect";
  /** When the connection stops working unless reconnected (or, for a renewable token, when it lapses if not renewed). */
  expiresAt?: string;
  reason?: string;
}

export interface HealthRow {
  status: string;
  last_error: string | null;
  has_refresh_token: boolean;
  token_expires_at: Date | null;
  refresh_token_expires_at?: Date | null;
  usable_until?: Date | null;
}

/**
 * A connection's token health: `needs_reconnect` (with the network's reason) once its authorization was rejected or
 * has run out; `expiring` (with the date) when it stops working within 7 days and nothing but a reconnect can extend
 * it, or when a renewable token has under a day left (its renewal keeps failing); `ok` otherwise, with the date when
 * one is known.
 */
export function tokenHealthOf(c: HealthRow, now: Date): TokenHealth {
  if (c.status === "needs_reconnect") return { status: "needs_reconnect", reason: c.last_error ?? "The network rejected the connection's authorization" };
  const until = c.usable_until ?? (c.has_refresh_token ? null : c.token_expires_at);
  if (until && until.getTime() <= now.getTime()) {
    return { status: "needs_reconnect", expiresAt: until.toISOString(), reason: `The authorization expired at ${until.toISOString()} and the network gives no way to renew it` };
  }
  if (until && until.getTime() - now.getTime() < RENEW_AHEAD_MS) return { status: "expiring", expiresAt: until.toISOString() };
  const renewable = c.has_refresh_token ? (c.refresh_token_expires_at ?? null) : null;
  if (!until && renewable && renewable.getTime() - now.getTime() < DAY_MS) return { status: "expiring", expiresAt: renewable.toISOString() };
  return until ? { status: "ok", expiresAt: until.toISOString() } : { status: "ok" };
}

/** The readiness warning for a token health that is not `ok` (none when it is). */
export function tokenHealthWarning(health: TokenHealth): string | undefined {
  if (health.status === "expiring") {
    return `The connection stops working at ${health.expiresAt}: reconnect the account before then`;
  }
  return undefined;
}
