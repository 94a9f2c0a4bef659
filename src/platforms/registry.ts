import { env, type Env } from "../core/env.js";
import { AppError } from "../core/errors.js";
import { log } from "../core/log.js";
import { catalog, isPublishable, type Platform, type PublishablePlatform } from "./catalog.js";
import {
  blueskyConnection,
  blueskyHosts,
  facebookConnection,
  facebookHosts,
  instagramConnection,
  instagramHosts,
  linkedinHosts,
  pinterestConnection,
  pinterestHosts,
  redditConnection,
  redditHosts,
  threadsConnection,
  threadsHosts,
  tiktokConnection,
  tiktokHosts,
  twitterConnection,
  twitterHosts,
  youtubeConnection,
  youtubeHosts,
} from "./facts.js";
import type { BaseUrls, ConnectionTraits, PlatformAdapter } from "./types.js";

/**
 * The platform registry: one entry per network the catalog marks publishable, typed as complete over them, so a
 * network without an adapter (or an adapter for a network the catalog does not publish to) is a compile error. Adding
 * a network is its adapter module, its static facts (src/platforms/facts.ts) and one entry here.
 *
 * Each entry names how to load the adapter, the network's real hosts, the environment variables holding its OAuth
 * client, its options from the environment, what the API says about its stored connections, and the static
 * capabilities callers ask about before choosing a path (sign-in with credentials). Adapters talk to the real hosts
 * with the environment's client, unless the home configured otherwise: the local home hands `configurePlatforms` its
 * sandbox's base URLs, registered clients and audit flags (src/local/platforms.ts). Nothing here asks which home it
 * is in.
 *
 * An adapter module is imported on first use (`await registry.get(platform)`, a dynamic import cached by the module
 * system and the registry): a function loads only the networks it calls, never the ten at start. The bundler puts each
 * adapter in a chunk of its own (scripts/bundle-functions.ts). Whatever can be answered without the adapter (hosts,
 * connection traits, `signsIn`) is answered from the static entries.
 */

interface NetworkEntry<C> {
  /** The adapter's constructor, its module imported on first use. */
  load(): Promise<(config: C) => PlatformAdapter>;
  /** The network's real hosts (every base URL its adapter uses). */
  hosts: BaseUrls;
  /** The environment variables holding the OAuth client id and secret; absent for networks without an OAuth client. */
  credentials?: readonly [keyof Env, keyof Env];
  /** The network's own options from the environment (audit status, User-Agent…). */
  options?(e: Env): Partial<C>;
  connection: ConnectionTraits;
  /** The adapter implements `signIn` (credentials instead of a consent page). */
  signIn?: boolean;
}

/** One entry: the adapter's loader, its real hosts, its connection traits, and (for OAuth networks) its client and options. */
const network = <C>(
  load: () => Promise<(config: C) => PlatformAdapter>,
  hosts: BaseUrls,
  connection: ConnectionTraits,
  more: Pick<NetworkEntry<C>, "credentials" | "options" | "signIn"> = {},
): NetworkEntry<C> => ({ load, hosts, connection, ...more });
/**
 * How much of a video an adapter holds and sends per attempt when it re-uploads one (src/media/transfer.ts); left out
 * (the adapter's defaults) for an environment without the settings, as tests build it.
 */
const withTransfer = (e: Env) =>
  e.MEDIA_MEMORY_BUDGET_BYTES && e.MEDIA_UPLOAD_SLICE_BYTES
    ? { transfer: { memoryBudgetBytes: e.MEDIA_MEMORY_BUDGET_BYTES, sliceBytes: e.MEDIA_UPLOAD_SLICE_BYTES } }
    : {};
const list = (value: string | undefined) => (value ?? "").split(",").map((p) => p.trim()).filter(Boolean);

// Each `import()` names its module literally, so the bundler sees it and splits it into a chunk of its own. (Typed
// here, outside `networks`, so each network's configuration type is inferred from its adapter.)
const loaders = {
  twitter: () => import("./twitter.js").then((m) => m.createTwitterAdapter),
  linkedin: () => import("./linkedin.js").then((m) => m.createLinkedInAdapter),
  instagram: () => import("./instagram.js").then((m) => m.createInstagramAdapter),
  facebook: () => import("./facebook.js").then((m) => m.createFacebookAdapter),
  threads: () => import("./threads.js").then((m) => m.createThreadsAdapter),
  tiktok: () => import("./tiktok.js").then((m) => m.createTikTokAdapter),
  youtube: () => import("./youtube.js").then((m) => m.createYouTubeAdapter),
  pinterest: () => import("./pinterest.js").then((m) => m.createPinterestAdapter),
  reddit: () => import("./reddit.js").then((m) => m.createRedditAdapter),
  bluesky: () => import("./bluesky.js").then((m) => m.createBlueskyAdapter),
};

