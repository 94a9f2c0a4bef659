import { describe, expect, it } from "vitest";
import type { Env } from "../src/core/env.js";
import { AppError } from "../src/core/errors.js";
import { platformIds } from "../src/platforms/catalog.js";
import { adapterConfig, getAdapter, implementedPlatforms, isImplemented } from "../src/platforms/registry.js";
import { sandboxClients } from "../src/sandbox/clients.js";

/** The registry decides, from the environment alone, whether adapters talk to the real networks or the sandbox. */

const environment = (values: Partial<Env>) => values as Env;

describe("platform registry", () => {
  it("points every adapter at its sandbox, with the sandbox's registered client, when PLATFORM_SANDBOX_URL is set", () => {
    const e = environment({ PLATFORM_SANDBOX_URL: "http://localhost:8888/sandbox", TWITTER_CLIENT_ID: "real-id", TWITTER_CLIENT_SECRET: "real" });
    expect(adapterConfig("twitter", e)).toEqual({
      apiBaseUrl: "http://localhost:8888/sandbox/twitter",
      authBaseUrl: "http://localhost:8888/sandbox/twitter",
      ...sandboxClients.twitter,
    });
    expect(adapterConfig("linkedin", e)).toMatchObject({ apiBaseUrl: "http://localhost:8888/sandbox/linkedin", ...sandboxClients.linkedin });
  });

  it("uses the real hosts and the environment's client credentials otherwise", () => {
    const e = environment({
      TWITTER_CLIENT_ID: "tw-id",
      TWITTER_CLIENT_SECRET: "tw-secret",
      LINKEDIN_CLIENT_ID: "li-id",
      LINKEDIN_CLIENT_SECRET: "li-secret",
    });
    expect(adapterConfig("twitter", e)).toEqual({ apiBaseUrl: "https://api.x.com", authBaseUrl: "https://x.com", clientId: "tw-id", clientSecret: "tw-secret" });
    expect(adapterConfig("linkedin", e)).toEqual({
      apiBaseUrl: "https://api.linkedin.com",
      authBaseUrl: "https://www.linkedin.com",
      clientId: "li-id",
      clientSecret: "li-secret",
    });
  });

  it("a network without client credentials is a clear configuration error", () => {
    const attempt = () => adapterConfig("linkedin", environment({ LINKEDIN_CLIENT_ID: "only-the-id" }));
    expect(attempt).toThrow(AppError);
    expect(attempt).toThrow("LinkedIn is not configured on this server");
  });

  it("a network without an adapter yet is a bad request", () => {
    for (const platform of platformIds.filter((p) => !isImplemented(p))) {
      const error = (() => {
        try {
          getAdapter(platform);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe("bad_request");
    }
    // Every network has an adapter except Snapchat, which has no publishing API for third parties.
    expect([...implementedPlatforms].sort()).toEqual(platformIds.filter((p) => p !== "snapchat").sort());
  });
});
