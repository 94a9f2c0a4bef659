import { env, type Env } from "../core/env.js";
import { AppError } from "../core/errors.js";
import { log } from "../core/log.js";
import { blueskyConnection, blueskyHosts, createBlueskyAdapter } from "./bluesky.js";
import { catalog, isPublishable, type Platform, type PublishablePlatform } from "./catalog.js";
import { createFacebookAdapter, facebookConnection, facebookHosts } from "./facebook.js";
import { createInstagramAdapter, instagramConnection, instagramHosts } from "./instagram.js";
import { createLinkedInAdapter, linkedinHosts } from "./linkedin.js";
import { createPinterestAdapter, pinterestConnection, pinterestHosts } from "./pinterest.js";
import { createRedditAdapter, redditConnection, redditHosts } from "./reddit.js";
import { createThreadsAdapter, threadsConnection, threadsHosts } from "./threads.js";
import { createTikTokAdapter, tiktokConnection, tiktokHosts } from "./tiktok.js";
import { createTwitterAdapter, twitterConnection, twitterHosts } from "./twitter.js";
import { createYouTubeAdapter, youtubeConnection, youtubeHosts } from "./youtube.js";
import type { BaseUrls, ConnectionTraits, PlatformAdapter } from "./types.js";

/**
 * The platform registry: one entry per network the catalog marks publishable, typed as complete over them, so a
 * network without an adapter (or an adapter for a network the catalog does not publish to) is a compile error. Adding
 * a network is its adapter module plus one entry here.
 *
 * Each entry names the adapter, the network's real hosts, the environment variables holding its OAuth client, its
 * options from the environment, and what the API says about its stored connections. Adapters talk to the real hosts
 * with the environment's client, unless the home configured otherwise: the local home hands `configurePlatforms` its
 * sandbox's base URLs, registered clients and audit flags (src/local/platforms.ts). Nothing here asks which home it
 * is in.
 */

interface NetworkEntry<C> {
  create(config: C): PlatformAdapter;
  /** The network's real hosts (every base URL its adapter uses). */
  hosts: BaseUrls;
  /** The environment variables holding the OAuth client id and secret; absent for networks without an OAuth client. */
  credentials?: readonly [keyof Env, keyof Env];
  /** The network's own options from the environment (audit status, User-Agent…). */
  options?(e: Env): Partial<C>;
  connection: ConnectionTraits;
}

/** One entry: the adapter, its real hosts, its connection traits, and (for OAuth networks) its client and options. */
const network = <C>(
  create: (config: C) => PlatformAdapter,
  hosts: BaseUrls,
  connection: ConnectionTraits,
  more: Pick<NetworkEntry<C>, "credentials" | "options"> = {},
): NetworkEntry<C> => ({ create, hosts, connection, ...more });
const list = (value: string | undefined) => (value ?? "").split(",").map((p) => p.trim()).filter(Boolean);

const networks = {
  twitter: network(createTwitterAdapter, twitterHosts, twitterConnection, { credentials: ["TWITTER_CLIENT_ID", "TWITTER_CLIENT_SECRET"] }),
  linkedin: network(createLinkedInAdapter, linkedinHosts, {}, { credentials: ["LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"] }),
  instagram: network(createInstagramAdapter, instagramHosts, instagramConnection, {
    credentials: ["INSTAGRAM_CLIENT_ID", "INSTAGRAM_CLIENT_SECRET"],
  }),
  facebook: network(createFacebookAdapter, facebookHosts, facebookConnection, { credentials: ["FACEBOOK_CLIENT_ID", "FACEBOOK_CLIENT_SECRET"] }),
  threads: network(createThreadsAdapter, threadsHosts, threadsConnection, { credentials: ["THREADS_CLIENT_ID", "THREADS_CLIENT_SECRET"] }),
  tiktok: network(createTikTokAdapter, tiktokHosts, tiktokConnection, {
    credentials: ["TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"],
    options: (e) => ({ appAudited: e.TIKTOK_APP_AUDITED ?? false, pullFromUrlPrefixes: list(e.TIKTOK_PULL_FROM_URL_PREFIXES) }),
  }),
  youtube: network(createYouTubeAdapter, youtubeHosts, youtubeConnection, {
    credentials: ["YOUTUBE_CLIENT_ID", "YOUTUBE_CLIENT_SECRET"],
    options: (e) => ({ projectAudited: e.YOUTUBE_PROJECT_AUDITED ?? false }),
  }),
  pinterest: network(createPinterestAdapter, pinterestHosts, pinterestConnection, { credentials: ["PINTEREST_APP_ID", "PINTEREST_APP_SECRET"] }),
  reddit: network(createRedditAdapter, redditHosts, redditConnection, {
    credentials: ["REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"],
    options: (e) => (e.REDDIT_USER_AGENT ? { userAgent: e.REDDIT_USER_AGENT } : {}),
  }),
  // Users sign in with an app password: there is no OAuth client, so nothing can be missing.
  bluesky: network(createBlueskyAdapter, blueskyHosts, blueskyConnection),
} satisfies Record<PublishablePlatform, { create(config: never): PlatformAdapter; hosts: BaseUrls; connection: ConnectionTraits }>;

