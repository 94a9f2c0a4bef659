import { describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * From template to post: POST /api/v1/post with templateId + variables renders the template inside the post's
 * transaction, takes the template's platforms and media unless the request gives its own, counts one use in the same
 * transaction, and refuses a missing variable (400 naming it) with nothing written.
 */
const t = useTestHome();

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

async function setup() {
  const base = await paidUserWithKey(t);
  await connectAccount(t, { apiKey: base.apiKey }, "twitter");
  await connectAccount(t, { apiKey: base.apiKey }, "linkedin");
  return base;
}

async function template(apiKey: string, body: Record<string, unknown>) {
  const res = await t.call("POST", "/api/v1/templates", { apiKey, body: { name: `T ${Math.random()}`, ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.template as { id: string };
}

async function uploadedImage(apiKey: string) {
  const res = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { fileName: "p.png", contentType: "image/png", fileSize: PNG.length } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect((await fetch(res.body.upload.signedUrl, { method: "PUT", headers: { "content-type": "image/png" }, body: PNG })).status).toBe(200);
  return res.body.media as { id: string; file_path: string; public_url: string };
}

const usage = async (id: string) => (await t.sql<{ n: number }[]>`select usage_count as n from public.templates where id = ${id}`)[0]!.n;
const postCount = async (profileId: string) => (await t.sql<{ n: number }[]>`select count(*)::int as n from public.posts where profile_id = ${profileId}`)[0]!.n;

describe("POST /api/v1/post with templateId", () => {
  it("renders the template, takes its platforms and media, and counts one use", async () => {
    const { apiKey } = await setup();
    const media = await uploadedImage(apiKey);
    const tpl = await template(apiKey, { content: "New: {{product}} at {{price}}", platforms: ["twitter", "linkedin"], media: [{ id: media.id }] });
    const res = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { templateId: tpl.id, variables: { product: "Widget", price: "£5" }, scheduleDate: inAnHour() },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const post = await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey });
    expect(post.body.post.content).toBe("New: Widget at £5");
    expect(post.body.post.targets.map((x: { platform: string }) => x.platform).sort()).toEqual(["linkedin", "twitter"]);
    expect(post.body.post.media).toEqual([expect.objectContaining({ public_url: media.public_url, mime_type: "image/png" })]);
    expect(await t.sql`select media_id from public.post_media where post_id = ${res.body.postId}`).toEqual([{ media_id: media.id }]);
    expect(await usage(tpl.id)).toBe(1);
    expect((await t.call("GET", `/api/v1/templates/${tpl.id}`, { apiKey })).body.template.usage_count).toBe(1);
  });

  it("the request's own platforms and media replace the template's", async () => {
    const { apiKey } = await setup();
    const tpl = await template(apiKey, {
      content: "Hello",
      platforms: ["twitter", "linkedin"],
      media: [{ public_url: "https://cdn.example.com/a.jpg", mime_type: "image/jpeg" }],
    });
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { templateId: tpl.id, platform: "twitter", media: [], scheduleDate: inAnHour() } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const post = (await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey })).body.post;
    expect(post.targets.map((x: { platform: string }) => x.platform)).toEqual(["twitter"]);
    expect(post.media).toEqual([]);
  });

  it("fills {{date}}, {{weekday}} and {{time}} at the post's instant in its timezone (the profile's by default)", async () => {
    const { apiKey, profileId } = await setup();
    const tpl = await template(apiKey, { content: "{{weekday}} {{date}} {{time}}", platforms: ["twitter"] });
    const year = new Date().getUTCFullYear() + 1;
    const ny = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { templateId: tpl.id, scheduleDate: `${year}-07-15T09:05:00`, timezone: "America/New_York" },
    });
    expect(ny.status, JSON.stringify(ny.body)).toBe(201);
    const weekday = new Intl.DateTimeFormat("en-US", { weekday: "long", timeZone: "UTC" }).format(new Date(Date.UTC(year, 6, 15)));
    expect((await t.call("GET", `/api/v1/posts/${ny.body.postId}`, { apiKey })).body.post.content).toBe(`${weekday} ${year}-07-15 09:05`);

    // No timezone in the request: the profile's. 23:30 UTC is already the next day in Tokyo.
    await t.sql`update public.profiles set timezone = 'Asia/Tokyo' where id = ${profileId}`;
    const tokyo = await t.call("POST", "/api/v1/post", { apiKey, body: { templateId: tpl.id, scheduleDate: `${year}-07-15T23:30:00Z` } });
    const nextDay = new Intl.DateTimeFormat("en-US", { weekday: "long", timeZone: "UTC" }).format(new Date(Date.UTC(year, 6, 16)));
    expect((await t.call("GET", `/api/v1/posts/${tokyo.body.postId}`, { apiKey })).body.post.content).toBe(`${nextDay} ${year}-07-16 08:30`);
  });

  it("a missing variable is a 400 naming each one; no post is written and no use counted", async () => {
    const { apiKey, profileId } = await setup();
    const tpl = await template(apiKey, { content: "{{greeting}} {{name}}, {{date}}", platforms: ["twitter"] });
    const before = await postCount(profileId);
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { templateId: tpl.id, variables: { name: "Ann" }, scheduleDate: inAnHour() } });
    assertEnvelope(res, 400, "validation_error");
    expect(res.body.error).toContain("'greeting'");
    expect(res.body.details).toEqual([{ field: "variables.greeting", message: "Required by the template", rule: "template_variable" }]);
    const both = await t.call("POST", "/api/v1/post", { apiKey, body: { templateId: tpl.id } });
    assertEnvelope(both, 400, "validation_error");
    expect(both.body.details.map((d: { field: string }) => d.field)).toEqual(["variables.greeting", "variables.name"]);
    expect(await postCount(profileId)).toBe(before);
    expect(await usage(tpl.id)).toBe(0);
  });

  it("checks each network's text length on the rendered text at posting time; a refused post counts no use", async () => {
    const { apiKey, profileId } = await setup();
    const tpl = await template(apiKey, { content: "Long: {{body}}", platforms: ["twitter", "linkedin"] });
    const before = await postCount(profileId);
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { templateId: tpl.id, variables: { body: "x".repeat(300) }, scheduleDate: inAnHour() } });
    assertEnvelope(res, 400, "validation_error");
    expect(res.body.details).toEqual([expect.objectContaining({ field: "content", platform: "twitter", rule: "max_text_length" })]);
    expect(await postCount(profileId)).toBe(before);
    expect(await usage(tpl.id)).toBe(0);
    // LinkedIn alone takes it.
    const ok = await t.call("POST", "/api/v1/post", { apiKey, body: { templateId: tpl.id, platform: "linkedin", variables: { body: "x".repeat(300) }, scheduleDate: inAnHour() } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(await usage(tpl.id)).toBe(1);
  });

  it("refuses content with templateId, variables without it, and a template naming no platforms without platforms", async () => {
    const { apiKey } = await setup();
    const tpl = await template(apiKey, { content: "Hi" });
    const both = await t.call("POST", "/api/v1/post", { apiKey, body: { templateId: tpl.id, content: "x", platform: "twitter" } });
    assertEnvelope(both, 400, "validation_error");
    expect(both.body.details[0].field).toBe("content");
    const loose = await t.call("POST", "/api/v1/post", { apiKey, body: { content: "x", platform: "twitter", variables: { a: "b" } } });
    assertEnvelope(loose, 400, "validation_error");
    expect(loose.body.details[0].field).toBe("variables");
    const badName = await t.call("POST", "/api/v1/post", { apiKey, body: { templateId: tpl.id, platform: "twitter", variables: { "a-b": "x" } } });
    assertEnvelope(badName, 400, "validation_error");
    const blank = await template(apiKey, { content: "{{text}}", platforms: ["twitter"] });
    const empty = await t.call("POST", "/api/v1/post", { apiKey, body: { templateId: blank.id, variables: { text: " " } } });
    assertEnvelope(empty, 400, "validation_error");
    expect(empty.body.details[0].field).toBe("variables");
    expect(await usage(blank.id)).toBe(0);
    const noPlatforms = await t.call("POST", "/api/v1/post", { apiKey, body: { templateId: tpl.id } });
    assertEnvelope(noPlatforms, 400, "validation_error");
    expect(noPlatforms.body.details[0].field).toBe("platforms");
    expect(await usage(tpl.id)).toBe(0);
  });

  it("another profile's template, or none, answers 404 and writes nothing", async () => {
    const a = await setup();
    const b = await paidUserWithKey(t);
    const foreign = await template(b.apiKey, { content: "B's", platforms: ["twitter"] });
    const before = await postCount(a.profileId);
    assertEnvelope(await t.call("POST", "/api/v1/post", { apiKey: a.apiKey, body: { templateId: foreign.id, scheduleDate: inAnHour() } }), 404, "not_found");
    assertEnvelope(
      await t.call("POST", "/api/v1/post", { apiKey: a.apiKey, body: { templateId: "00000000-0000-4000-8000-000000000000", platform: "twitter" } }),
      404,
      "not_found",
    );
    expect(await postCount(a.profileId)).toBe(before);
    expect(await usage(foreign.id)).toBe(0);
  });

  it("counts every use when ten posts are made from a template at once", async () => {
    const { apiKey, profileId } = await setup();
    const tpl = await template(apiKey, { content: "Run {{n}}", platforms: ["twitter"] });
    const before = await postCount(profileId);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, n) =>
        t.call("POST", "/api/v1/post", { apiKey, body: { templateId: tpl.id, variables: { n: String(n) }, scheduleDate: inAnHour() } }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    expect(await usage(tpl.id)).toBe(10);
    expect(await postCount(profileId)).toBe(before + 10);
    const contents = await t.sql<{ content: string }[]>`select content from public.posts where profile_id = ${profileId} and content like 'Run %' order by content`;
    expect(contents.map((r) => r.content)).toEqual(Array.from({ length: 10 }, (_, n) => `Run ${n}`));
  });
});

describe("DELETE /api/v1/media while a template names it", () => {
  it("answers 409 naming the template, and succeeds once the template drops it", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const media = await uploadedImage(apiKey);
    const tpl = await template(apiKey, { name: "Uses the photo", content: "x", media: [{ id: media.id }] });
    const refused = await t.call("DELETE", "/api/v1/media", { apiKey, body: { filePath: media.file_path } });
    assertEnvelope(refused, 409, "conflict");
    expect(refused.body.error).toContain("'Uses the photo'");
    expect(refused.body.details).toEqual({ templateIds: [tpl.id] });
    expect((await fetch(media.public_url)).status).toBe(200);
    // The schema refuses it too, whoever deletes.
    await expect(t.sql`delete from public.media where id = ${media.id}`).rejects.toMatchObject({ code: "23503" });

    expect((await t.call("PATCH", `/api/v1/templates/${tpl.id}`, { apiKey, body: { media: [] } })).status).toBe(200);
    expect((await t.call("DELETE", "/api/v1/media", { apiKey, body: { filePath: media.file_path } })).status).toBe(200);
  });
});
