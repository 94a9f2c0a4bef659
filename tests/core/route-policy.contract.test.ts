import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { api, route } from "../../src/core/api.js";
import type { ServiceDb } from "../../src/core/pg.js";
import { services } from "../../src/core/services.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createProfile, paidUserWithKey, signUp } from "../helpers/users.js";

/**
 * What a route definition declares is what the pipeline does: `profile` resolves and checks the profile before the
 * handler runs, `rateLimit` counts only once the caller belongs, `response` is checked on every answer in the local
 * home, and the context carries `profileId` and `serviceDb` only when declared (checked by the compiler here).
 */
const t = useTestHome({ env: { RATE_LIMIT_OVERRIDES: "posts=2/1h" } });

const seen = { profileId: "", handled: 0 };
const handler = api([
  route("GET /api/test/profile", {
    auth: "any",
    query: z.strictObject({ profileId: z.uuid().optional() }),
    profile: "query",
    rateLimit: "posts",
    response: z.strictObject({ profileId: z.uuid() }),
    handle: async (ctx) => {
      expectTypeOf(ctx.profileId).toEqualTypeOf<string>();
      // @ts-expect-error: no `service: true`, so no service connection
      void ctx.serviceDb;
      seen.profileId = ctx.profileId;
      seen.handled++;
      return { profileId: ctx.profileId };
    },
  }),
  route("GET /api/test/things/:thing/parts/:part", {
    auth: "none",
    service: true,
    response: z.strictObject({ thing: z.string(), part: z.string(), bypassesRls: z.boolean() }),
    handle: async (ctx) => {
      expectTypeOf(ctx.params).toEqualTypeOf<{ readonly thing: string; readonly part: string }>();
      expectTypeOf(ctx.serviceDb).toEqualTypeOf<ServiceDb>();
      // @ts-expect-error: no `profile`, so no profileId
      void ctx.profileId;
      const [row] = await ctx.serviceDb((tx) => tx<{ bypass: boolean }[]>`select rolbypassrls or rolsuper as bypass from pg_roles where rolname = current_user`);
      return { thing: ctx.params.thing, part: ctx.params.part, bypassesRls: row!.bypass };
    },
  }),
  route("GET /api/test/drift", {
    auth: "none",
    response: z.strictObject({ ok: z.boolean() }),
    // The cast stands for a handler whose answer drifted from its schema without the compiler noticing.
    handle: async () => ({ ok: true, extra: "not in the schema" }) as { ok: boolean },
  }),
]);

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await handler(new Request(`http://localhost${path}`, { headers }));
  const answer = { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  return { ...answer, res: answer };
};

describe("route policies", () => {
  it("a session must name a profile (400 naming profileId) that it can see (404), and is counted only then", async () => {
    const owner = await signUp(t);
    const stranger = await signUp(t);
    const profileId = await createProfile(t, owner);
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    const missing = await get("/api/test/profile", bearer(owner.token));
    assertEnvelope(missing.res, 400, "validation_error");
    expect(missing.body.details).toEqual([{ field: "profileId", message: expect.any(String) }]);

    // A stranger never spends the profile's budget: refused before the limiter counts.
    for (let i = 0; i < 3; i++) {
      const refused = await get(`/api/test/profile?profileId=${profileId}`, bearer(stranger.token));
      assertEnvelope(refused.res, 404, "not_found");
    }
    const before = seen.handled;
    expect((await get(`/api/test/profile?profileId=${profileId}`, bearer(owner.token))).status).toBe(200);
    expect(seen.profileId).toBe(profileId);
    expect((await get(`/api/test/profile?profileId=${profileId}`, bearer(owner.token))).status).toBe(200);
    const limited = await get(`/api/test/profile?profileId=${profileId}`, bearer(owner.token));
    assertEnvelope(limited.res, 429, "rate_limited");
    expect(seen.handled - before).toBe(2);
  });

  it("an API key acts on its own profile; naming another answers 404", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const other = await createProfile(t, await signUp(t));
    const own = await get("/api/test/profile", { "x-api-key": apiKey });
    expect(own.status).toBe(200);
    expect(own.body).toEqual({ profileId });
    assertEnvelope((await get(`/api/test/profile?profileId=${other}`, { "x-api-key": apiKey })).res, 404, "not_found");
  });

  it("path parameters arrive typed and decoded; a service route gets its connection", async () => {
    const ok = await get("/api/test/things/a%20b/parts/c");
    expect(ok.body).toEqual({ thing: "a b", part: "c", bypassesRls: true });
  });

  it("in the local home an answer that does not fit its response schema fails (500), so drift fails the tests", async () => {
    expect(services().env.AMPLIFY_HOME).toBe("local");
    assertEnvelope((await get("/api/test/drift")).res, 500, "internal_error");
  });
});
