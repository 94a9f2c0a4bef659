import { describe, expect, it } from "vitest";
import { AppError } from "../../src/core/errors.js";
import { resolvePolicies } from "../../src/core/ratelimit/policies.js";
import { services } from "../../src/core/services.js";
import { useTestHome } from "../helpers/home.js";
import { apiRequestLimitThroughTheFrontDoor, FRONT_DOOR_OVERRIDES } from "./front-door-suite.js";

const enforceRateLimit = (name: "posts" | "media_uploads", identifier: string) => services().limiter.enforce(name, identifier);
const rateLimitPolicy = (name: "api_requests" | "posts") => services().limiter.policy(name);

/**
 * The per-key API request limit through the front door, on the local home's in-process limiter (RATE_LIMIT_STORE=memory,
 * which the home sets), with a small limit configured the way a local demo would: RATE_LIMIT_OVERRIDES.
 */
const t = useTestHome({ env: { RATE_LIMIT_OVERRIDES: FRONT_DOOR_OVERRIDES } });

apiRequestLimitThroughTheFrontDoor(t, "in-process");

describe("rate limit policies for features", () => {
  it("the limiter counts a named policy per identifier and throws the 429 with its headers", async () => {
    const profileId = crypto.randomUUID();
    expect(await enforceRateLimit("posts", profileId)).toMatchObject({ success: true, limit: 2, remaining: 1 });
    expect(await enforceRateLimit("posts", profileId)).toMatchObject({ success: true, remaining: 0 });
    const error = await enforceRateLimit("posts", profileId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: "rate_limited", status: 429 });
    expect((error as AppError).message).toMatch(/^Rate limit exceeded: 2 posts per 1 hour per profile\./);
    expect((error as AppError).headers).toMatchObject({ "x-ratelimit-limit": "2", "x-ratelimit-remaining": "0", "retry-after": expect.any(String) });
    expect(await enforceRateLimit("media_uploads", profileId)).toMatchObject({ success: true, limit: 50, remaining: 49 });
  });

  it("holds the contract's limits, and overrides only what RATE_LIMIT_OVERRIDES names", () => {
    const table = resolvePolicies(undefined);
    expect([table.api_requests, table.posts, table.media_uploads].map((p) => [p.name, p.limit, p.windowMs])).toEqual([
      ["api_requests", 1000, 3_600_000],
      ["posts", 100, 3_600_000],
      ["media_uploads", 50, 3_600_000],
    ]);
    expect(rateLimitPolicy("api_requests")).toMatchObject({ limit: 5, windowMs: 2_000 });
    expect(rateLimitPolicy("posts")).toMatchObject({ limit: 2, windowMs: 3_600_000 });
    expect(resolvePolicies("media_uploads=7").media_uploads).toMatchObject({ limit: 7, windowMs: 3_600_000 });
    expect(() => resolvePolicies("uploads=5/1m")).toThrow(/RATE_LIMIT_OVERRIDES entry 'uploads=5\/1m'/);
    expect(() => resolvePolicies("posts=0/1m")).toThrow(/RATE_LIMIT_OVERRIDES/);
    expect(() => resolvePolicies("posts=5/1 fortnight")).toThrow(/RATE_LIMIT_OVERRIDES/);
  });
});