/** The configuration each network's adapter takes (its base URLs, client and own options). */
export type AdapterConfigOf<P extends PublishablePlatform> = Parameters<(typeof networks)[P]["create"]>[0];

/** What a home sets for some networks instead of the real hosts and the environment's clients (the local home's sandbox). */
export type PlatformOverrides = { [P in PublishablePlatform]?: Partial<AdapterConfigOf<P>> };

/** Every network's real hosts. */
export const platformHosts: Record<PublishablePlatform, BaseUrls> = Object.fromEntries(
  Object.entries(networks).map(([platform, entry]) => [platform, entry.hosts]),
) as Record<PublishablePlatform, BaseUrls>;

let configured: PlatformOverrides | undefined;

/**
 * Sets what this process's home configures for its adapters (the local home: its sandbox); `undefined` restores the
 * real hosts and the environment's clients. Adapters built before are rebuilt on next use.
 */
export function configurePlatforms(overrides: PlatformOverrides | undefined): void {
  configured = overrides;
  built = undefined;
}

/**
 * Where the adapter for `platform` finds its network and who it is there: the real hosts, the client and options from
 * the environment, and over them whatever the home configured (`null`: nothing). Throws AppError("service_unavailable") when no client
 * is known for a network that needs one.
 */
export function adapterConfig<P extends PublishablePlatform>(
  platform: P,
  e: Env = env(),
  overrides: PlatformOverrides | null = configured ?? null,
): AdapterConfigOf<P> {
  const entry = networks[platform] as NetworkEntry<Record<string, unknown>>;
  const fromEnv: Record<string, unknown> = {};
  if (entry.credentials) {
    const [id, secret] = entry.credentials;
    if (e[id] !== undefined) fromEnv.clientId = e[id];
    if (e[secret] !== undefined) fromEnv.clientSecret = e[secret];
  }
  const config: Record<string, unknown> = { ...entry.hosts, ...fromEnv, ...entry.options?.(e), ...overrides?.[platform] };
  if (entry.credentials && (!config.clientId || !config.clientSecret)) {
    log.error("platform not configured", { platform, missing: entry.credentials.join(", ") });
    throw new AppError("service_unavailable", `${catalog[platform].displayName} is not configured on this server`);
  }
  return config as AdapterConfigOf<P>;
}

export interface PlatformRegistry {
  /**
   * The adapter for a network, built on first use. Throws AppError("bad_request") for a network the catalog does not
   * publish to, and AppError("service_unavailable") when the server lacks that network's client credentials.
   */
  get(platform: Platform): PlatformAdapter;
}

/** A registry for one parsed environment (and the home's configuration at the time). */
export function createPlatformRegistry(e: Env, overrides: PlatformOverrides | null = configured ?? null): PlatformRegistry {
  const adapters = new Map<PublishablePlatform, PlatformAdapter>();
  return {
    get(platform) {
      if (!isPublishable(platform)) {
        throw new AppError("bad_request", `Publishing to ${catalog[platform]?.displayName ?? platform} is not available yet`);
      }
      let adapter = adapters.get(platform);
      if (!adapter) {
        adapter = build(platform, adapterConfig(platform, e, overrides));
        adapters.set(platform, adapter);
      }
      return adapter;
    },
  };
}

function build<P extends PublishablePlatform>(platform: P, config: AdapterConfigOf<P>): PlatformAdapter {
  return (networks[platform].create as (config: AdapterConfigOf<P>) => PlatformAdapter)(config);
}

let built: { for: Env; registry: PlatformRegistry } | undefined;

/** The adapter for a network, from the registry of the current environment (rebuilt when the environment is reset). */
export function getAdapter(platform: Platform): PlatformAdapter {
  const e = env();
  if (built?.for !== e) built = { for: e, registry: createPlatformRegistry(e) };
  return built.registry.get(platform);
}

/** What the API says about a stored connection of `platform` without calling the network (no credentials needed). */
export function connectionTraits(platform: string): ConnectionTraits {
  return Object.hasOwn(networks, platform) ? networks[platform as PublishablePlatform].connection : {};
}
