/**
 * What the registry and the API know about each network without loading its adapter module: its real hosts and what
 * the API says about its stored connections (ConnectionTraits). The adapters themselves are imported on first use
 * (src/platforms/registry.ts), so a function loads only the networks it calls; everything here stays small and
 * import-free at start. Each adapter module re-exports its own entries (e.g. `twitterHosts`) for its users.
 */
import type { FacebookPageInfo } from "./facebook.js";
import type { PinterestBoard } from "./pinterest.js";
import type { ConnectionTraits } from "./types.js";

// twitter
export const twitterHosts = { apiBaseUrl: "https://api.x.com", authBaseUrl: "https://x.com" } as const;

/** X shows handles as `@name`, and the handle is the account's name. */
export const twitterConnection: ConnectionTraits = {
  displayHandle: (username) => (username.startsWith("@") ? username : `@${username}`),
  accountName: ({ handle }) => handle,
};

// linkedin
export const linkedinHosts = { apiBaseUrl: "https://api.linkedin.com", authBaseUrl: "https://www.linkedin.com" } as const;

// instagram
/** Consent, API and the short-lived token endpoint live on three hosts. */
export const instagramHosts = {
  apiBaseUrl: "https://graph.instagram.com",
  authBaseUrl: "https://www.instagram.com",
  tokenBaseUrl: "https://api.instagram.com",
} as const;

/** Personal accounts cannot publish through the API; the long-lived token is refreshed with itself while valid. */
export const instagramConnection: ConnectionTraits = {
  tokenRenewal: "itself",
  readiness(c) {
    if (c.metadata.accountType !== "PERSONAL") return { missing: [], warnings: [] };
    return {
      missing: ["Switch the Instagram account to a business or creator account, then sync the connection: personal accounts cannot publish"],
      warnings: [],
    };
  },
};

// facebook
export const facebookHosts = { apiBaseUrl: "https://graph.facebook.com", authBaseUrl: "https://www.facebook.com" } as const;

/**
 * Facebook posts go out as a Page: one must have been granted at consent, and the one chosen (settings.pageId, else
 * the connection's own Page) must still be granted and allow publishing (the CREATE_CONTENT task), as of the last sync.
 */
export const facebookConnection: ConnectionTraits = {
  destinations: (c) => ({ pages: (facebookPagesOf(c.metadata) ?? []).map((p) => ({ id: p.id, name: p.name ?? p.id })) }),
  readiness(c) {
    const missing = (why: string) => ({ missing: [why], warnings: [] });
    const pages = facebookPagesOf(c.metadata);
    if (!pages) return { missing: [], warnings: [] };
    if (!pages.length) return missing("No Facebook Page: the account manages no Page, or none was selected at consent; reconnect and select a Page");
    const pageId = typeof c.settings.pageId === "string" ? c.settings.pageId : c.externalAccountId;
    const page = pages.find((p) => p.id === pageId);
    if (!page) return missing(`The Facebook Page ${pageId} is not granted to this connection: reconnect and select it, or choose another (settings.pageId)`);
    if (!page.canPublish) return missing(`You cannot publish as the Facebook Page ${page.name}: it needs the CREATE_CONTENT task on the Page`);
    return { missing: [], warnings: [] };
  },
};

/** The granted Pages recorded in a connection's metadata (as of its last connect or sync), or undefined. */
export function facebookPagesOf(metadata: Record<string, unknown>): FacebookPageInfo[] | undefined {
  const pages = metadata.pages;
  if (!Array.isArray(pages)) return undefined;
  return pages.filter((p): p is FacebookPageInfo => typeof p === "object" && p !== null && typeof (p as FacebookPageInfo).id === "string");
}

// threads
export const threadsHosts = { apiBaseUrl: "https://graph.threads.net", authBaseUrl: "https://threads.net" } as const;

/** The long-lived token is refreshed with itself while valid (there is no refresh token). */
export const threadsConnection: ConnectionTraits = { tokenRenewal: "itself" };

