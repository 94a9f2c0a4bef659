import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";

/** Bad input and other tenants' ids: a clear 4xx in the error envelope, nothing written. */
const t = useTestHome();

const templateCount = async (profileId: string) =>
  (await t.sql<{ n: number }[]>`select count(*)::int as n from public.templates where profile_id = ${profileId}`)[0]!.n;

async function create(apiKey: string, body: Record<string, unknown>) {
  return t.call("POST", "/api/v1/templates", { apiKey, body: { name: `T ${Math.random()}`, content: "Hello", ...body } });
}

async function videoMedia(apiKey: string) {
  const res = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { fileName: "v.mp4", contentType: "video/mp4", fileSize: 1000 } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.media as { id: string; file_path: string };
}

describe("POST /api/v1/templates: refused, nothing written", () => {
  it("refuses unknown fields, missing or empty fields and wrong types, naming the field", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const cases: [Record<string, unknown>, string][] = [
      [{ name: "x", content: "y", colour: "red" }, "colour"],
      [{ content: "y" }, "name"],
      [{ name: "x" }, "content"],
      [{ name: "   ", content: "y" }, "name"],
      [{ name: "x", content: "  \n " }, "content"],
      [{ name: "x".repeat(101), content: "y" }, "name"],
      [{ name: "x", content: "y", description: "d".repeat(501) }, "description"],
      [{ name: "x", content: "y", category: "c".repeat(51) }, "category"],
      [{ name: "x", content: "y", platforms: ["myspace"] }, "platforms.0"],
      [{ name: "x", content: "y", platforms: ["twitter", "twitter"] }, "platforms"],
      [{ name: "x", content: "y", is_favorite: "yes" }, "is_favorite"],
      [{ name: "x", content: "y", media: [{ public_url: "https://169.254.169.254/a.jpg", mime_type: "image/jpeg" }] }, "media.0.public_url"],
      [{ name: "x", content: "y", media: [{ public_url: "https://cdn.example.com/a.jpg" }] }, "media.0.mime_type"],
      [{ name: "x", content: "y", usage_count: 5 }, "usage_count"],
    ];
    for (const [body, field] of cases) {
      const res = await t.call("POST", "/api/v1/templates", { apiKey, body });
      assertEnvelope(res, 400, "validation_error");
      expect(res.body.details.map((d: { field: string }) => d.field), JSON.stringify(body)).toContain(field);
    }
    expect(await templateCount(profileId)).toBe(0);
  });

  it("content may be as long as the largest network limit (63,206 characters), not longer; category up to 50", async () => {
    const { apiKey } = await paidUserWithKey(t);
    expect((await create(apiKey, { content: "x".repeat(63_206), category: "c".repeat(50) })).status).toBe(201);
    // Code points, not UTF-16 units: 63,206 emoji fit too.
    expect((await create(apiKey, { content: "🚀".repeat(63_206) })).status).toBe(201);
    const long = await create(apiKey, { content: "x".repeat(63_207) });
    assertEnvelope(long, 400, "validation_error");
    expect(long.body.details[0]).toMatchObject({ field: "content", message: expect.stringContaining("63206") });
  });

  it("checks platforms and media with the posting rules (not the text length, which is checked when posting)", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const video = await videoMedia(apiKey);
    const unsupported = await create(apiKey, { platforms: ["snapchat"] });
    assertEnvelope(unsupported, 400, "validation_error");
    expect(unsupported.body.details[0]).toMatchObject({ platform: "snapchat", rule: "platform_supported" });
    const noVideo = await create(apiKey, { platforms: ["twitter"], media: [{ id: video.id }] });
    assertEnvelope(noVideo, 400, "validation_error");
    expect(noVideo.body.details[0]).toMatchObject({ platform: "twitter", rule: "media_compatibility" });
    const two = await create(apiKey, {
      media: [
        { public_url: "https://cdn.example.com/a.jpg", mime_type: "image/jpeg" },
        { public_url: "https://cdn.example.com/b.jpg", mime_type: "image/jpeg" },
      ],
    });
    assertEnvelope(two, 400, "validation_error");
    expect(two.body.details[0]).toMatchObject({ rule: "single_asset" });
    expect(await templateCount(profileId)).toBe(0);
    // Longer than X's 280 and Instagram without media: fine to save (variables and the post decide).
    expect((await create(apiKey, { platforms: ["twitter", "instagram"], content: "y".repeat(400) })).status).toBe(201);
    expect((await create(apiKey, { platforms: ["youtube"], media: [{ id: video.id }] })).status).toBe(201);
  });

  it("another profile's media id answers 404", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    const foreign = await videoMedia(b.apiKey);
    assertEnvelope(await create(a.apiKey, { media: [{ id: foreign.id }] }), 404, "not_found");
    expect(await templateCount(a.profileId)).toBe(0);
  });

  it("a name already used in the profile (any letter case) is a 409; other profiles may use it", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    expect((await create(a.apiKey, { name: "Launch" })).status).toBe(201);
    const dup = await create(a.apiKey, { name: "launch" });
    assertEnvelope(dup, 409, "conflict");
    expect(dup.body.error).toBe("A template named 'launch' already exists in this profile");
    expect((await create(b.apiKey, { name: "Launch" })).status).toBe(201);
    // Two at once: one wins, the other is the same 409.
    const race = await Promise.all([create(a.apiKey, { name: "Race" }), create(a.apiKey, { name: "Race" })]);
    expect(race.map((r) => r.status).sort()).toEqual([201, 409]);
    const lost = race.find((r) => r.status === 409)!;
    assertEnvelope(lost, 409, "conflict");
    expect(await templateCount(a.profileId)).toBe(2);
  });

  it("an API key naming another profile answers 404; a session must name one", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    assertEnvelope(await create(a.apiKey, { profileId: b.profileId }), 404, "not_found");
    const session = await t.call("POST", "/api/v1/templates", { token: a.user.token, body: { name: "x", content: "y" } });
    assertEnvelope(session, 400, "validation_error");
    expect(session.body.details[0].field).toBe("profileId");
    assertEnvelope(await t.call("POST", "/api/v1/templates", { token: a.user.token, body: { profileId: b.profileId, name: "x", content: "y" } }), 404, "not_found");
    expect(await templateCount(b.profileId)).toBe(0);
  });
});

