import { CiphertextError, open, seal } from "../core/crypto.js";
import { log } from "../core/log.js";
import type { ServiceDb, Tx } from "../core/pg.js";
import { services } from "../core/services.js";
import type { Platform } from "../platforms/catalog.js";
import { adapterForConnection } from "../white-label/apps.js";
import { PlatformError, type OAuthTokens } from "../platforms/types.js";
import { expiryColumns } from "./health.js";

/** Refresh an access token this long before it expires, so a publish never starts with one about to lapse. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/** Why a connection whose stored token cannot be decrypted needs reconnecting (its last_error). */
export const UNREADABLE_TOKEN = "The stored token cannot be decrypted; reconnect the account";

export interface LiveCredentials {
  connectionId: string;
  platform: Platform;
  accessToken: string;
  externalAccountId: string;
  username: string;
  settings: Record<string, unknown>;
  /** The app the connection was made with (a white-label account's own), or null for ours. */
  oauthAppId: string | null;
}

/**
 * The token columns of one connection row, each sealed for that row's id and column (src/core/crypto.ts), with every
 * expiry the network gave (src/connections/health.ts): the access token's, the refresh token's, and when the
 * connection stops working unless reconnected. `platform` decides the last (LinkedIn's refresh tokens are not renewed
 * by refreshing); `previous` is what a refreshed row held (a refresh answer without a refresh-token expiry keeps it).
 */
export function sealTokens(
  tokens: OAuthTokens,
  connectionId: string,
  platform?: string,
  previous?: { refreshToken?: string; refreshTokenExpiresAt: Date | null },
) {
  const expiries = expiryColumns(platform ?? "", tokens, previous);
  return {
    access_token_enc: seal(tokens.accessToken, { purpose: "connections.access_token", rowId: connectionId }),
    refresh_token_enc: tokens.refreshToken
      ? seal(tokens.refreshToken, { purpose: "connections.refresh_token", rowId: connectionId })
      : null,
    token_expires_at: expiries.token_expires_at,
    refresh_token_expires_at: expiries.refresh_token_expires_at,
    usable_until: expiries.usable_until,
    scopes: tokens.scopes,
  };
}

export interface TokenRow {
  id: string;
  profile_id: string;
  platform: Platform;
  status: string;
  access_token_enc: string;
  refresh_token_enc: string | null;
  token_expires_at: Date | null;
  refresh_token_expires_at: Date | null;
  external_account_id: string;
  username: string;
  settings: Record<string, unknown>;
  /** The white-label app the connection was made with (null: ours); refreshes go through it. */
  oauth_app_id: string | null;
}

/**
 * Locks and reads one connection's token row (service connection). The one place token rows are read for use: the
 * publish path, the metrics sync and the refresh-ahead job all come through here.
 */
export async function lockTokenRow(tx: Tx, connectionId: string, profileId?: string): Promise<TokenRow | undefined> {
  const [row] = await tx<TokenRow[]>`
    select id, profile_id, platform, status, access_token_enc, refresh_token_enc, token_expires_at, refresh_token_expires_at,
      external_account_id, username, settings, oauth_app_id
    from public.connections
    where id = ${connectionId} and ${profileId === undefined ? tx`true` : tx`profile_id = ${profileId}`}
    for update`;
  return row;
}

/**
 * Marks a connection as needing reconnection (the network rejected its authorization). The change from connected
 * emits `connection.needs_reconnect` in the same transaction (once: the row is locked, so a second call sees it
 * already marked). With `profileId` (a target's), only a connection of that profile is touched.
 */
export async function markNeedsReconnect(tx: Tx, connectionId: string, reason: string, profileId?: string): Promise<void> {
  await tx`
    with previous as (
      select id, status from public.connections
      where id = ${connectionId} and ${profileId === undefined ? tx`true` : tx`profile_id = ${profileId}`}
      for update
    ), changed as (
      update public.connections c set status = 'needs_reconnect', last_error = ${reason}
      from previous where c.id = previous.id
      returning c.id, c.profile_id, c.platform, c.username, c.external_account_id, previous.status as previous_status
    )
    insert into public.events (profile_id, event_type, payload)
    select profile_id, 'connection.needs_reconnect', jsonb_build_object(
      'event_type', 'connection.needs_reconnect',
      'timestamp', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'profile_id', profile_id,
      'data', jsonb_build_object('connection_id', id, 'platform', platform, 'username', username,
                                 'external_account_id', external_account_id, 'reason', ${reason}::text))
    from changed where previous_status <> 'needs_reconnect'`;
}

/** A stored token that does not open (altered, copied from another row, sealed by a key no longer configured). */
function unsealed(row: TokenRow, sealed: string, purpose: "connections.access_token" | "connections.refresh_token"): string | undefined {
  try {
    return open(sealed, { purpose, rowId: row.id });
  } catch (error) {
    if (!(error instanceof CiphertextError)) throw error;
    log.error("a stored connection token cannot be decrypted", { connectionId: row.id, purpose, reason: error.message });
    return undefined;
  }
}

