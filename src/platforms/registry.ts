import { env, type Env } from "../core/env.js";
import { AppError } from "../core/errors.js";
import { log } from "../core/log.js";
import { sandboxClients } from "../sandbox/clients.js";
import { catalog, type Platform } from "./catalog.js";
import { createFacebookAdapter, facebookHosts } from "./facebook.js";
import { createInstagramAdapter, instagramHosts } from "./instagram.js";
import { createLinkedInAdapter, linkedinHosts } from "./linkedin.js";
import { createThreadsAdapter, threadsHosts } from "./threads.js";
import { createTwitterAdapter, twitterHosts } from "./twitter.js";
import { createTikTokAdapter, tiktokHosts, tiktokOptionsFromEnv } from "./tiktok.js";
import { createYouTubeAdapter, youtubeHosts, youtubeOptionsFromEnv } from "./youtube.js";
import { blueskyHosts, createBlueskyAdapter } from "./bluesky.js";
import { createPinterestAdapter, pinterestHosts } from "./pinterest.js";
import { createRedditAdapter, redditHosts } from "./reddit.js";
import type { AdapterConfig, PlatformAdapter } from "./types.js";

/**
 * The platform registry: one adapter per network, built once per parsed environment. With PLATFORM_SANDBOX_URL set
 * (the local home, tests, test mode) every adapter talks to `${PLATFORM_SANDBOX_URL}/<platform>` for both its API and
 * its consent page, with the sandbox's registered client; otherwise to the real hosts with the client credentials from
 * the environment. Feature code asks `getAdapter(platform)` and never knows which.
 */

interface AdapterFactory {
  create(config: AdapterConfig): PlatformAdapter;
  hosts: { apiBaseUrl: string; authBaseUrl: string };
  /** The env variables holding the network's OAuth client. */
  credentials(e: Env): { clientId: string | undefined; clientSecret: string | undefined; names: string };
}

// Issue 6 completes this to `satisfies Record<Platform, AdapterFactory>`, so that a network without an adapter is a
// compile error; until then the networks below are the ones implemented.
const factories = {
  twitter: {
    create: createTwitterAdapter,
    hosts: twitterHosts,
    credentials: (e) => ({ clientId: e.TWITTER_CLIENT_ID, clientSecret: e.TWITTER_CLIENT_SECRET, names: "TWITTER_CLIENT_ID, TWITTER_CLIENT_SECRET" }),
  },
  linkedin: {
    create: createLinkedInAdapter,
    hosts: linkedinHosts,
    credentials: (e) => ({ clientId: e.LINKEDIN_CLIENT_ID, clientSecret: e.LINKEDIN_CLIENT_SECRET, names: "LINKEDIN_CLIENT_ID, LINKEDIN_CLIENT_SECRET" }),
  },
  instagram: {
    // instagramHosts also carries the code-exchange host (`tokenBaseUrl`), which the spread in adapterConfig passes on.
    create: createInstagramAdapter,
    hosts: instagramHosts,
    credentials: (e) => ({ clientId: e.INSTAGRAM_CLIENT_ID, clientSecret: e.INSTAGRAM_CLIENT_SECRET, names: "INSTAGRAM_CLIENT_ID, INSTAGRAM_CLIENT_SECRET" }),
  },
  facebook: {
    create: createFacebookAdapter,
    hosts: facebookHosts,
    credentials: (e) => ({ clientId: e.FACEBOOK_CLIENT_ID, clientSecret: e.FACEBOOK_CLIENT_SECRET, names: "FACEBOOK_CLIENT_ID, FACEBOOK_CLIENT_SECRET" }),
  },
  threads: {
    create: createThreadsAdapter,
    hosts: threadsHosts,
    credentials: (e) => ({ clientId: e.THREADS_CLIENT_ID, clientSecret: e.THREADS_CLIENT_SECRET, names: "THREADS_CLIENT_ID, THREADS_CLIENT_SECRET" }),
  },
  tiktok: {
    // App audit status and verified pull-from-URL prefixes come from the environment (sandbox: an audited app).
    create: (config) => createTikTokAdapter(config, tiktokOptionsFromEnv(env())),
    hosts: tiktokHosts,
    credentials: (e) => ({ clientId: e.TIKTOK_CLIENT_KEY, clientSecret: e.TIKTOK_CLIENT_SECRET, names: "TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET" }),
  },
  youtube: {
    // youtubeHosts also carries Google's token host (`tokenBaseUrl`), which the spread in adapterConfig passes on.
    create: (config) => createYouTubeAdapter({ ...config, ...youtubeOptionsFromEnv(env()) }),
    hosts: youtubeHosts,
    credentials: (e) => ({ clientId: e.YOUTUBE_CLIENT_ID, clientSecret: e.YOUTUBE_CLIENT_SECRET, names: "YOUTUBE_CLIENT_ID, YOUTUBE_CLIENT_SECRET" }),
  },
  pinterest: {
    create: createPinterestAdapter,
    hosts: pinterestHosts,
    credentials: (e) => ({ clientId: e.PINTEREST_APP_ID, clientSecret: e.PINTEREST_APP_SECRET, names: "PINTEREST_APP_ID, PINTEREST_APP_SECRET" }),
  },
  reddit: {
    // Reddit requires a descriptive User-Agent naming the app and its developer (REDDIT_USER_AGENT).
    create: (config) => createRedditAdapter({ ...config, userAgent: env().REDDIT_USER_AGENT }),
    hosts: redditHosts,
    credentials: (e) => ({ clientId: e.REDDIT_CLIENT_ID, clientSecret: e.REDDIT_CLIENT_SECRET, names: "REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET" }),
  },
  bluesky: {
    // Users sign in with an app password: there is no OAuth client to configure, so nothing can be missing.
    create: createBlueskyAdapter,
    hosts: blueskyHosts,
    credentials: () => ({ clientId: "bluesky", clientSecret: "none", names: "" }),
  },
} satisfies Partial<Record<Platform, AdapterFactory>>;

