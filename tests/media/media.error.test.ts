import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";

/** Media: bad input, bad uploads, foreign media and deletion while in use are refused with the reason; nothing is written. */
const t = useTestHome();

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0xff, 0xd9]);
const MB = 1024 * 1024;

async function uploadUrl(apiKey: string, body: Record<string, unknown>) {
  const res = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { upload: { path: string; token: string; signedUrl: string }; media: Record<string, any> };
}

async function put(signedUrl: string, bytes: Uint8Array, contentType: string) {
  const res = await fetch(signedUrl, { method: "PUT", headers: { "content-type": contentType }, body: bytes as Uint8Array<ArrayBuffer> });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

async function counts(profileId: string) {
  const [row] = await t.sql<{ media: number; posts: number; post_media: number }[]>`
    select (select count(*)::int from public.media where profile_id = ${profileId}) as media,
           (select count(*)::int from public.posts where profile_id = ${profileId}) as posts,
           (select count(*)::int from public.post_media where profile_id = ${profileId}) as post_media`;
  return row!;
}

describe("POST /api/v1/media/upload-url: refused with the reason, nothing recorded", () => {
  const cases: { name: string; body: Record<string, unknown>; field: string; rule?: string; message?: RegExp }[] = [
    { name: "an unsupported type (PDF)", body: { fileName: "a.pdf", contentType: "application/pdf", fileSize: 10 }, field: "contentType", message: /Unsupported media type 'application\/pdf'/ },
    { name: "an image type no network takes (HEIC)", body: { fileName: "a.heic", contentType: "image/heic", fileSize: 10 }, field: "contentType" },
    { name: "a malformed content type", body: { fileName: "a", contentType: "", fileSize: 10 }, field: "contentType" },
    { name: "an image over every network's limit", body: { fileName: "a.png", contentType: "image/png", fileSize: 9 * MB }, field: "fileSize", rule: "media_size", message: /at most 8 MB/ },
    { name: "a video over every network's limit", body: { fileName: "a.mp4", contentType: "video/mp4", fileSize: 2048 * MB }, field: "fileSize", rule: "media_size", message: /at most 1 GB/ },
    { name: "an empty file", body: { fileName: "a.png", contentType: "image/png", fileSize: 0 }, field: "fileSize" },
    { name: "a fractional size", body: { fileName: "a.png", contentType: "image/png", fileSize: 1.5 }, field: "fileSize" },
    { name: "no file name", body: { contentType: "image/png", fileSize: 10 }, field: "fileName" },
    { name: "a file name with control characters", body: { fileName: "a\u0000.png", contentType: "image/png", fileSize: 10 }, field: "fileName" },
    { name: "an unknown field", body: { fileName: "a.png", contentType: "image/png", fileSize: 10, bucket: "other" }, field: "bucket" },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} (400)`, async () => {
      const { apiKey, profileId } = await paidUserWithKey(t);
      const res = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: c.body });
      assertEnvelope(res, 400, "validation_error");
      const issue = res.body.details.find((d: { field: string }) => d.field === c.field);
      expect(issue, JSON.stringify(res.body.details)).toBeDefined();
      if (c.rule) expect(issue.rule).toBe(c.rule);
      if (c.message) expect(res.body.error).toMatch(c.message);
      expect(await counts(profileId)).toMatchObject({ media: 0 });
    });
  }

  it("refuses a type none of the profile's connected networks take: a video with only X connected", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const res = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { fileName: "v.mov", contentType: "video/quicktime", fileSize: 1000 } });
    assertEnvelope(res, 400, "validation_error");
    expect(res.body.details[0]).toMatchObject({ field: "contentType", rule: "media_compatibility" });
    expect(await counts(profileId)).toMatchObject({ media: 0 });
  });

  it("a session must name the profile; a key may only name its own", async () => {
    const { apiKey, user } = await paidUserWithKey(t);
    const other = await paidUserWithKey(t);
    const body = { fileName: "a.png", contentType: "image/png", fileSize: 10 };
    assertEnvelope(await t.call("POST", "/api/v1/media/upload-url", { token: user.token, body }), 400, "validation_error");
    assertEnvelope(await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { ...body, profileId: other.profileId } }), 404, "not_found");
    assertEnvelope(await t.call("POST", "/api/v1/media/upload-url", { token: user.token, body: { ...body, profileId: other.profileId } }), 404, "not_found");
  });
});

describe("the PUT to the signed URL", () => {
  it("refuses bytes that are not the declared type, and stores nothing", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const { upload, media } = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: JPEG.length });
    const res = await put(upload.signedUrl, JPEG, "image/png");
    expect(res).toEqual({
      status: 400,
      body: expect.objectContaining({ message: "The file was declared as image/png but its bytes are a JPEG image (image/jpeg)" }),
    });
    expect((await fetch(media.public_url)).status).toBe(400);
  });

  it("refuses another content type or size than declared at upload-url", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const a = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    expect((await put(a.upload.signedUrl, JPEG, "image/jpeg")).body).toMatchObject({ statusCode: "415" });
    const b = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: 40 });
    expect((await put(b.upload.signedUrl, PNG, "image/png")).body).toMatchObject({ statusCode: "413", message: "The object exceeded the 40 bytes this upload URL was created for" });
  });

  it("refuses a wrong, expired or misdirected token", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const { upload } = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    const withToken = (token: string) => upload.signedUrl.replace(/token=.*$/, `token=${token}`);
    expect((await put(withToken("not-a-token"), PNG, "image/png")).body).toMatchObject({ statusCode: "400", error: "InvalidJWT" });
    const secret = new TextEncoder().encode(t.home.secrets.jwtSecret);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ url: `post-media/${upload.path}` }).setProtectedHeader({ alg: "HS256" }).setIssuedAt(now - 8000).setExpirationTime(now - 800).sign(secret);
    expect(await put(withToken(expired), PNG, "image/png")).toEqual({
      status: 400,
      body: { statusCode: "400", code: "InvalidJWT", error: "InvalidJWT", message: "jwt expired" },
    });
    const other = await uploadUrl(apiKey, { fileName: "q.png", contentType: "image/png", fileSize: PNG.length });
    expect((await put(withToken(other.upload.token), PNG, "image/png")).body).toMatchObject({ error: "InvalidSignature" });
    expect((await put(upload.signedUrl, PNG, "image/png")).status).toBe(200);
  });

  it("a replayed token cannot replace the file", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const { upload, media } = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    expect((await put(upload.signedUrl, PNG, "image/png")).status).toBe(200);
    expect(await put(upload.signedUrl, PNG, "image/png")).toEqual({
      status: 400,
      body: { statusCode: "409", code: "Duplicate", error: "Duplicate", message: "The resource already exists" },
    });
    expect(Buffer.from(await (await fetch(media.public_url)).arrayBuffer()).equals(PNG)).toBe(true);
  });
});

describe("POST /api/v1/post with media by id: refused, nothing written", () => {
  it("another profile's media answers 404", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    await connectAccount(t, { apiKey: b.apiKey }, "twitter");
    const { upload, media } = await uploadUrl(a.apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    await put(upload.signedUrl, PNG, "image/png");
    for (const sent of [{ id: media.id }, media]) {
      const res = await t.call("POST", "/api/v1/post", { apiKey: b.apiKey, body: { platform: "twitter", content: "borrowed", media: [sent] } });
      assertEnvelope(res, 404, "not_found");
    }
    expect(await counts(b.profileId)).toEqual({ media: 0, posts: 0, post_media: 0 });
  });

  it("media not uploaded yet answers 400", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const { media } = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "too soon", media: [{ id: media.id }] } });
    assertEnvelope(res, 400, "validation_error");
    expect(res.body.details).toEqual([{ field: "media", rule: "media_uploaded", message: expect.stringContaining("has not been uploaded yet") }]);
    expect(await counts(profileId)).toMatchObject({ posts: 0, post_media: 0 });
  });

  it("a file that differs from its record answers 400 (the check Supabase Storage cannot make at the PUT)", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const { upload, media } = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    // A token as Supabase signs it, without the declared type and size the local emulator would hold the PUT to.
    const plain = await new SignJWT({ url: `post-media/${upload.path}`, upsert: false })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt()
      .setExpirationTime("2h")
      .sign(new TextEncoder().encode(t.home.secrets.jwtSecret));
    expect((await put(upload.signedUrl.replace(/token=.*$/, `token=${plain}`), JPEG, "image/jpeg")).status).toBe(200);
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "swapped", media: [{ id: media.id }] } });
    assertEnvelope(res, 400, "validation_error");
    expect(res.body.details[0]).toMatchObject({ rule: "media_mismatch", message: "the file was uploaded as image/jpeg, not the declared image/png" });
    expect(await counts(profileId)).toMatchObject({ posts: 0 });
  });

  it("an uploaded image to TikTok, or over a target network's size limit, breaks a posting rule", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const png = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    const tiktok = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "tiktok", content: "hi", media: [{ id: png.media.id }] } });
    assertEnvelope(tiktok, 400, "validation_error");
    expect(tiktok.body.details).toContainEqual(expect.objectContaining({ field: "media", platform: "tiktok", rule: "media_compatibility" }));
    // 6 MB fits Threads or Pinterest (nothing is connected yet), but not X (5 MB).
    const big = await uploadUrl(apiKey, { fileName: "big.png", contentType: "image/png", fileSize: 6 * MB });
    const x = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "hi", media: [{ id: big.media.id }] } });
    assertEnvelope(x, 400, "validation_error");
    expect(x.body.details).toContainEqual({ field: "media", platform: "twitter", rule: "media_size", message: "Twitter / X accepts image/png up to 5 MB; this file is 6 MB" });
    expect(await counts(profileId)).toMatchObject({ posts: 0 });
  });

  it("an id that is not a UUID, or media by URL without its type, is a validation error", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const byId = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "hi", media: [{ id: "media_uuid" }] } });
    assertEnvelope(byId, 400, "validation_error");
    expect(byId.body.details[0].field).toBe("media.0.id");
    const byUrl = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "hi", media: [{ public_url: "https://cdn.example/a.png" }] } });
    assertEnvelope(byUrl, 400, "validation_error");
    expect(byUrl.body.details[0].field).toBe("media.0.mime_type");
  });
});

describe("DELETE /api/v1/media: refused", () => {
  it("while a post not yet published uses it (409); once that post is canceled it may go", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const { upload, media } = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    await put(upload.signedUrl, PNG, "image/png");
    const post = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: "later", scheduleDate: new Date(Date.now() + 3_600_000).toISOString(), media: [{ id: media.id }] },
    });
    expect(post.status, JSON.stringify(post.body)).toBe(201);
    const refused = await t.call("DELETE", "/api/v1/media", { apiKey, body: { filePath: media.file_path } });
    assertEnvelope(refused, 409, "conflict");
    expect(refused.body.details).toEqual({ postIds: [post.body.postId] });
    expect((await fetch(media.public_url)).status).toBe(200);

    const [target] = await t.sql`select id from public.post_targets where post_id = ${post.body.postId}`;
    expect((await t.call("DELETE", `/api/v1/scheduled-posts/${target!.id}`, { apiKey })).status).toBe(200);
    expect((await t.call("DELETE", "/api/v1/media", { apiKey, body: { filePath: media.file_path } })).status).toBe(200);
    expect((await fetch(media.public_url)).status).toBe(400);
  });

  it("another profile's media, or a path that names nothing, answers 404 and the file stays", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    const { upload, media } = await uploadUrl(a.apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    await put(upload.signedUrl, PNG, "image/png");
    assertEnvelope(await t.call("DELETE", "/api/v1/media", { apiKey: b.apiKey, body: { filePath: media.file_path } }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", "/api/v1/media", { apiKey: a.apiKey, body: { filePath: `${media.file_path}x` } }), 404, "not_found");
    expect((await fetch(media.public_url)).status).toBe(200);
    expect(await counts(a.profileId)).toMatchObject({ media: 1 });
  });
});