const networks = {
  twitter: network(loaders.twitter, twitterHosts, twitterConnection, {
    credentials: ["TWITTER_CLIENT_ID", "TWITTER_CLIENT_SECRET"],
  }),
  linkedin: network(loaders.linkedin, linkedinHosts, {}, {
    credentials: ["LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"],
  }),
  instagram: network(loaders.instagram, instagramHosts, instagramConnection, {
    credentials: ["INSTAGRAM_CLIENT_ID", "INSTAGRAM_CLIENT_SECRET"],
  }),
  facebook: network(loaders.facebook, facebookHosts, facebookConnection, {
    credentials: ["FACEBOOK_CLIENT_ID", "FACEBOOK_CLIENT_SECRET"],
    options: (e) => (e.FACEBOOK_LOGIN_CONFIG_ID ? { configId: e.FACEBOOK_LOGIN_CONFIG_ID } : {}),
  }),
  threads: network(loaders.threads, threadsHosts, threadsConnection, {
    credentials: ["THREADS_CLIENT_ID", "THREADS_CLIENT_SECRET"],
  }),
  tiktok: network(loaders.tiktok, tiktokHosts, tiktokConnection, {
    credentials: ["TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"],
    options: (e) => ({ appAudited: e.TIKTOK_APP_AUDITED ?? false, pullFromUrlPrefixes: list(e.TIKTOK_PULL_FROM_URL_PREFIXES), ...withTransfer(e) }),
  }),
  youtube: network(loaders.youtube, youtubeHosts, youtubeConnection, {
    credentials: ["YOUTUBE_CLIENT_ID", "YOUTUBE_CLIENT_SECRET"],
    options: (e) => ({ projectAudited: e.YOUTUBE_PROJECT_AUDITED ?? false, ...withTransfer(e) }),
  }),
  pinterest: network(loaders.pinterest, pinterestHosts, pinterestConnection, {
    credentials: ["PINTEREST_APP_ID", "PINTEREST_APP_SECRET"],
  }),
  reddit: network(loaders.reddit, redditHosts, redditConnection, {
    credentials: ["REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"],
    options: (e) => (e.REDDIT_USER_AGENT ? { userAgent: e.REDDIT_USER_AGENT } : {}),
  }),
  // Users sign in with an app password: there is no OAuth client, so nothing can be missing.
  bluesky: network(loaders.bluesky, blueskyHosts, blueskyConnection, { signIn: true }),
} satisfies Record<PublishablePlatform, { load(): Promise<(config: never) => PlatformAdapter>; hosts: BaseUrls; connection: ConnectionTraits }>;

/** The configuration each network's adapter takes (its base URLs, client and own options). */
export type AdapterConfigOf<P extends PublishablePlatform> = Parameters<Awaited<ReturnType<(typeof networks)[P]["load"]>>>[0];

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
   * The adapter for a network, its module loaded and the adapter built on first use (then cached). Rejects with
   * AppError("bad_request") for a network the catalog does not publish to, and AppError("service_unavailable") when
   * the server lacks that network's client credentials.
   */
  get(platform: Platform): Promise<PlatformAdapter>;
}

/** Throws AppError("bad_request") unless the catalog publishes to `platform`. */
function publishableOrThrow(platform: Platform): PublishablePlatform {
  if (!isPublishable(platform)) {
    throw new AppError("bad_request", `Publishing to ${catalog[platform]?.displayName ?? platform} is not available yet`);
  }
  return platform;
}

/** A registry for one parsed environment (and the home's configuration at the time). */
export function createPlatformRegistry(e: Env, overrides: PlatformOverrides | null = configured ?? null): PlatformRegistry {
  const adapters = new Map<PublishablePlatform, Promise<PlatformAdapter>>();
  return {
    async get(platform) {
      const p = publishableOrThrow(platform);
      let adapter = adapters.get(p);
      if (!adapter) {
        // The configuration is checked before the module loads: a missing client fails without importing anything.
        const config = adapterConfig(p, e, overrides);
        const pending = build(p, config);
        adapter = pending;
        adapters.set(p, pending);
        pending.catch(() => {
          if (adapters.get(p) === pending) adapters.delete(p);
        });
      }
      return adapter;
    },
  };
}

async function build<P extends PublishablePlatform>(platform: P, config: AdapterConfigOf<P>): Promise<PlatformAdapter> {
  const create = await (networks[platform] as NetworkEntry<AdapterConfigOf<P>>).load();
  return create(config);
}

let built: { for: Env; registry: PlatformRegistry } | undefined;

/** The adapter for a network, from the registry of the current environment (rebuilt when the environment is reset). */
export function getAdapter(platform: Platform): Promise<PlatformAdapter> {
  const e = env();
  if (built?.for !== e) built = { for: e, registry: createPlatformRegistry(e) };
  return built.registry.get(platform);
}

/** What the API says about a stored connection of `platform` without calling the network (no credentials needed). */
export function connectionTraits(platform: string): ConnectionTraits {
  return Object.hasOwn(networks, platform) ? networks[platform as PublishablePlatform].connection : {};
}

/**
 * Whether the network's adapter signs users in with credentials (`signIn`) rather than a consent page, answered
 * without loading the adapter. Checked against the adapter itself by tests/platforms/registry.test.ts.
 */
export function signsIn(platform: string): boolean {
  return Object.hasOwn(networks, platform) && networks[platform as PublishablePlatform].signIn === true;
}
