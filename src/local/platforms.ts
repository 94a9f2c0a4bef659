import { services } from "../core/services.js";
import { publishablePlatforms } from "../platforms/catalog.js";
import { platformHosts, type PlatformOverrides } from "../platforms/registry.js";
import { sandboxClients } from "../sandbox/clients.js";

/**
 * What the local home configures for the platform adapters: every network's hosts (API, consent, token) become its
 * sandbox at `<sandboxUrl>/<platform>`, which serves them all at the same paths as the real hosts, with the client
 * registered there (real credentials in the environment are not used: the sandbox knows only its own clients). The
 * sandbox's TikTok client is an audited app that has verified the home's public storage path (where uploaded media is
 * served), as a real deployment verifies its own; its Google client belongs to a project YouTube has not audited.
 * The adapters read "now" from the home's clock (a test's manual clock), so the token expiries they compute from
 * `expires_in` are on the same clock as the handlers and jobs that compare them.
 */
export function sandboxPlatformConfig(sandboxUrl: string, publicStorageUrl: string): PlatformOverrides {
  const config: Record<string, Record<string, unknown>> = {};
  for (const platform of publishablePlatforms) {
    const base = `${sandboxUrl.replace(/\/$/, "")}/${platform}`;
    const hosts = Object.fromEntries(Object.keys(platformHosts[platform]).map((key) => [key, base]));
    config[platform] = { ...hosts, tokenBaseUrl: base, now: () => services().clock.now(), ...(platform === "bluesky" ? {} : sandboxClients[platform]) };
  }
  const overrides = config as PlatformOverrides;
  overrides.tiktok = { ...overrides.tiktok, appAudited: true, pullFromUrlPrefixes: [publicStorageUrl] };
  overrides.youtube = { ...overrides.youtube, projectAudited: false };
  return overrides;
}
