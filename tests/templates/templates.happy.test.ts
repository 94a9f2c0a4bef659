import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { createProfile, paidUserWithKey } from "../helpers/users.js";

/** Templates through the front door: create, read, list (filters, search, pages), change and delete, by key and session. */
const t = useTestHome();

const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");

async function uploadedImage(apiKey: string) {
  const res = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { fileName: "p.png", contentType: "image/png", fileSize: PNG.length } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  await fetch(res.body.upload.signedUrl, { method: "PUT", headers: { "content-type": "image/png" }, body: PNG });
  return res.body.media as { id: string; file_path: string; public_url: string; mime_type: string };
}

describe("POST /api/v1/templates", () => {
  it("saves the contract's fields and answers the template with its variables and media (201)", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const media = await uploadedImage(apiKey);
    const content = "📊 This week's highlights:\n\n✅ {{achievement}}\n📈 {{metric}}\n🔜 {{next_week}} ({{date}})";
    const res = await t.call("POST", "/api/v1/templates", {
      apiKey,
      body: {
        profileId,
        name: "Weekly Update",
        description: "Weekly team update template",
        content,
        platforms: ["twitter", "linkedin"],
        category: "internal",
        media: [{ id: media.id }],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({
      success: true,
      template: {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        profile_id: profileId,
        name: "Weekly Update",
        description: "Weekly team update template",
        content,
        platforms: ["twitter", "linkedin"],
        category: "internal",
        is_favorite: false,
        usage_count: 0,
        variables: ["achievement", "metric", "next_week", "date"],
        media: [
          {
            id: expect.any(String),
            media_id: media.id,
            file_path: media.file_path,
            public_url: media.public_url,
            mime_type: "image/png",
            file_size: PNG.length,
            file_name: "p.png",
          },
        ],
        created_at: expect.stringMatching(iso),
        updated_at: expect.stringMatching(iso),
      },
    });
    const got = await t.call("GET", `/api/v1/templates/${res.body.template.id}`, { apiKey });
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ template: res.body.template });
  });

  it("takes media in the contract's file_path/public_url/mime_type shape, and no platforms at all", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const res = await t.call("POST", "/api/v1/templates", {
      apiKey,
      body: { name: "By URL", content: "Look", media: [{ file_path: "x/y.jpg", public_url: "https://cdn.example.com/y.jpg", mime_type: "image/jpeg" }] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.template).toMatchObject({ platforms: [], category: null, description: null, variables: [] });
    expect(res.body.template.media).toEqual([
      { id: expect.any(String), media_id: null, file_path: "x/y.jpg", public_url: "https://cdn.example.com/y.jpg", mime_type: "image/jpeg", file_size: null, file_name: null },
    ]);
  });

  it("a browser session names the profile; the template lands there", async () => {
    const { user } = await paidUserWithKey(t);
    const second = await createProfile(t, user, "Second");
    const res = await t.call("POST", "/api/v1/templates", { token: user.token, body: { profileId: second, name: "S", content: "Hi" } });
    expect(res.status).toBe(201);
    expect(res.body.template.profile_id).toBe(second);
    const list = await t.call("GET", `/api/v1/templates?profileId=${second}`, { token: user.token });
    expect(list.body.templates.map((x: { name: string }) => x.name)).toEqual(["S"]);
  });
});

describe("GET /api/v1/templates", () => {
  it("lists newest first with filters by category, favorites and a search of name and content", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const make = async (body: Record<string, unknown>) => {
      const res = await t.call("POST", "/api/v1/templates", { apiKey, body });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.template.id as string;
    };
    const launch = await make({ name: "Product Launch", content: "🚀 New: {{product}}", category: "promotional", is_favorite: true });
    const sale = await make({ name: "Sale", content: "50% off 100% of the LAUNCH range", category: "promotional" });
    const update = await make({ name: "Weekly", content: "This week", category: "internal" });
    const names = async (query: string) => {
      const res = await t.call("GET", `/api/v1/templates${query}`, { apiKey });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.templates.map((x: { id: string }) => x.id);
    };
    expect(await names("")).toEqual([update, sale, launch]);
    expect(await names("?category=promotional")).toEqual([sale, launch]);
    expect(await names("?category=promotional&favorites=true")).toEqual([launch]);
    expect(await names("?favorites=false")).toEqual([update, sale, launch]);
    expect(await names("?search=launch")).toEqual([sale, launch]);
    expect(await names("?search=100%25")).toEqual([sale]);
    expect(await names("?search=_")).toEqual([]);
    expect(await names("?category=none")).toEqual([]);
    const first = await t.call("GET", "/api/v1/templates?limit=2", { apiKey });
    expect(first.body.templates).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const rest = await t.call("GET", `/api/v1/templates?limit=2&cursor=${first.body.nextCursor}`, { apiKey });
    expect(rest.body.templates.map((x: { id: string }) => x.id)).toEqual([launch]);
    expect(rest.body.nextCursor).toBeNull();
    expect(first.body.templates[0]).toMatchObject({ id: update, usage_count: 0, is_favorite: false, variables: [], media: [] });
  });
});

