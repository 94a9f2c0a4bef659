import { services } from "../core/services.js";
import { catalog, type Platform } from "../platforms/catalog.js";
import { connectionTraits } from "../platforms/registry.js";
import type { StoredConnection } from "../platforms/types.js";
import { tokenHealthOf, tokenHealthWarning } from "./health.js";

export interface ConnectionRow {
  id: string;
  profile_id: string;
  platform: string;
  external_account_id: string;
  username: string;
  display_name: string | null;
  avatar_url: string | null;
  token_expires_at: Date | null;
  /** The refresh token's expiry, when the network gave one (absent in rows built by hand). */
  refresh_token_expires_at?: Date | null;
  /** When the connection stops working unless reconnected (src/connections/health.ts); null: no known end. */
  usable_until?: Date | null;
  scopes: string[];
  status: string;
  settings: Record<string, unknown>;
  metadata: Record<string, unknown>;
  last_error: string | null;
  last_synced_at: Date | null;
  created_at: Date;
  has_refresh_token: boolean;
}

export interface Readiness {
  status: "ready" | "needs_reconnect" | "not_ready";
  canPublish: boolean;
  canSchedule: boolean;
  missingRequirements: string[];
  warnings: string[];
}

/** The columns every read of a connection selects (never the token ciphertext). */
export const connectionColumns =
  "id, profile_id, platform, external_account_id, username, display_name, avatar_url, has_refresh_token, token_expires_at, refresh_token_expires_at, usable_until, scopes, status, settings, metadata, last_error, last_synced_at, created_at";

/** How long before a token that is refreshed with itself expires the connection starts warning (the refresh-ahead job renews it before). */
const LIVE_TOKEN_WARNING_MS = 7 * 24 * 3600 * 1000;

const stored = (c: ConnectionRow): StoredConnection => ({
  externalAccountId: c.external_account_id,
  username: c.username,
  settings: c.settings,
  metadata: c.metadata,
});

/**
 * What a connection can do right now, from the catalog's contract and the connection's own state: reconnection
 * needed, scopes missing, the network's own requirements (its adapter's `ConnectionTraits.readiness`, e.g. a default
 * board), tokens about to lapse.
 */
export function readinessOf(c: ConnectionRow, now = services().clock.now()): Readiness {
  const contract = catalog[c.platform as Platform];
  const traits = connectionTraits(c.platform);
  const missing: string[] = [];
  const warnings: string[] = [];
  if (!contract || !contract.publish.supported) missing.push(`${contract?.displayName ?? c.platform} publishing is not supported`);
  if (c.status === "needs_reconnect") missing.push("Reconnect the account: the network rejected its authorization");
  const granted = new Set(c.scopes);
  const lacking = (contract?.scopes ?? []).filter((s) => !granted.has(s));
  if (c.scopes.length && lacking.length) missing.push(`Missing scopes: ${lacking.join(", ")}`);
  const own = traits.readiness?.(stored(c));
  if (own) {
    missing.push(...own.missing);
    warnings.push(...own.warnings);
  }
  const renewsItself = traits.tokenRenewal === "itself";
  const refreshable = c.has_refresh_token !== false && !renewsItself;
  if (c.token_expires_at && c.token_expires_at <= now && !refreshable) {
    missing.push("The access token has expired and the network gave no refresh token: reconnect the account");
  } else if (c.token_expires_at && c.token_expires_at <= now) {
    warnings.push("The access token has expired; it will be refreshed before the next publish");
  } else if (c.token_expires_at && renewsItself && c.token_expires_at.getTime() - now.getTime() < LIVE_TOKEN_WARNING_MS) {
    warnings.push(`The access token expires at ${c.token_expires_at.toISOString()}; it is renewed automatically before then (or sync the connection to extend it now)`);
  }
  const health = tokenHealthOf(c, now);
  const healthWarning = c.status === "connected" ? tokenHealthWarning(health) : undefined;
  if (healthWarning) warnings.push(healthWarning);
  // A refresh token past its known end (LinkedIn's 365 days): the refresh-ahead job marks it within minutes.
  if (c.status === "connected" && c.has_refresh_token && health.status === "needs_reconnect") missing.push(`${health.reason}: reconnect the account`);
  if (c.last_error && c.status === "connected") warnings.push(c.last_error);
  const ready = missing.length === 0;
  return {
    status: c.status === "needs_reconnect" ? "needs_reconnect" : ready ? "ready" : "not_ready",
    canPublish: ready,
    canSchedule: ready && Boolean(contract?.publish.scheduling),
    missingRequirements: missing,
    warnings,
  };
}

/** A connection as the API answers it (GET /api/v1/connections and every route that returns one). */
export function serializeConnection(c: ConnectionRow) {
  const now = services().clock.now();
  const contract = catalog[c.platform as Platform];
  const traits = connectionTraits(c.platform);
  const handle = traits.displayHandle?.(c.username) ?? c.username;
  const destinations = traits.destinations?.(stored(c));
  return {
    id: c.id,
    platform: c.platform,
    username: handle,
    externalAccountId: c.external_account_id,
    externalAccountName: traits.accountName?.({ displayName: c.display_name, handle }) ?? c.display_name ?? handle,
    connectionStatus: c.status,
    avatarUrl: c.avatar_url,
    settings: c.settings,
    capabilities: {
      text: contract.publish.text,
      images: contract.publish.images,
      video: contract.publish.video,
      scheduling: contract.publish.scheduling,
      analytics: contract.analytics.supported,
    },
    contract: {
      displayName: contract.displayName,
      supportStatus: contract.supportStatus,
      publish: { supported: contract.publish.supported, scheduling: contract.publish.scheduling },
      notes: contract.notes,
    },
    readiness: readinessOf(c, now),
    // ok, expiring (with the date) or needs_reconnect (with the reason): src/connections/health.ts.
    tokenHealth: tokenHealthOf(c, now),
    // Where this account can publish, for the settings that choose one (Pinterest's boardId, Facebook's pageId).
    ...(destinations ? { destinations } : {}),
    tokenExpiresAt: c.token_expires_at?.toISOString() ?? null,
    lastSyncedAt: c.last_synced_at?.toISOString() ?? null,
    createdAt: c.created_at.toISOString(),
  };
}
