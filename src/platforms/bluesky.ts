import { z } from "zod";
import { count, sum } from "../analytics/model.js";
import { chunks, invalidResponse, measured, unavailable } from "./metrics.js";
import { createHttpClient, excerpt, retryAfterHeader, secondsUntil, type HttpResponse } from "./http.js";
import {
  PlatformError,
  type AccountCredentials,
  type AccountInfo,
  type AdapterConfig,
  type ConnectionTraits,
  type MediaItem,
  type OAuthTokens,
  type PlatformAdapter,
  type PublishOutcome,
  type PublishRequest,
  type MetricsCapability,
  type PostMetricsResult,
} from "./types.js";
import { blueskyHosts, blueskyConnection } from "./facts.js";

// Static facts about the network (hosts, connection traits) live in facts.ts, which the registry loads without this module.
export { blueskyHosts, blueskyConnection };

/**
 * Bluesky (AT Protocol) adapter. There is no consent page, and so no OAuth client to configure: the user creates an app
 * password on Bluesky and gives it with their handle once; `signIn` turns it into a session
 * (`com.atproto.server.createSession`) and only the session's JWTs are stored, never the password. The access JWT is
 * short-lived and `refresh` renews the pair with `com.atproto.server.refreshSession` (the refresh JWT rotates).
 *
 * Publishing: each image is uploaded with `com.atproto.repo.uploadBlob`, then one `app.bsky.feed.post` record is
 * written with `com.atproto.repo.createRecord`, with link and hashtag facets (UTF-8 byte offsets, so that they are
 * clickable) and an `app.bsky.embed.images` embed. Calls go to the configured service (bsky.social, whose entryway
 * serves the accounts it hosts); accounts on a self-hosted PDS are not supported yet.
 */

export const blueskyLimits = {
  /** The post text: 300 graphemes and 3,000 UTF-8 bytes. */
  textMaxGraphemes: 300,
  textMaxBytes: 3000,
  /** `app.bsky.embed.images`: at most 4 images of at most 1,000,000 bytes each. */
  maxImages: 4,
  imageMaxBytes: 1_000_000,
  /** Hashtags longer than this (in characters) are left as plain text. */
  tagMaxChars: 64,
} as const;

/** The scope of a session made with an app password; a session with the account password has `com.atproto.access`. */
export const APP_PASSWORD_SCOPES: ReadonlySet<string> = new Set(["com.atproto.appPass", "com.atproto.appPassPrivileged"]);

/** XRPC error names that mean the session (or the account behind it) can no longer be used. */
const AUTH_ERRORS: ReadonlySet<string> = new Set([
  "ExpiredToken",
  "InvalidToken",
  "AuthMissing",
  "AuthenticationRequired",
  "AuthFactorTokenRequired",
  "AccountTakedown",
  "AccountDeactivated",
]);
/** XRPC error names about a blob (too large, unknown, wrong type). */
const MEDIA_ERRORS: ReadonlySet<string> = new Set(["BlobTooLarge", "BlobNotFound", "InvalidMimeType", "PayloadTooLarge"]);

/** The connection's settings: the languages its posts are written in (BCP-47, at most 3), for feeds and translation. */
export const blueskySettingsSchema = z.strictObject({
  langs: z.array(z.string().regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/, "A BCP-47 language tag, e.g. en or pt-BR")).max(3).optional(),
});

