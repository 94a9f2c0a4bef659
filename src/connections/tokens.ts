import { CiphertextError, open, seal } from "../core/crypto.js";
import { log } from "../core/log.js";
import type { ServiceDb, Tx } from "../core/pg.js";
import type { Platform } from "../platforms/catalog.js";
import { getAdapter } from "../platforms/registry.js";
import { PlatformError, type OAuthTokens } from "../platforms/types.js";

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
}

/** The token columns of one connection row, each sealed for that row's id and column (src/core/crypto.ts). */
export function sealTokens(tokens: OAuthTokens, connectionId: string) {
  return {
    access_token_enc: seal(tokens.accessToken, { purpose: "connections.access_token", rowId: connectionId }),
    refresh_token_enc: tokens.refreshToken
      ? seal(tokens.refreshToken, { purpose: "connections.refresh_token", rowId: connectionId })
      : null,
    token_expires_at: tokens.expiresAt ?? null,
    scopes: tokens.scopes,
  };
}

interface TokenRow {
  id: string;
  platform: Platform;
  status: string;
  access_token_enc: string;
  refresh_token_enc: string | null;
  token_expires_at: Date | null;
  external_account_id: string;
  username: string;
  settings: Record<string, unknown>;
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

/**
 * The connection's access token, refreshed first when it is expired or about to expire (or when `force` is set).
 * The row is locked while refreshing so two executors never spend the same rotating refresh token. A refresh the
 * network rejects marks the connection as needing reconnection; a transient failure changes nothing.
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
    const [row] = await tx<TokenRow[]>`
      select id, platform, status, access_token_enc, refresh_token_enc, token_expires_at, external_account_id, username, settings
      from public.connections
      where id = ${connectionId} and profile_id = ${options.profileId}
      for update`;
    if (!row) return new PlatformError("auth_error", "The connection no longer exists");
    const credentials = (accessToken: string): LiveCredentials => ({
      connectionId: row.id,
      platform: row.platform,
      accessToken,
      externalAccountId: row.external_account_id,
      username: row.username,
      settings: row.settings,
    });
    // A stored token that does not open (altered, copied from another row, sealed by a key no longer configured) can
    // never work: an unreadable access token is treated as expired, an unreadable refresh token as rejected.
    const unsealed = (sealed: string, purpose: "connections.access_token" | "connections.refresh_token") => {
      try {
        return open(sealed, { purpose, rowId: row.id });
      } catch (error) {
        if (!(error instanceof CiphertextError)) throw error;
        log.error("a stored connection token cannot be decrypted", { connectionId: row.id, purpose, reason: error.message });
        return undefined;
      }
    };
    const needsReconnect = async (message: string) => {
      const error = new PlatformError("auth_error", message);
      await markNeedsReconnect(tx, row.id, error.message);
      return error;
    };
    const accessToken = unsealed(row.access_token_enc, "connections.access_token");
    const expiring = row.token_expires_at !== null && row.token_expires_at.getTime() - Date.now() < REFRESH_MARGIN_MS;
    if (!options.force && !expiring && accessToken !== undefined) return credentials(accessToken);
    if (!row.refresh_token_enc) {
      if (!expiring && accessToken !== undefined) return credentials(accessToken);
      return needsReconnect(accessToken === undefined ? UNREADABLE_TOKEN : "The access token expired and the network gave no refresh token");
    }
    const refreshToken = unsealed(row.refresh_token_enc, "connections.refresh_token");
    if (refreshToken === undefined) return needsReconnect(UNREADABLE_TOKEN);
    try {
      const tokens = await getAdapter(row.platform).refresh(refreshToken);
      const sealed = sealTokens({ ...tokens, refreshToken: tokens.refreshToken ?? refreshToken }, row.id);
      await tx`
        update public.connections set
          access_token_enc = ${sealed.access_token_enc}, refresh_token_enc = ${sealed.refresh_token_enc},
          token_expires_at = ${sealed.token_expires_at},
          scopes = ${tokens.scopes.length ? tokens.scopes : tx`scopes`},
          status = 'connected', last_error = null
        where id = ${row.id}`;
      return credentials(tokens.accessToken);
    } catch (error) {
      if (error instanceof PlatformError && error.category === "auth_error") {
        await markNeedsReconnect(tx, row.id, `Token refresh rejected: ${error.message}`);
        return error;
      }
      throw error;
    }
  });
  if (result instanceof PlatformError) throw result;
  return result;
}
