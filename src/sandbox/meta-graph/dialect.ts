import type { ErrorCategory } from "../../platforms/types.js";
import type { AuthorizeOptions, Grant, RateWindow } from "../common.js";
import type { ImageFacts } from "./graph.js";

/** What each Meta network (Instagram, Threads) configures: its paths, limits, token prefixes and answers. */

export type ContainerKind = "TEXT" | "IMAGE" | "VIDEO";

export interface ContainerRow {
  id: string;
  account_id: string;
  media_type: ContainerKind;
  text: string;
  state: string;
  polls: number;
  ready_after_polls: number;
  stuck: boolean;
  injected: string | null;
  error_detail: string | null;
  published_id: string | null;
  mime_type: string | null;
  size_bytes: number | null;
  created_at: Date;
}

export interface PublishedRow {
  id: string;
  account_id: string;
  text: string;
  media: { id: string; mimeType: string | null; sizeBytes: number | null; kind?: ContainerKind }[];
  created_at: Date;
}

export interface AccountRow {
  id: string;
  username: string;
  name: string;
  account_type: string | null;
}

export interface MetaLimits {
  codeSeconds: number;
  shortTokenSeconds: number;
  longTokenSeconds: number;
  callsPerHour: number;
  postsPerDay: number;
  /** Status reads after which a video container is finished. */
  videoReadyPolls: number;
  imageMaxBytes: number;
  videoMaxBytes: number;
  scopes: ReadonlySet<string>;
}

export interface MetaDialect {
  network: string;
  clients: ReadonlyMap<string, { clientId: string; clientSecret: string }>;
  /**
   * The consent page's network-specific answers (common.ts `authorize`). Both Meta logins take no PKCE and accept
   * comma- or space-separated scopes; the known scopes and the code lifetime come from `limits`.
   */
  consent: Pick<AuthorizeOptions, "denial" | "newAccount" | "errorPage">;
  /** Paths: `/v<version>` prefixes accepted before API paths (unversioned paths are accepted too, as on Graph). */
  versionPattern: RegExp;
  scopes: { publish: string };
  createEdge: string;
  publishEdge: string;
  limitEdge: string;
  textField: string;
  exchangeGrant: string;
  refreshGrant: string;
  tokenPrefix: string;
  /** The network's sandbox config (its lifetimes, rate and size limits, and known scopes). */
  limits: MetaLimits;
  textLength(text: string): number;
  textMaxChars: number;
  /** POST /oauth/access_token: the network's own short-lived token answer and its error shape. */
  shortLivedToken(params: URLSearchParams, grant: { ok: true; grant: Grant } | { ok: false; reason: "client" | "code" | "grant_type" }): Promise<Response> | Response;
  /** Refuses the account publishing at all (Instagram: a personal account), or undefined. */
  refuseAccount?(account: AccountRow): Response | undefined;
  /** What kind of container the parameters ask for, and from which URL; or the network's refusal. */
  containerRequest(params: URLSearchParams): { kind: ContainerKind; sourceUrl?: string } | Response;
  /** The network's refusal of a fetched image (format, aspect ratio), or undefined. */
  refuseImage(image: ImageFacts): Response | undefined;
  textTooLong(): Response;
  fetchFailed(url: string): Response;
  imageTooLarge(): Response;
  /** The container's status detail when processing fails (a video that cannot be read or fetched, an injection). */
  processingError(kind: ContainerKind, reason: "download" | "format" | "injected"): string;
  renderContainer(row: ContainerRow, fields: string[]): Record<string, unknown>;
  renderMe(account: AccountRow, fields: string[]): Record<string, unknown>;
  renderPost(post: PublishedRow, account: AccountRow, fields: string[]): Record<string, unknown>;
  usageHeaders(accountId: string, window: RateWindow): Record<string, string>;
  throttled(accountId: string, window: RateWindow): Response;
  quotaReached(): Response;
  /** The network's answer for an injected `unknown` failure (a restricted action). */
  restricted(): Response;
  /** Extra control endpoints, keyed as routes under `/__sandbox` (e.g. `"POST /accounts/:id/account-type"`). */
  controls?: Record<string, (req: Request, params: Record<string, string>) => Promise<Response>>;
  /** Called after a consent that issued a code (Instagram records the account type asked for). */
  afterConsent?(req: URL, accountId: string): Promise<void>;
}

export const CONTAINER_TTL_SECONDS = 24 * 3600;
export const IMMEDIATE_INJECTIONS: ReadonlySet<ErrorCategory> = new Set(["rate_limited", "auth_error", "network_error", "unknown"]);

export interface Ingested {
  state: string;
  errorDetail: string | null;
  media: { mimeType?: string; sizeBytes?: number; sha256?: string };
}

export interface Call {
  accountId?: string;
  window?: RateWindow;
}

/** Requested fields (`fields=a,b`), or the defaults. */
export function fieldsOf(params: URLSearchParams, defaults: string[]): string[] {
  const value = params.get("fields");
  return value ? value.split(",").map((f) => f.trim()).filter(Boolean) : defaults;
}

export function pick(all: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { id: all.id };
  for (const field of fields) if (all[field] !== undefined) out[field] = all[field];
  return out;
}