// tiktok
export const tiktokHosts = { apiBaseUrl: "https://open.tiktokapis.com", authBaseUrl: "https://www.tiktok.com" } as const;

/**
 * From creator_info at the last connect or sync: whether the creator may post now, whether the chosen privacy level is
 * still one TikTok offers them, and whether posts end private (an app TikTok has not audited).
 */
export const tiktokConnection: ConnectionTraits = {
  readiness(c) {
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
  },
};

// youtube
export const youtubeHosts = {
  apiBaseUrl: "https://www.googleapis.com",
  authBaseUrl: "https://accounts.google.com",
  /** Google's token endpoint lives on a third host. */
  tokenBaseUrl: "https://oauth2.googleapis.com",
} as const;

/** From the channel at the last connect or sync: uploads locked private (unaudited project), long uploads refused. */
export const youtubeConnection: ConnectionTraits = {
  readiness(c) {
    const warnings: string[] = [];
    if (c.metadata.uploadsForcedPrivate === true) {
      warnings.push("Uploads will be private: YouTube locks videos uploaded through an API project it has not audited yet to private");
    }
    const longUploads = c.metadata.longUploadsStatus;
    if (typeof longUploads === "string" && longUploads !== "allowed") {
      warnings.push(`Videos longer than 15 minutes are refused until the channel is verified (longUploadsStatus: ${longUploads})`);
    }
    return { missing: [], warnings };
  },
};

// pinterest
export const pinterestHosts = { apiBaseUrl: "https://api.pinterest.com", authBaseUrl: "https://www.pinterest.com" } as const;

/** Pins go to the default board, which must still be one of the account's boards (as of the last sync). */
export const pinterestConnection: ConnectionTraits = {
  destinations: (c) => ({ boards: (boardsOf(c.metadata) ?? []).map((b) => ({ id: b.id, name: b.name ?? b.id })) }),
  readiness(c) {
    const boardId = c.settings.boardId;
    if (typeof boardId !== "string" || !boardId) {
      return { missing: ["No default board: choose one of the account's boards (settings.boardId)"], warnings: [] };
    }
    const boards = boardsOf(c.metadata);
    if (boards && !boards.some((b) => b.id === boardId)) {
      return { missing: [`The default board ${boardId} no longer exists on the Pinterest account: choose another (settings.boardId)`], warnings: [] };
    }
    return { missing: [], warnings: [] };
  },
};

/** The boards listed in a connection's metadata, or undefined when they were never listed. */
export function boardsOf(metadata: Record<string, unknown>): PinterestBoard[] | undefined {
  const boards = metadata.boards;
  if (!Array.isArray(boards)) return undefined;
  return boards.filter((b): b is PinterestBoard => typeof b === "object" && b !== null && typeof (b as PinterestBoard).id === "string");
}

// reddit
export const redditHosts = { apiBaseUrl: "https://oauth.reddit.com", authBaseUrl: "https://www.reddit.com" } as const;

/** Posts go to the connection's subreddit, as an account Reddit has not suspended (as of the last sync). */
export const redditConnection: ConnectionTraits = {
  readiness(c) {
    const missing: string[] = [];
    if (!c.settings.subreddit) missing.push("No subreddit: choose a subreddit for this connection (settings.subreddit)");
    if (c.metadata.suspended === true) missing.push("The Reddit account is suspended");
    return { missing, warnings: [] };
  },
};

// bluesky
export const blueskyHosts = { apiBaseUrl: "https://bsky.social", authBaseUrl: "https://bsky.app" } as const;

/** A deactivated, suspended or taken-down account cannot post (as of the last sync). */
export const blueskyConnection: ConnectionTraits = {
  readiness(c) {
    if (c.metadata.active !== false) return { missing: [], warnings: [] };
    const status = typeof c.metadata.status === "string" ? c.metadata.status : "inactive";
    return { missing: [`The Bluesky account is ${status}: reactivate it, then sync the connection`], warnings: [] };
  },
};