/** `app.bsky.feed.getPosts`: post views with their counts. */
const postViewsSchema = z.object({
  posts: z.array(
    z.looseObject({
      uri: z.string(),
      likeCount: z.unknown().optional(),
      repostCount: z.unknown().optional(),
      quoteCount: z.unknown().optional(),
      replyCount: z.unknown().optional(),
      indexedAt: z.string().optional(),
    }),
  ),
});
const profileCountsSchema = z.looseObject({
  did: z.string(),
  followersCount: z.unknown().optional(),
  followsCount: z.unknown().optional(),
  postsCount: z.unknown().optional(),
});
const xrpcErrorSchema = z.object({ error: z.string().optional(), message: z.string().optional() });
const sessionSchema = z.object({
  accessJwt: z.string().min(1),
  refreshJwt: z.string().min(1),
  handle: z.string(),
  did: z.string().startsWith("did:"),
  active: z.boolean().optional(),
});
const getSessionSchema = z.object({
  handle: z.string().min(1),
  did: z.string().startsWith("did:"),
  active: z.boolean().optional(),
  status: z.string().optional(),
  didDoc: z.object({ service: z.array(z.object({ id: z.string(), serviceEndpoint: z.unknown() })).optional() }).passthrough().optional(),
});
const profileSchema = z.object({ displayName: z.string().optional(), avatar: z.string().optional() });
const blobSchema = z.object({
  blob: z.object({ $type: z.literal("blob"), ref: z.object({ $link: z.string() }), mimeType: z.string(), size: z.number() }),
});
const createRecordSchema = z.object({ uri: z.string().startsWith("at://"), cid: z.string() });

type Context = "session" | "api" | "media";

export interface Facet {
  index: { byteStart: number; byteEnd: number };
  features: ({ $type: "app.bsky.richtext.facet#link"; uri: string } | { $type: "app.bsky.richtext.facet#tag"; tag: string })[];
}

/** Bluesky has no OAuth client: users sign in with an app password, so only the service's address is configured. */
export type BlueskyAdapterConfig = Omit<AdapterConfig, "clientId" | "clientSecret">;

