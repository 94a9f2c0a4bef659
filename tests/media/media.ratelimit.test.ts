import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";

/** Media uploads count against the `media_uploads` limit (contract: 50 per hour per profile; 2 here). */
const t = useTestHome({ env: { RATE_LIMIT_OVERRIDES: "media_uploads=2/1h" } });

const body = { fileName: "a.png", contentType: "image/png", fileSize: 100 };

describe("media uploads: the per-profile rate limit", () => {
  it("answers 429 with Retry-After on the third upload URL within the window; refused requests do not count", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const invalid = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { ...body, contentType: "application/pdf" } });
    assertEnvelope(invalid, 400, "validation_error");
    for (let i = 0; i < 2; i++) expect((await t.call("POST", "/api/v1/media/upload-url", { apiKey, body })).status).toBe(200);

    const third = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body });
    assertEnvelope(third, 429, "rate_limited");
    expect(third.body.error).toMatch(/2 media uploads per 1 hour per profile/);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(third.body.details).toMatchObject({ limit: "media_uploads", max: 2 });
    const [{ count }] = (await t.sql`select count(*)::int as count from public.media where profile_id = ${profileId}`) as any;
    expect(count).toBe(2);
  });

  it("counts per profile: another profile still has its own allowance", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    for (let i = 0; i < 2; i++) await t.call("POST", "/api/v1/media/upload-url", { apiKey: a.apiKey, body });
    assertEnvelope(await t.call("POST", "/api/v1/media/upload-url", { apiKey: a.apiKey, body }), 429, "rate_limited");
    expect((await t.call("POST", "/api/v1/media/upload-url", { apiKey: b.apiKey, body })).status).toBe(200);
  });
});
