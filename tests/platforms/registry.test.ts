import { describe, expect, expectTypeOf, it } from "vitest";
import type { Env } from "../../src/core/env.js";
import { AppError } from "../../src/core/errors.js";
import { sandboxPlatformConfig } from "../../src/local/platforms.js";
import { platformIds, publishablePlatforms, type Platform, type PublishablePlatform } from "../../src/platforms/catalog.js";
import { adapterConfig, connectionTraits, createPlatformRegistry, platformHosts, signsIn } from "../../src/platforms/registry.js";
import { sandboxClients } from "../../src/sandbox/clients.js";
import * as twitter from "../../src/platforms/twitter.js";
import * as linkedin from "../../src/platforms/linkedin.js";
import * as instagram from "../../src/platforms/instagram.js";
import * as facebook from "../../src/platforms/facebook.js";
import * as threads from "../../src/platforms/threads.js";
import * as tiktok from "../../src/platforms/tiktok.js";
import * as youtube from "../../src/platforms/youtube.js";
import * as pinterest from "../../src/platforms/pinterest.js";
import * as reddit from "../../src/platforms/reddit.js";
import * as bluesky from "../../src/platforms/bluesky.js";

/**
 * The registry builds each adapter from the environment (real hosts, the environment's client) and whatever the home
 * configured over it: the local home's configuration points every adapter at its sandbox. The registry covers exactly
 * the networks the catalog marks publishable (its type makes a missing adapter a compile error; this checks the data).
 */

const environment = (values: Partial<Env>) => values as Env;
const adapterModules: Record<PublishablePlatform, object> = { twitter, linkedin, instagram, facebook, threads, tiktok, youtube, pinterest, reddit, bluesky };
const sandbox = sandboxPlatformConfig("http://localhost:8888/sandbox", "http://localhost:8888/storage/v1/object/public/");

describe("platform registry", () => {
  it("the local home's configuration points every adapter at its sandbox, with the sandbox's registered client", () => {
    const e = environment({ TWITTER_CLIENT_ID: "real-id", TWITTER_CLIENT_SECRET: "real" });
    expect(adapterConfig("twitter", e, sandbox)).toEqual({
      apiBaseUrl: "http://localhost:8888/sandbox/twitter",
      authBaseUrl: "http://localhost:8888/sandbox/twitter",
      tokenBaseUrl: "http://localhost:8888/sandbox/twitter",
      ...sandboxClients.twitter,
      // The local home's adapters read the home's clock, which tests move to take tokens through their expiry.
      now: expect.any(Function),
    });
    expect(adapterConfig("linkedin", e, sandbox)).toMatchObject({ apiBaseUrl: "http://localhost:8888/sandbox/linkedin", ...sandboxClients.linkedin });
    // No host of any network is left pointing at the real network.
    for (const platform of publishablePlatforms) {
      const config = adapterConfig(platform, environment({}), sandbox) as unknown as Record<string, unknown>;
      for (const key of Object.keys(platformHosts[platform])) expect(config[key], `${platform}.${key}`).toBe(`http://localhost:8888/sandbox/${platform}`);
    }
  });

  it("uses the real hosts and the environment's client credentials otherwise", () => {
    const e = environment({
      TWITTER_CLIENT_ID: "tw-id",
      TWITTER_CLIENT_SECRET: "tw-secret",
      LINKEDIN_CLIENT_ID: "li-id",
      LINKEDIN_CLIENT_SECRET: "li-secret",
    });
    expect(adapterConfig("twitter", e, null)).toEqual({ apiBaseUrl: "https://api.x.com", authBaseUrl: "https://x.com", clientId: "tw-id", clientSecret: "tw-secret" });
    expect(adapterConfig("linkedin", e, null)).toEqual({
      apiBaseUrl: "https://api.linkedin.com",
      authBaseUrl: "https://www.linkedin.com",
      clientId: "li-id",
      clientSecret: "li-secret",
    });
  });

  it("a network without client credentials is a clear configuration error", () => {
    const attempt = () => adapterConfig("linkedin", environment({ LINKEDIN_CLIENT_ID: "only-the-id" }), null);
    expect(attempt).toThrow(AppError);
    expect(attempt).toThrow("LinkedIn is not configured on this server");
  });

  it("has an adapter for every network the catalog marks publishable, and refuses the others as a bad request", async () => {
    // Every network is publishable except Snapchat, which has no publishing API for third parties. The type is derived
    // from the catalog, and the registry is typed complete over it (checked by tsc: `satisfies Record<PublishablePlatform, …>`).
    expectTypeOf<PublishablePlatform>().toEqualTypeOf<Exclude<Platform, "snapchat">>();
    expect([...publishablePlatforms].sort()).toEqual(platformIds.filter((p) => p !== "snapchat").sort());
    expect(Object.keys(platformHosts).sort()).toEqual([...publishablePlatforms].sort());
    const registry = createPlatformRegistry(environment({}), sandbox);
    for (const platform of publishablePlatforms) {
      const adapter = await registry.get(platform);
      expect(adapter.platform).toBe(platform);
      // Loaded once, then the same adapter.
      expect(await registry.get(platform)).toBe(adapter);
    }
    for (const platform of platformIds.filter((p) => !publishablePlatforms.includes(p as never))) {
      const error = await registry.get(platform).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe("bad_request");
    }
  });

  it("answers what it knows without loading an adapter as the adapters themselves would", async () => {
    // `signsIn` and the connection traits come from static tables (src/platforms/facts.ts) so a function can answer
    // them without importing the network's module; they must agree with the adapter modules.
    const registry = createPlatformRegistry(environment({}), sandbox);
    for (const platform of publishablePlatforms) {
      const adapter = await registry.get(platform);
      expect(signsIn(platform), platform).toBe(typeof adapter.signIn === "function");
      const module = adapterModules[platform] as Record<string, unknown>;
      const traits = Object.entries(module).find(([name]) => name.endsWith("Connection"))?.[1];
      if (traits) expect(connectionTraits(platform), platform).toBe(traits);
      const hosts = Object.entries(module).find(([name]) => name.endsWith("Hosts"))?.[1];
      expect(platformHosts[platform], platform).toBe(hosts);
    }
    expect(signsIn("snapchat")).toBe(false);
    expect(connectionTraits("snapchat")).toEqual({});
  });
});