export function createBlueskyAdapter(config: BlueskyAdapterConfig): PlatformAdapter {
  const http = createHttpClient({ service: "Bluesky", fetch: config.fetch, timeoutMs: config.timeoutMs });
  const now = config.now ?? (() => new Date());
  const apiBase = (config.apiBaseUrl ?? blueskyHosts.apiBaseUrl).replace(/\/$/, "");
  const xrpc = (method: string) => `${apiBase}/xrpc/${method}`;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const noConsentPage = () =>
    new PlatformError("unknown", "Bluesky has no OAuth consent page here: connect it with a handle and an app password (signIn)");

  function toTokens(res: HttpResponse): OAuthTokens {
    const parsed = sessionSchema.safeParse(res.json);
    if (!parsed.success) throw new PlatformError("unknown", `Bluesky answered ${res.status} without a session`, { status: res.status });
    const access = jwtClaims(parsed.data.accessJwt);
    const scope = typeof access?.scope === "string" ? access.scope : undefined;
    if (scope && !APP_PASSWORD_SCOPES.has(scope)) {
      throw new PlatformError("auth_error", "Bluesky: sign in with an app password (Settings → Privacy and security → App passwords), not the account password");
    }
    return {
      accessToken: parsed.data.accessJwt,
      refreshToken: parsed.data.refreshJwt,
      expiresAt: expiryOf(access),
      refreshTokenExpiresAt: expiryOf(jwtClaims(parsed.data.refreshJwt)),
      scopes: scope ? [scope] : [],
    };
  }

  async function uploadImage(accessToken: string, item: MediaItem) {
    if (!item.mimeType.toLowerCase().startsWith("image/")) {
      throw new PlatformError("media_error", `The Bluesky adapter publishes images only, not ${item.mimeType}`);
    }
    const media = await http.download(item.url, { maxBytes: blueskyLimits.imageMaxBytes });
    const mimeType = media.contentType?.startsWith("image/") ? media.contentType : item.mimeType.toLowerCase();
    const res = await http.request({
      method: "POST",
      url: xrpc("com.atproto.repo.uploadBlob"),
      body: media.bytes,
      headers: { ...bearer(accessToken), "content-type": mimeType },
    });
    const parsed = res.ok ? blobSchema.safeParse(res.json) : undefined;
    if (!parsed?.success) throw classifyBlueskyError(res, "media", now());
    const size = imageDimensions(media.bytes);
    return { alt: "", image: parsed.data.blob, ...(size ? { aspectRatio: size } : {}) };
  }

  const metrics: MetricsCapability = {
    async posts(request) {
      const results: PostMetricsResult[] = [];
      for (const batch of chunks(request.posts, 25)) {
        const url = new URL(xrpc("app.bsky.feed.getPosts"));
        for (const p of batch) url.searchParams.append("uris", p.externalPostId);
        const res = await http.request({ url, headers: bearer(request.accessToken) });
        if (!res.ok) throw classifyBlueskyError(res, "api", now());
        const parsed = postViewsSchema.safeParse(res.json);
        if (!parsed.success) throw invalidResponse("Bluesky", res.status, parsed.error);
        const byUri = new Map(parsed.data.posts.map((p) => [p.uri, p]));
        for (const post of batch) {
          const view = byUri.get(post.externalPostId);
          if (!view) {
            results.push(unavailable(post.externalPostId, "Bluesky has no such post (deleted, or taken down)"));
            continue;
          }
          const { likeCount, repostCount, quoteCount, replyCount } = view;
          results.push(
            measured(
              post.externalPostId,
              { likes: count(likeCount), comments: count(replyCount), shares: sum(count(repostCount), count(quoteCount)) },
              { likeCount, repostCount, quoteCount, replyCount, indexedAt: view.indexedAt },
            ),
          );
        }
      }
      return results;
    },
    async account(request) {
      const url = new URL(xrpc("app.bsky.actor.getProfile"));
      url.searchParams.set("actor", request.account.externalAccountId);
      const res = await http.request({ url, headers: bearer(request.accessToken) });
      if (!res.ok) throw classifyBlueskyError(res, "api", now());
      const parsed = profileCountsSchema.safeParse(res.json);
      if (!parsed.success) throw invalidResponse("Bluesky", res.status, parsed.error);
      const { followersCount, followsCount, postsCount } = parsed.data;
      return { followers: count(followersCount), raw: { followersCount, followsCount, postsCount } };
    },
  };

  return {
    platform: "bluesky",
    settingsSchema: blueskySettingsSchema,
    metrics,

    authorizeUrl() {
      throw noConsentPage();
    },

    async exchangeCode() {
      throw noConsentPage();
    },

    async signIn({ identifier, appPassword }: AccountCredentials): Promise<OAuthTokens> {
      const res = await http.request({
        method: "POST",
        url: xrpc("com.atproto.server.createSession"),
        json: { identifier: identifier.trim().replace(/^@/, ""), password: appPassword },
      });
      if (!res.ok) throw classifyBlueskyError(res, "session", now());
      return toTokens(res);
    },

    async refresh(refreshToken) {
      const res = await http.request({ method: "POST", url: xrpc("com.atproto.server.refreshSession"), headers: bearer(refreshToken) });
      if (!res.ok) throw classifyBlueskyError(res, "session", now());
      return toTokens(res);
    },

    async getAccount(accessToken): Promise<AccountInfo> {
      const res = await http.request({ url: xrpc("com.atproto.server.getSession"), headers: bearer(accessToken) });
      const parsed = res.ok ? getSessionSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyBlueskyError(res, "api", now());
      const session = parsed.data;
      const profileUrl = new URL(xrpc("app.bsky.actor.getProfile"));
      profileUrl.searchParams.set("actor", session.did);
      const profileRes = await http.request({ url: profileUrl, headers: bearer(accessToken) });
      // A new account may have no profile record yet (400 "Profile not found"): the handle stands in for the name.
      if (!profileRes.ok && profileRes.status !== 400) throw classifyBlueskyError(profileRes, "api", now());
      const profile = profileRes.ok ? profileSchema.safeParse(profileRes.json) : undefined;
      const pds = session.didDoc?.service?.find((s) => s.id.endsWith("#atproto_pds"))?.serviceEndpoint;
      return {
        externalAccountId: session.did,
        username: session.handle,
        displayName: profile?.success ? profile.data.displayName || undefined : undefined,
        avatarUrl: profile?.success ? profile.data.avatar : undefined,
        metadata: {
          did: session.did,
          active: session.active ?? true,
          ...(session.status ? { status: session.status } : {}),
          ...(typeof pds === "string" ? { pds } : {}),
        },
      };
    },

    async publish(request: PublishRequest): Promise<PublishOutcome> {
      if (request.media.length > blueskyLimits.maxImages) {
        throw new PlatformError("media_error", `Bluesky accepts at most ${blueskyLimits.maxImages} images per post`);
      }
      const settings = blueskySettingsSchema.safeParse(request.settings);
      const images = [];
      for (const item of request.media) images.push(await uploadImage(request.accessToken, item));
      const record: Record<string, unknown> = { $type: "app.bsky.feed.post", text: request.text, createdAt: now().toISOString() };
      const facets = detectFacets(request.text);
      if (facets.length) record.facets = facets;
      if (settings.success && settings.data.langs?.length) record.langs = settings.data.langs;
      if (images.length) record.embed = { $type: "app.bsky.embed.images", images };
      const did = request.account.externalAccountId;
      const res = await http.request({
        method: "POST",
        url: xrpc("com.atproto.repo.createRecord"),
        json: { repo: did, collection: "app.bsky.feed.post", record },
        headers: bearer(request.accessToken),
      });
      const parsed = res.ok ? createRecordSchema.safeParse(res.json) : undefined;
      if (!parsed?.success) throw classifyBlueskyError(res, "api", now());
      const rkey = parsed.data.uri.split("/").pop()!;
      const profile = request.account.username || did;
      return { status: "published", externalPostId: parsed.data.uri, url: `https://bsky.app/profile/${profile}/post/${rkey}` };
    },

    async checkStatus() {
      throw new PlatformError("unknown", "Bluesky publishes text and images synchronously: there is no processing state to check");
    },
  };
}