export type ImplementedPlatform = keyof typeof factories;
export const implementedPlatforms = Object.keys(factories) as ImplementedPlatform[];

export function isImplemented(platform: Platform): platform is ImplementedPlatform {
  return Object.hasOwn(factories, platform);
}

/** Where the adapter for `platform` finds its network and who it is there, from the environment. */
export function adapterConfig(platform: ImplementedPlatform, e: Env = env()): AdapterConfig {
  const factory: AdapterFactory = factories[platform];
  if (e.PLATFORM_SANDBOX_URL) {
    // The sandbox knows only its own registered clients, so real credentials in the environment are not used here.
    const base = `${e.PLATFORM_SANDBOX_URL.replace(/\/$/, "")}/${platform}`;
    return { apiBaseUrl: base, authBaseUrl: base, ...sandboxClients[platform] };
  }
  const { clientId, clientSecret, names } = factory.credentials(e);
  if (!clientId || !clientSecret) {
    log.error("platform not configured", { platform, missing: names });
    throw new AppError("service_unavailable", `${catalog[platform].displayName} is not configured on this server`);
  }
  return { ...factory.hosts, clientId, clientSecret };
}

let built: { for: Env; adapters: Partial<Record<ImplementedPlatform, PlatformAdapter>> } | undefined;

/**
 * The adapter for a network. Throws AppError("bad_request") for a network without an adapter yet, and
 * AppError("service_unavailable") when the server lacks that network's client credentials.
 */
export function getAdapter(platform: Platform): PlatformAdapter {
  if (!isImplemented(platform)) {
    throw new AppError("bad_request", `Publishing to ${catalog[platform]?.displayName ?? platform} is not available yet`);
  }
  const e = env();
  // A new parsed environment (the local home resets it at start) gets new adapters.
  if (built?.for !== e) built = { for: e, adapters: {} };
  const adapter = built.adapters[platform] ?? factories[platform].create(adapterConfig(platform, e));
  built.adapters[platform] = adapter;
  return adapter;
}

/** Every implemented adapter at once (throws if any network lacks its configuration). */
export function platformAdapters(): Record<ImplementedPlatform, PlatformAdapter> {
  return Object.fromEntries(implementedPlatforms.map((p) => [p, getAdapter(p)])) as Record<ImplementedPlatform, PlatformAdapter>;
}
