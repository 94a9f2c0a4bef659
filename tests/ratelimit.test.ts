import { describe, expect, it } from "vitest";
import { useTestHome } from "./helpers/home.js";
import { freshWindow } from "./helpers/limiter-contract.js";
import { assertEnvelope } from "./helpers/security.js";
import { paidUserWithKey } from "./helpers/users.js";

/** The per-key API request limit through the front door, on the Postgres limiter, with a small configured limit. */
const t = useTestHome({ env: { RATE_LIMIT_OVERRIDES: "api_requests=5/2s" } });
const WINDOW_MS = 2_000;

describe("API request rate limit (Postgres limiter)", () => {
  it("puts X-RateLimit-* on every API-key response, errors included", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await freshWindow(WINDOW_MS, 1_500);
    const windowEnd = (Math.floor(Date.now() / WINDOW_MS) + 1) * WINDOW_MS;
    const ok = await t.call("GET", "/api/v1/profiles", { apiKey });
    const notFound = await t.call("GET", "/api/v1/profiles/00000000-0000-4000-8000-000000000000", { apiKey });
    const invalid = await t.call("PATCH", "/api/v1/profiles/00000000-0000-4000-8000-000000000000", { apiKey, body: { name: "" } });
    expect([ok.status, notFound.status, invalid.status]).toEqual([200, 404, 400]);
    expect([ok, notFound, invalid].map((r) => r.headers.get("x-ratelimit-remaining"))).toEqual(["4", "3", "2"]);
    for (const r of [ok, notFound, invalid]) {
      expect(r.headers.get("x-ratelimit-limit")).toBe("5");
      expect(r.headers.get("x-ratelimit-reset")).toBe(String(windowEnd / 1000));
    }
  });
});