/**
 * Link and hashtag facets for a post's text, with UTF-8 byte offsets. Links are explicit http(s) URLs, without the
 * trailing punctuation that usually ends a sentence (and without an unbalanced closing parenthesis); hashtags are
 * `#` + at least one non-digit character, up to the first space or punctuation. Mentions are left as plain text.
 */
export function detectFacets(text: string): Facet[] {
  const facets: Facet[] = [];
  const bytesBefore = (index: number) => Buffer.byteLength(text.slice(0, index), "utf8");
  for (const match of text.matchAll(/(^|[\s(])(https?:\/\/[^\s<>"]+)/gi)) {
    let uri = match[2]!;
    uri = uri.replace(/[.,;:!?'"]+$/, "");
    if (uri.endsWith(")") && !uri.includes("(")) uri = uri.slice(0, -1);
    if (!URL.canParse(uri)) continue;
    const start = match.index! + match[1]!.length;
    const byteStart = bytesBefore(start);
    facets.push({ index: { byteStart, byteEnd: byteStart + Buffer.byteLength(uri, "utf8") }, features: [{ $type: "app.bsky.richtext.facet#link", uri }] });
  }
  for (const match of text.matchAll(/(^|\s)[#＃]([^\s#＃]+)/gu)) {
    const tag = match[2]!.replace(/\p{P}+$/u, "");
    if (!tag || /^\d+$/.test(tag) || [...tag].length > blueskyLimits.tagMaxChars) continue;
    const start = match.index! + match[1]!.length;
    const byteStart = bytesBefore(start);
    const byteEnd = byteStart + Buffer.byteLength(`#${tag}`, "utf8");
    facets.push({ index: { byteStart, byteEnd }, features: [{ $type: "app.bsky.richtext.facet#tag", tag }] });
  }
  return facets.sort((a, b) => a.index.byteStart - b.index.byteStart);
}

/** Graphemes as Bluesky counts them (a family emoji or a flag is one). */
export function graphemeLength(text: string): number {
  let count = 0;
  for (const _ of new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)) count++;
  return count;
}

/** The claims of a JWT (no signature check: only to read our own session's expiry and scope). */
export function jwtClaims(jwt: string): Record<string, unknown> | undefined {
  const payload = jwt.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    return claims && typeof claims === "object" ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function expiryOf(claims: Record<string, unknown> | undefined): Date | undefined {
  return typeof claims?.exp === "number" ? new Date(claims.exp * 1000) : undefined;
}

/** Width and height of a PNG, GIF or JPEG, for the embed's `aspectRatio` (so clients do not crop it). */
export function imageDimensions(bytes: Uint8Array): { width: number; height: number } | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47) return positive(b.readUInt32BE(16), b.readUInt32BE(20));
  if (b.length >= 10 && b.toString("ascii", 0, 4) === "GIF8") return positive(b.readUInt16LE(6), b.readUInt16LE(8));
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    // Walk the JPEG segments to the first start-of-frame marker (SOF0–SOF15, except DHT/JPG/DAC).
    let offset = 2;
    while (offset + 9 < b.length && b[offset] === 0xff) {
      const marker = b[offset + 1]!;
      const length = b.readUInt16BE(offset + 2);
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
        return positive(b.readUInt16BE(offset + 7), b.readUInt16BE(offset + 5));
      }
      offset += 2 + length;
    }
  }
  return undefined;
}

function positive(width: number, height: number) {
  return width > 0 && height > 0 ? { width, height } : undefined;
}

/**
 * Classifies a Bluesky (XRPC) answer from its status and `error` name: 401, or ExpiredToken/InvalidToken and
 * the other session errors on a 400 → auth_error (the executor refreshes once, then asks for a reconnect); 429 or
 * RateLimitExceeded → rate_limited until `ratelimit-reset` (epoch seconds); 5xx → network_error; blob errors
 * (BlobTooLarge, BlobNotFound, PayloadTooLarge, …) or any failed upload → media_error; the rest (InvalidRequest on a
 * record, for instance) → unknown. On the session endpoints a refused identifier or password is an auth_error.
 */
export function classifyBlueskyError(res: HttpResponse, context: Context, now: Date): PlatformError {
  const status = res.status;
  const parsed = xrpcErrorSchema.safeParse(res.json);
  const name = parsed.success ? parsed.data.error : undefined;
  const detail = excerpt(parsed.success ? (parsed.data.message ?? parsed.data.error) : undefined);
  const what = context === "media" ? "Bluesky blob upload" : "Bluesky";
  const message = `${what} answered ${status}${detail ? `: ${detail}` : ""}`;
  const details = { status, platformCode: name };
  if (res.ok) return new PlatformError("unknown", `${what} answered ${status} with an unexpected body`, details);
  if (status === 429 || name === "RateLimitExceeded") {
    return new PlatformError("rate_limited", message, { ...details, retryAfterSeconds: blueskyRetryAfterSeconds(res.headers, now) });
  }
  if (status === 401 || (name !== undefined && AUTH_ERRORS.has(name))) return new PlatformError("auth_error", message, details);
  if (status >= 500) return new PlatformError("network_error", message, details);
  if (context === "session" && status === 400) return new PlatformError("auth_error", message, details);
  if (context === "media" || status === 413 || (name !== undefined && MEDIA_ERRORS.has(name))) return new PlatformError("media_error", message, details);
  return new PlatformError("unknown", message, details);
}

/** `ratelimit-reset` is an epoch in seconds (IETF RateLimit header draft); `Retry-After` as a fallback. */
export function blueskyRetryAfterSeconds(headers: Headers, now: Date): number | undefined {
  const reset = Number(headers.get("ratelimit-reset"));
  if (headers.get("ratelimit-reset") !== null && Number.isFinite(reset) && reset > 0) return secondsUntil(reset, now);
  return retryAfterHeader(headers, now);
}