describe("PATCH and DELETE /api/v1/templates/{templateId}", () => {
  it("changes the given fields only, replaces media, marks a favorite and counts a use", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const media = await uploadedImage(apiKey);
    const created = await t.call("POST", "/api/v1/templates", {
      apiKey,
      body: { name: "Old", content: "Hi {{a}}", platforms: ["twitter"], category: "c", description: "d", media: [{ id: media.id }] },
    });
    const id = created.body.template.id as string;
    await t.sql`update public.templates set updated_at = now() - interval '1 hour' where id = ${id}`;
    const res = await t.call("PATCH", `/api/v1/templates/${id}`, {
      apiKey,
      body: { name: "Updated Name", content: "New {{b}} {{ c }}", is_favorite: true, increment_usage: true, category: null, media: [] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      success: true,
      template: expect.objectContaining({
        id,
        name: "Updated Name",
        content: "New {{b}} {{ c }}",
        variables: ["b", "c"],
        description: "d",
        platforms: ["twitter"],
        category: null,
        is_favorite: true,
        usage_count: 1,
        media: [],
      }),
    });
    expect(new Date(res.body.template.updated_at).getTime()).toBeGreaterThan(Date.now() - 60_000);

    // Counting a use alone does not move updated_at.
    const before = res.body.template.updated_at;
    const counted = await t.call("PATCH", `/api/v1/templates/${id}`, { apiKey, body: { increment_usage: true } });
    expect(counted.body.template).toMatchObject({ usage_count: 2, updated_at: before });

    // The same name in another letter case is the template's own, not a clash.
    expect((await t.call("PATCH", `/api/v1/templates/${id}`, { apiKey, body: { name: "UPDATED NAME" } })).status).toBe(200);
    const platforms = await t.call("PATCH", `/api/v1/templates/${id}`, { apiKey, body: { platforms: ["linkedin", "bluesky"], description: null } });
    expect(platforms.status, JSON.stringify(platforms.body)).toBe(200);
    expect(platforms.body.template).toMatchObject({ name: "UPDATED NAME", platforms: ["linkedin", "bluesky"], description: null, usage_count: 2 });

    const deleted = await t.call("DELETE", `/api/v1/templates/${id}`, { apiKey });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ success: true });
    expect((await t.call("GET", `/api/v1/templates/${id}`, { apiKey })).status).toBe(404);
    expect(await t.sql`select 1 from public.template_media where template_id = ${id}`).toHaveLength(0);
    // The media file is free again once no template names it.
    expect((await t.call("DELETE", "/api/v1/media", { apiKey, body: { filePath: media.file_path } })).status).toBe(200);
  });
});