describe("GET /api/v1/templates: refused", () => {
  it("refuses bad query parameters by name", async () => {
    const { apiKey } = await paidUserWithKey(t);
    for (const [query, field] of [
      ["favorites=yes", "favorites"],
      ["limit=0", "limit"],
      ["limit=101", "limit"],
      ["cursor=nonsense", "cursor"],
      ["sort=name", "sort"],
      [`category=${"c".repeat(51)}`, "category"],
      ["profileId=nope", "profileId"],
    ] as const) {
      const res = await t.call("GET", `/api/v1/templates?${query}`, { apiKey });
      assertEnvelope(res, 400, "validation_error");
      expect(res.body.details[0].field, query).toBe(field);
    }
  });

  it("never lists another profile's templates", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    expect((await create(b.apiKey, { name: "B's" })).status).toBe(201);
    expect((await t.call("GET", "/api/v1/templates", { apiKey: a.apiKey })).body.templates).toEqual([]);
    assertEnvelope(await t.call("GET", `/api/v1/templates?profileId=${b.profileId}`, { apiKey: a.apiKey }), 404, "not_found");
    assertEnvelope(await t.call("GET", `/api/v1/templates?profileId=${b.profileId}`, { token: a.user.token }), 404, "not_found");
  });
});

describe("GET, PATCH, DELETE /api/v1/templates/{templateId}: refused", () => {
  it("another tenant's template, an unknown id or a malformed one answers 404 and changes nothing", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    const foreign = (await create(b.apiKey, { name: "B's", content: "Keep {{me}}" })).body.template;
    for (const id of [foreign.id, "00000000-0000-4000-8000-000000000000", "not-a-uuid"]) {
      for (const who of [{ apiKey: a.apiKey }, { token: a.user.token }]) {
        assertEnvelope(await t.call("GET", `/api/v1/templates/${id}`, who), 404, "not_found");
        assertEnvelope(await t.call("PATCH", `/api/v1/templates/${id}`, { ...who, body: { name: "Mine now" } }), 404, "not_found");
        assertEnvelope(await t.call("PATCH", `/api/v1/templates/${id}`, { ...who, body: { increment_usage: true } }), 404, "not_found");
        assertEnvelope(await t.call("DELETE", `/api/v1/templates/${id}`, who), 404, "not_found");
      }
    }
    const [row] = await t.sql`select name, usage_count from public.templates where id = ${foreign.id}`;
    expect(row).toEqual({ name: "B's", usage_count: 0 });
  });

  it("PATCH refuses an empty change, unknown fields, a taken name and media the platforms cannot take", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const video = await videoMedia(apiKey);
    const taken = (await create(apiKey, { name: "Taken" })).body.template;
    const tpl = (await create(apiKey, { name: "Mine", platforms: ["youtube"], media: [{ id: video.id }] })).body.template;
    assertEnvelope(await t.call("PATCH", `/api/v1/templates/${tpl.id}`, { apiKey, body: {} }), 400, "validation_error");
    assertEnvelope(await t.call("PATCH", `/api/v1/templates/${tpl.id}`, { apiKey, body: { usage_count: 9 } }), 400, "validation_error");
    assertEnvelope(await t.call("PATCH", `/api/v1/templates/${tpl.id}`, { apiKey, body: { content: "" } }), 400, "validation_error");
    assertEnvelope(await t.call("PATCH", `/api/v1/templates/${tpl.id}`, { apiKey, body: { category: "c".repeat(51) } }), 400, "validation_error");
    const clash = await t.call("PATCH", `/api/v1/templates/${tpl.id}`, { apiKey, body: { name: "TAKEN" } });
    assertEnvelope(clash, 409, "conflict");
    // Adding X to a template whose media is a video: X cannot publish it.
    const platforms = await t.call("PATCH", `/api/v1/templates/${tpl.id}`, { apiKey, body: { platforms: ["youtube", "twitter"] } });
    assertEnvelope(platforms, 400, "validation_error");
    expect(platforms.body.details[0]).toMatchObject({ platform: "twitter", rule: "media_compatibility" });
    const [row] = await t.sql`select name, platforms from public.templates where id = ${tpl.id}`;
    expect(row).toEqual({ name: "Mine", platforms: ["youtube"] });
    expect(taken.name).toBe("Taken");
  });
});
