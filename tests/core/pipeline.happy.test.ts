import { describe, expect, it } from "vitest";
import { errorStatus } from "../../src/core/errors.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey, signUp } from "../helpers/users.js";

const t = useTestHome();

describe("request pipeline", () => {
  it("puts X-Request-Id on every response and echoes a sane caller-supplied one", async () => {
    const ok = await t.call("GET", "/api/v1");
    expect(ok.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await t.call("GET", "/api/v1", { headers: { "x-request-id": "client-req-12345" } });
    expect(echoed.headers.get("x-request-id")).toBe("client-req-12345");
    const refused = await t.call("GET", "/api/v1", { headers: { "x-request-id": "bad id\twith junk" } });
    expect(refused.headers.get("x-request-id")).not.toContain("junk");
  });

  it("answers unknown paths with 404 and wrong methods with 405 + Allow, in the envelope", async () => {
    assertEnvelope(await t.call("GET", "/api/v1/nothing-here"), 404, "not_found");
    assertEnvelope(await t.call("GET", "/api/unknown"), 404, "not_found");
    const wrong = await t.call("PUT", "/api/v1/profiles");
    assertEnvelope(wrong, 405, "method_not_allowed");
    expect(wrong.headers.get("allow")).toBe("GET, POST");
  });

  it("refuses malformed JSON (400), non-JSON bodies (415) and oversized bodies (413), writing nothing", async () => {
    const user = await signUp(t);
    assertEnvelope(
      await t.call("POST", "/api/v1/profiles", { token: user.token, rawBody: '{"name": "x"', headers: { "content-type": "application/json" } }),
      400,
      "invalid_json",
    );
    assertEnvelope(
      await t.call("POST", "/api/v1/profiles", { token: user.token, rawBody: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } }),
      415,
      "unsupported_media_type",
    );
    const huge = JSON.stringify({ name: "x", description: "y".repeat(2 * 1024 * 1024) });
    assertEnvelope(
      await t.call("POST", "/api/v1/profiles", { token: user.token, rawBody: huge, headers: { "content-type": "application/json" } }),
      413,
      "payload_too_large",
    );
    const [{ count }] = (await t.sql`select count(*)::int as count from public.profiles where created_by = ${user.id}`) as any;
    expect(count).toBe(0);
  });

  it("refuses a body larger than the limit even when Content-Length understates it", async () => {
    const user = await signUp(t);
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 3; i++) controller.enqueue(new TextEncoder().encode("x".repeat(600 * 1024)));
        controller.close();
      },
    });
    const res = await t.home.fetch(
      new Request(`${t.home.url}/api/v1/profiles`, {
        method: "POST",
        headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
        body: chunks,
        // @ts-expect-error streamed request bodies need duplex in Node
        duplex: "half",
      }),
    );
    expect(res.status).toBe(413);
  });

  it("gives every error code a status in the closed table", () => {
    for (const [code, status] of Object.entries(errorStatus)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
      expect(code).toMatch(/^[a-z_]+$/);
    }
  });

  it("sets the billing gate before anything else for API keys, but not for sessions on the Free plan", async () => {
    const user = await signUp(t);
    expect((await t.call("GET", "/api/v1/profiles", { token: user.token })).status).toBe(200);
    const { apiKey } = await paidUserWithKey(t);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey })).status).toBe(200);
  });
});

describe("discovery", () => {
  it("describes the API without credentials", async () => {
    const res = await t.call("GET", "/api/v1");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      version: "v1",
      auth: { header: "X-API-Key" },
      billing: { apiKeysRequirePaidPlan: true, inactiveSubscriptionStatus: 402, freeTrial: false, currency: "GBP" },
      docs: expect.stringMatching(/^https?:\/\//),
    });
    expect(res.body.endpoints).toContain("POST /api/v1/api-keys");
    expect(res.body.billing.plans.map((p: { id: string }) => p.id)).toEqual(["free", "starter", "growth", "agency", "unlimited"]);
    expect(res.body.billing.plans[0]).toMatchObject({ profiles: 2, postsPerMonth: 25, apiKeys: false, webhooks: false });
    const twitter = res.body.platforms.find((p: { platform: string }) => p.platform === "twitter");
    expect(twitter).toMatchObject({ displayName: "Twitter / X", supportStatus: "partial", text: true, images: true, video: false });
    const docs = await t.home.fetch(new Request(res.body.docs));
    expect(docs.status).toBe(200);
    expect(docs.headers.get("content-type")).toContain("text/html");
    expect(res.body.platforms.map((p: { platform: string }) => p.platform)).toEqual(
      expect.arrayContaining(["linkedin", "instagram", "facebook", "threads", "tiktok", "youtube", "pinterest", "reddit", "bluesky"]),
    );
  });
});
