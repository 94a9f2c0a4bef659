import type { z } from "zod";
import type { Platform } from "./catalog.js";

/**
 * The closed set of failure categories a publish can end in (the API reports them as a target's error category).
 * Adapters classify every failure into one of these from parsed status codes and error fields, never from substring
 * guesses on free text.
 */
export const errorCategories = [
  "rate_limited",
  "auth_error",
  "network_error",
  "duplicate",
  "media_error",
  "media_processing",
  "unknown",
] as const;
export type ErrorCategory = (typeof errorCategories)[number];

/** Categories the publish executor retries (with backoff); the others fail the target at once. */
export const retryableCategories: ReadonlySet<ErrorCategory> = new Set([
  "rate_limited",
  "network_error",
  "media_error",
  "media_processing",
  "unknown",
]);

/** A classified failure from a network. */
export class PlatformError extends Error {
  constructor(
    readonly category: ErrorCategory,
    message: string,
    readonly details: {
      /** HTTP status the network answered with, when it answered. */
      status?: number;
      /** The network's own error code (e.g. X problem type, LinkedIn serviceErrorCode, Meta error.code). */
      platformCode?: string;
      /** When the network says it can be tried again (rate limits): seconds from now. */
      retryAfterSeconds?: number;
    } = {},
  ) {
    super(message);
    this.name = "PlatformError";
  }
}

/** Tokens as a network returns them, normalised. */
export interface OAuthTokens {
  accessToken: string;
  refreshToken?: string;
  /** Absolute expiry of the access token, when the network says. */
  expiresAt?: Date;
  /** Absolute expiry of the refresh token, when the network says (LinkedIn: fixed from the first consent). */
  refreshTokenExpiresAt?: Date;
  scopes: string[];
}

/** The account a connection publishes as. */
export interface AccountInfo {
  externalAccountId: string;
  username: string;
  displayName?: string;
  avatarUrl?: string;
  /** Network-specific facts readiness needs (e.g. account type, boards, pages). */
  metadata?: Record<string, unknown>;
}

export interface AuthorizeRequest {
  state: string;
  /** PKCE S256 challenge (networks without PKCE ignore it). */
  codeChallenge: string;
  redirectUri: string;
  scopes: string[];
}

export interface CodeExchange {
  code: string;
  codeVerifier: string;
  redirectUri: string;
}

/** One media item to publish, already at a public URL the adapter can fetch. */
export interface MediaItem {
  url: string;
  mimeType: string;
  fileName?: string;
  sizeBytes?: number;
}

export interface PublishRequest {
  accessToken: string;
  account: { externalAccountId: string; username: string };
  text: string;
  media: MediaItem[];
  /** The connection's network-specific settings (board, subreddit, privacy…), validated by the adapter's schema. */
  settings: Record<string, unknown>;
}

/**
 * The outcome of a publish call. Networks that finish later (containers, video processing) return `processing`
 * with opaque state the executor hands back to `checkStatus` through the queue, never waiting in a loop.
 */
export type PublishOutcome =
  | { status: "published"; externalPostId: string; url?: string }
  | { status: "processing"; checkAfterSeconds: number; state: Record<string, unknown>; upload?: UploadProgress };

/**
 * A `processing` outcome that is still sending the media (a large video, one slice per attempt: src/media/transfer.ts):
 * where the upload stands. The executor writes it to the job logs (job_type `media_upload`), and the bounded wait for
 * the network's processing only starts once the upload is complete.
 */
export interface UploadProgress {
  /** Bytes the network holds now. */
  receivedBytes: number;
  totalBytes: number;
  /** Bytes sent by this attempt. */
  sentBytes: number;
}

export interface PlatformAdapter {
  readonly platform: Platform;
  /**
   * The connection's network-specific settings (Pinterest board, Reddit subreddit, privacy level…). The API validates
   * `PublishRequest.settings` with it when a connection or post is saved; networks without settings use an empty object.
   */
  readonly settingsSchema: z.ZodType<Record<string, unknown>>;
  /** The URL the user is sent to for consent. */
  authorizeUrl(request: AuthorizeRequest): string;
  exchangeCode(exchange: CodeExchange): Promise<OAuthTokens>;
  /**
   * Throws PlatformError("auth_error") when the network rejects the refresh token (reconnect needed). Networks that
   * rotate refresh tokens (X) return a new one and the old one stops working: store it before anything else. When the
   * result has no `refreshToken`, keep the previous one.
   */
  refresh(refreshToken: string): Promise<OAuthTokens>;
  getAccount(accessToken: string): Promise<AccountInfo>;
  publish(request: PublishRequest): Promise<PublishOutcome>;
  /** Follows a `processing` outcome; adapters that never return one answer with a PlatformError("unknown"). */
  checkStatus(request: PublishRequest, state: Record<string, unknown>): Promise<PublishOutcome>;
  /**
   * Optional: checks settings that already passed `settingsSchema` against the account they are for, from the
   * `AccountInfo.metadata` stored at the last connect or sync (e.g. Pinterest: the board must be one of the account's
   * boards). Returns one issue per wrong field, an empty list when they fit. Networks whose settings do not depend on
   * the account leave it out.
   */
  checkSettings?(settings: Record<string, unknown>, account: { metadata: Record<string, unknown> }): SettingsIssue[];
  /**
   * Present only on networks whose users connect with credentials they create on the network (Bluesky app passwords)
   * instead of an OAuth consent page. `POST /api/v1/connect/init` then takes `credentials` and calls this instead of
   * sending the user to `authorizeUrl`; the tokens are stored exactly like exchanged codes, and `refresh`/`getAccount`
   * work as for every network. Throws PlatformError("auth_error") when the network refuses the credentials. Such
   * adapters have no consent page: their `authorizeUrl` and `exchangeCode` throw.
   */
  signIn?(credentials: AccountCredentials): Promise<OAuthTokens>;
  /**
   * Metrics of published posts (and of the account), from the network's own insights API, mapped to the one metrics
   * model (src/analytics/model.ts). Absent on networks this app reads no metrics from.
   */
  readonly metrics?: MetricsCapability;
}