/**
 * THE token refresh: every refresh (the publish path's, the metrics sync's, the refresh-ahead job's) goes through
 * here, with the row locked (`lockTokenRow`) so two executors never spend the same rotating refresh token. Stores the
 * new tokens and every expiry the network gave, and returns the new access token. A refresh the network rejects (or a
 * refresh token that is missing, unreadable or past its known expiry) marks the connection as needing reconnection
 * and returns the PlatformError("auth_error"); a transient failure throws and changes nothing.
 */
export async function refreshTokenRow(tx: Tx, row: TokenRow, why: string): Promise<string | PlatformError> {
  const needsReconnect = async (message: string) => {
    const error = new PlatformError("auth_error", message);
    await markNeedsReconnect(tx, row.id, error.message);
    return error;
  };
  if (!row.refresh_token_enc) return needsReconnect(why);
  const refreshToken = unsealed(row, row.refresh_token_enc, "connections.refresh_token");
  if (refreshToken === undefined) return needsReconnect(UNREADABLE_TOKEN);
  try {
    // Through the app the connection was made with (a white-label account's own, or ours): its tokens are bound to it.
    const tokens = await (await adapterForConnection(tx, row)).refresh(refreshToken);
    const sealed = sealTokens({ ...tokens, refreshToken: tokens.refreshToken ?? refreshToken }, row.id, row.platform, {
      refreshToken,
      refreshTokenExpiresAt: row.refresh_token_expires_at,
    });
    await tx`
      update public.connections set
        access_token_enc = ${sealed.access_token_enc}, refresh_token_enc = ${sealed.refresh_token_enc},
        token_expires_at = ${sealed.token_expires_at}, refresh_token_expires_at = ${sealed.refresh_token_expires_at},
        usable_until = ${sealed.usable_until}, tokens_refreshed_at = ${services().clock.now()},
        scopes = ${tokens.scopes.length ? tokens.scopes : tx`scopes`},
        status = 'connected', last_error = null
      where id = ${row.id}`;
    return tokens.accessToken;
  } catch (error) {
    if (error instanceof PlatformError && error.category === "auth_error") {
      await markNeedsReconnect(tx, row.id, `Token refresh rejected: ${error.message}`);
      return error;
    }
    throw error;
  }
}

/** The credentials a token row gives as they are. */
function credentialsOf(row: TokenRow, accessToken: string): LiveCredentials {
  return {
    connectionId: row.id,
    platform: row.platform,
    accessToken,
    externalAccountId: row.external_account_id,
    username: row.username,
    settings: row.settings,
    oauthAppId: row.oauth_app_id,
  };
}

/**
 * The credentials of a token row read without its lock (with the publish claim), when its access token needs no
 * refresh: it opens and does not expire within the refresh margin. Otherwise undefined, and the caller goes through
 * `liveCredentials`, which locks the row, refreshes and records what it must (an unreadable token is logged there).
 */
export function usableCredentials(row: TokenRow, now: number): LiveCredentials | undefined {
  if (row.token_expires_at !== null && row.token_expires_at.getTime() - now < REFRESH_MARGIN_MS) return undefined;
  try {
    return credentialsOf(row, open(row.access_token_enc, { purpose: "connections.access_token", rowId: row.id }));
  } catch (error) {
    if (error instanceof CiphertextError) return undefined;
    throw error;
  }
}

/**
 * The connection's access token, refreshed first when it is expired or about to expire (or when `force` is set).
 * The row is locked while refreshing so two executors never spend the same rotating refresh token. A refresh the
 * network rejects marks the connection as needing reconnection; a transient failure changes nothing. The refresh-ahead
 * job (src/connections/refresh-job.ts) refreshes tokens well before this has to, so a publish rarely waits for one.
 *
 * Tokens are not readable as the caller, so this runs on the service connection (`serviceDb`). `profileId` is the
 * profile the caller acts for (a target's): the connection is read by id and that profile, so a target can never
 * borrow another tenant's account.
 */
export async function liveCredentials(
  serviceDb: ServiceDb,
  connectionId: string,
  options: { force?: boolean; profileId: string },
): Promise<LiveCredentials> {
  // A rejected refresh is recorded (committed) before the error reaches the caller.
  const result = await serviceDb(async (tx): Promise<LiveCredentials | PlatformError> => {
    const row = await lockTokenRow(tx, connectionId, options.profileId);
    if (!row) return new PlatformError("auth_error", "The connection no longer exists");
    const credentials = (accessToken: string): LiveCredentials => credentialsOf(row, accessToken);
    // An unreadable access token is treated as expired, an unreadable refresh token as rejected.
    const accessToken = unsealed(row, row.access_token_enc, "connections.access_token");
    const now = services().clock.now().getTime();
    const expiring = row.token_expires_at !== null && row.token_expires_at.getTime() - now < REFRESH_MARGIN_MS;
    if (!options.force && !expiring && accessToken !== undefined) return credentials(accessToken);
    if (!row.refresh_token_enc && !expiring && accessToken !== undefined) return credentials(accessToken);
    const why = accessToken === undefined ? UNREADABLE_TOKEN : "The access token expired and the network gave no refresh token";
    const refreshed = await refreshTokenRow(tx, row, why);
    return refreshed instanceof PlatformError ? refreshed : credentials(refreshed);
  });
  if (result instanceof PlatformError) throw result;
  return result;
}
