import { catalog, type Platform } from "../platforms/catalog.js";
import { facebookPagesOf } from "../platforms/facebook.js";
import { boardsOf } from "../platforms/pinterest.js";

export interface ConnectionRow {
  id: string;
  profile_id: string;
  platform: string;
  external_account_id: string;
  username: string;
  display_name: string | null;
  avatar_url: string | null;
  token_expires_at: Date | null;
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
  "id, profile_id, platform, external_account_id, username, display_name, avatar_url, has_refresh_token, token_expires_at, scopes, status, settings, metadata, last_error, last_synced_at, created_at";

/**
 * Networks without refresh tokens whose long-lived token is refreshed with itself (Instagram, Threads): once it has
 * expired nothing can renew it, and shortly before, a sync still can.
 */
const refreshedWithLiveToken: ReadonlySet<string> = new Set(["instagram", "threads"]);
const LIVE_TOKEN_WARNING_MS = 7 * 24 * 3600 * 1000;

/**
 * What a connection can do right now, from the catalog's contract and the connection's own state: reconnection
 * needed, scopes missing, network-specific requirements (e.g. Pinterest's default board), tokens about to lapse.
 */
export function readinessOf(c: ConnectionRow, now = new Date()): Readiness {
  const contract = catalog[c.platform as Platform];
  const missing: string[] = [];
  const warnings: string[] = [];
  if (!contract || !contract.publish.supported) missing.push(`${contract?.displayName ?? c.platform} publishing is not supported`);
  if (c.status === "needs_reconnect") missing.push("Reconnect the account: the network rejected its authorization");
  const granted = new Set(c.scopes);
  const lacking = (contract?.scopes ?? []).filter((s) => !granted.has(s));
  if (c.scopes.length && lacking.length) missing.push(`Missing scopes: ${lacking.join(", ")}`);
  if (c.platform === "pinterest") missing.push(...pinterestRequirements(c));
  if (c.platform === "facebook") missing.push(...facebookRequirements(c));
  if (c.platform === "reddit" && !c.settings.subreddit) missing.push("No subreddit: choose a subreddit for this connection (settings.subreddit)");
  if (c.platform === "reddit" && c.metadata.suspended === true) missing.push("The Reddit account is suspended");
  if (c.platform === "bluesky" && c.metadata.active === false) {
    missing.push(`The Bluesky account is ${typeof c.metadata.status === "string" ? c.metadata.status : "inactive"}: reactivate it, then sync the connection`);
  }
  if (c.platform === "instagram" && c.metadata.accountType === "PERSONAL") {
    missing.push("Switch the Instagram account to a business or creator account, then sync the connection: personal accounts cannot publish");
  }
  if (c.platform === "tiktok") {
    const facts = tiktokReadiness(c);
    missing.push(...facts.missing);
    warnings.push(...facts.warnings);
  }
  if (c.platform === "youtube") warnings.push(...youtubeWarnings(c));
  const refreshable = c.has_refresh_token !== false && !refreshedWithLiveToken.has(c.platform);
  if (c.token_expires_at && c.token_expires_at <= now && !refreshable) {
    missing.push("The access token has expired and the network gave no refresh token: reconnect the account");
  } else if (c.token_expires_at && c.token_expires_at <= now) {
    warnings.push("The access token has expired; it will be refreshed before the next publish");
  } else if (c.token_expires_at && refreshedWithLiveToken.has(c.platform) && c.token_expires_at.getTime() - now.getTime() < LIVE_TOKEN_WARNING_MS) {
    warnings.push(`The access token expires at ${c.token_expires_at.toISOString()}; sync the connection before then to extend it`);
  }
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

/**
 * Facebook posts go out as a Page: one must have been granted at consent, and the one chosen (settings.pageId, else
 * the connection's own Page) must still be granted and allow publishing (the CREATE_CONTENT task), as of the last sync.
 */
function facebookRequirements(c: ConnectionRow): string[] {
  const pages = facebookPagesOf(c.metadata);
  if (!pages) return [];
  if (!pages.length) {
    return ["No Facebook Page: the account manages no Page, or none was selected at consent; reconnect and select a Page"];
  }
  const pageId = typeof c.settings.pageId === "string" ? c.settings.pageId : c.external_account_id;
  const page = pages.find((p) => p.id === pageId);
  if (!page) return [`The Facebook Page ${pageId} is not granted to this connection: reconnect and select it, or choose another (settings.pageId)`];
  if (!page.canPublish) return [`You cannot publish as the Facebook Page ${page.name}: it needs the CREATE_CONTENT task on the Page`];
  return [];
}

/**
 * TikTok, from creator_info at the last connect or sync (src/platforms/tiktok.ts): whether the creator may post now,
 * whether the chosen privacy level is still one TikTok offers them, and whether posts end private (unaudited app).
 */
function tiktokReadiness(c: ConnectionRow): { missing: string[]; warnings: string[] } {
  const missing: string[] = [];
  const warnings: string[] = [];
  const m = c.metadata;
  if (m.canPost === false) {
    const reason = typeof m.cannotPostReason === "string" ? ` (${m.cannotPostReason})` : "";
    missing.push(`TikTok does not let this account post right now${reason}: sync the connection once it can`);
  }
  const options = Array.isArray(m.privacyLevelOptions) ? m.privacyLevelOptions : undefined;
  if (typeof c.settings.privacyLevel === "string" && options && !options.includes(c.settings.privacyLevel)) {
    missing.push(`TikTok does not offer ${c.settings.privacyLevel} to this account (offered: ${options.join(", ")}): choose another settings.privacyLevel`);
  }
  if (m.postsForcedPrivate === true) warnings.push("Posts will be private (SELF_ONLY): TikTok makes every post from an app it has not audited yet private");
  return { missing, warnings };
}

/** YouTube, from the channel at the last connect or sync (src/platforms/youtube.ts). */
function youtubeWarnings(c: ConnectionRow): string[] {
  const warnings: string[] = [];
  if (c.metadata.uploadsForcedPrivate === true) {
    warnings.push("Uploads will be private: YouTube locks videos uploaded through an API project it has not audited yet to private");
  }
  const longUploads = c.metadata.longUploadsStatus;
  if (typeof longUploads === "string" && longUploads !== "allowed") {
    warnings.push(`Videos longer than 15 minutes are refused until the channel is verified (longUploadsStatus: ${longUploads})`);
  }
  return warnings;
}

/** Pinterest pins go to the default board, which must still be one of the account's boards (as of the last sync). */
function pinterestRequirements(c: ConnectionRow): string[] {
  const boardId = c.settings.boardId;
  if (typeof boardId !== "string" || !boardId) return ["No default board: choose one of the account's boards (settings.boardId)"];
  const boards = boardsOf(c.metadata);
  if (boards && !boards.some((b) => b.id === boardId)) {
    return [`The default board ${boardId} no longer exists on the Pinterest account: choose another (settings.boardId)`];
  }
  return [];
}

/** Handles shown the way each network shows them (the contract's X example is "@handle"). */
function displayHandle(platform: string, username: string): string {
  return platform === "twitter" && !username.startsWith("@") ? `@${username}` : username;
}

/** The contract's connection shape ("List Connections"). */
export function serializeConnection(c: ConnectionRow) {
  const contract = catalog[c.platform as Platform];
  const username = displayHandle(c.platform, c.username);
  return {
    id: c.id,
    platform: c.platform,
    username,
    externalAccountId: c.external_account_id,
    externalAccountName: c.platform === "twitter" ? username : (c.display_name ?? username),
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
    readiness: readinessOf(c),
    // Where this account can publish, for the settings that choose one (Pinterest's boardId, Facebook's pageId).
    ...destinationsOf(c),
    tokenExpiresAt: c.token_expires_at?.toISOString() ?? null,
    lastSyncedAt: c.last_synced_at?.toISOString() ?? null,
    createdAt: c.created_at.toISOString(),
  };
}

function destinationsOf(c: ConnectionRow): { destinations?: Record<string, { id: string; name: string }[]> } {
  const pick = (items: { id: string; name?: string }[] | undefined) => items?.map((i) => ({ id: i.id, name: i.name ?? i.id }));
  if (c.platform === "pinterest") return { destinations: { boards: pick(boardsOf(c.metadata)) ?? [] } };
  if (c.platform === "facebook") return { destinations: { pages: pick(facebookPagesOf(c.metadata)) ?? [] } };
  return {};
}