/** Published posts of one account whose metrics are asked for. */
export interface MetricsRequest {
  accessToken: string;
  account: { externalAccountId: string; username: string };
  settings: Record<string, unknown>;
  posts: { externalPostId: string; publishedAt?: Date }[];
}

/**
 * One post's metrics in the one model: a count the network does not report for this post is null (unknown), never 0.
 * `raw` keeps whatever the network answered for the post, including fields the model has no column for.
 */
export interface PostMetricValues {
  impressions: number | null;
  reach: number | null;
  likes: number | null;
  comments: number | null;
  shares: number | null;
  saves: number | null;
  clicks: number | null;
  videoViews: number | null;
}

/** A post's metrics, or why the network has none for it (deleted, too few viewers, not the account's). */
export type PostMetricsResult =
  | { externalPostId: string; metrics: PostMetricValues; raw: Record<string, unknown> }
  | { externalPostId: string; unavailable: string; raw?: Record<string, unknown> };

export interface AccountMetricsResult {
  followers: number | null;
  raw: Record<string, unknown>;
}

/**
 * A network's metrics calls. A failure of the whole call is a PlatformError like publishing's (auth_error,
 * rate_limited with retryAfterSeconds, network_error, unknown); an answer that is not the network's documented shape
 * is PlatformError("unknown") with platformCode `invalid_response`.
 */
export interface MetricsCapability {
  /** Every post of the request, in one or more calls (batched as the network allows). */
  posts(request: MetricsRequest): Promise<PostMetricsResult[]>;
  /** Account-level numbers (followers), on networks that offer them. */
  account?(request: Omit<MetricsRequest, "posts">): Promise<AccountMetricsResult>;
}

/** What a user gives to connect a network without an OAuth consent page (Bluesky: handle or DID, and an app password). */
export interface AccountCredentials {
  identifier: string;
  appPassword: string;
}

/** A setting that does not fit the account (`field` is the setting's key, e.g. `boardId`). */
export interface SettingsIssue {
  field: string;
  message: string;
}

/**
 * Where a network lives. Every adapter exports its real hosts (e.g. `twitterHosts`) and uses them for any base URL its
 * config leaves out; the local home replaces all of them with its sandbox's.
 */
export interface BaseUrls {
  /** Base URL of the network's API. */
  apiBaseUrl: string;
  /** Base URL of the consent page (differs from the API host on most networks). */
  authBaseUrl: string;
  /** Base URL of the token endpoint, on networks where it is a third host (Google, Instagram's code exchange). */
  tokenBaseUrl?: string;
}

/** Where an adapter finds its network and who it is to that network. */
export interface AdapterConfig extends Partial<BaseUrls> {
  clientId: string;
  clientSecret: string;
  /** Outbound HTTP; injectable so tests can observe calls. Defaults to global fetch. */
  fetch?: typeof fetch;
  /** Per-request timeout in milliseconds (every outbound call is bounded). */
  timeoutMs?: number;
  /** The clock, for token expiry and rate-limit reset arithmetic. Defaults to the system clock. */
  now?: () => Date;
}

/** A stored connection as the per-network descriptions below read it (never its tokens). */
export interface StoredConnection {
  externalAccountId: string;
  username: string;
  settings: Record<string, unknown>;
  /** `AccountInfo.metadata` as of the last connect or sync. */
  metadata: Record<string, unknown>;
}

/** One place a connection can publish to (a Facebook Page, a Pinterest board), for the setting that chooses it. */
export interface Destination {
  id: string;
  name: string;
}

/**
 * What the API says about a stored connection of one network without calling the network, so it needs no client
 * credentials (listing connections works on a server that has since lost a network's configuration). Each adapter
 * module exports one (e.g. `pinterestConnection`); the registry hands it out with `connectionTraits(platform)`.
 */
export interface ConnectionTraits {
  /**
   * Where the account can publish, keyed by the kind of destination (`{ boards: [...] }`, `{ pages: [...] }`), for the
   * setting that picks one. Networks that publish only to the account itself leave it out.
   */
  destinations?(connection: StoredConnection): Record<string, Destination[]>;
  /**
   * What stops the connection from publishing (`missing`) or will change how it publishes (`warnings`), from its
   * settings and the metadata of its last connect or sync, beyond what every network checks (scopes, reconnection).
   */
  readiness?(connection: StoredConnection): { missing: string[]; warnings: string[] };
  /**
   * How the access token is renewed. `refresh_token` (the default): with a refresh token, whatever the access token's
   * state. `itself`: a long-lived token refreshed with itself while it is valid (Instagram, Threads): once it has
   * expired nothing can renew it, so the connection warns before then.
   */
  tokenRenewal?: "refresh_token" | "itself";
  /** The handle as the network shows it (X: `@name`). Defaults to the username as stored. */
  displayHandle?(username: string): string;
  /** The account's name as shown to users. Defaults to the display name, else the handle. */
  accountName?(connection: { displayName: string | null; handle: string }): string;
}
