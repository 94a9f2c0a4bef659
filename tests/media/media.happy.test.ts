import { describe, expect, it } from "vitest";
import { connectAccount, sandboxPosts } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { supabaseClient } from "../helpers/supabase.js";
import { paidUserWithKey, signUp, createProfile } from "../helpers/users.js";

/**
 * Media through the front door: upload-url on our API, the PUT to the signed URL on the local Storage emulator (by
 * supabase-js and by a plain HTTP client, as `curl --data-binary` sends it), the public URL, posts that attach the
 * media by id, and deletion.
 */
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.5", PUBLISH_RETRY_BASE_SECONDS: "0.5" } });

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0xff, 0xd9]);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function uploadUrl(apiKey: string, body: Record<string, unknown>) {
  const res = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { upload: { bucket: string; path: string; token: string; signedUrl: string }; media: Record<string, any> };
}

/** What `curl -X PUT -H 'content-type: …' --data-binary @file "$signedUrl"` sends. */
const putFile = (signedUrl: string, bytes: Uint8Array, contentType: string) =>
  fetch(signedUrl, { method: "PUT", headers: { "content-type": contentType }, body: bytes as Uint8Array<ArrayBuffer> });

describe("POST /api/v1/media/upload-url", () => {
  it("answers the contract's upload and media objects, with the file under user/profile/media-id", async () => {
    const { apiKey, profileId, user } = await paidUserWithKey(t);
    const body = await uploadUrl(apiKey, { profileId, fileName: "Holiday photo (1).png", contentType: "image/png", fileSize: PNG.length });
    const id = body.media.id as string;
    expect(id).toMatch(uuid);
    const path = `${user.id}/${profileId}/${id}-Holiday-photo-1.png`;
    expect(body).toEqual({
      upload: {
        bucket: "post-media",
        path,
        token: expect.any(String),
        signedUrl: `${t.home.url}/storage/v1/object/upload/sign/post-media/${path}?token=${body.upload.token}`,
      },
      media: {
        id,
        post_id: "",
        file_path: path,
        public_url: `${t.home.url}/storage/v1/object/public/post-media/${path}`,
        mime_type: "image/png",
        file_size: PNG.length,
        file_name: "Holiday photo (1).png",
        sort_order: 0,
        created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      },
    });
    const [row] = await t.sql`select profile_id, uploaded_by, file_path, mime_type, file_size::int as file_size from public.media where id = ${id}`;
    expect(row).toEqual({ profile_id: profileId, uploaded_by: user.id, file_path: path, mime_type: "image/png", file_size: PNG.length });
  });

  it("a browser session names the profile; the API key's own profile is implied", async () => {
    const { apiKey, user } = await paidUserWithKey(t);
    const profileId = await createProfile(t, user, "Second");
    const res = await t.call("POST", "/api/v1/media/upload-url", {
      token: user.token,
      body: { profileId, fileName: "a.jpg", contentType: "IMAGE/JPEG; charset=binary", fileSize: 1000 },
    });
    expect(res.status).toBe(200);
    expect(res.body.media).toMatchObject({ mime_type: "image/jpeg", file_path: expect.stringMatching(new RegExp(`^${user.id}/${profileId}/`)) });
    const byKey = await uploadUrl(apiKey, { fileName: "b.jpg", contentType: "image/jpeg", fileSize: 1000 });
    expect(byKey.media.file_path).not.toContain(profileId);
  });

  it("checks type and size against the connected networks, or any network when none is connected", async () => {
    const { apiKey } = await paidUserWithKey(t);
    // Nothing connected: a video fits TikTok, YouTube and others; a 7 MB image fits Threads or Pinterest.
    await uploadUrl(apiKey, { fileName: "clip.mp4", contentType: "video/mp4", fileSize: 50 * 1024 * 1024 });
    await uploadUrl(apiKey, { fileName: "big.png", contentType: "image/png", fileSize: 7 * 1024 * 1024 });
    // With only X connected, both are refused: X takes no video, and images up to 5 MB.
    await connectAccount(t, { apiKey }, "twitter");
    const video = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { fileName: "clip.mp4", contentType: "video/mp4", fileSize: 1000 } });
    assertEnvelope(video, 400, "validation_error");
    expect(video.body.details).toEqual([
      { field: "contentType", rule: "media_compatibility", message: "None of this profile's connected networks (Twitter / X) can publish video/mp4" },
    ]);
    const big = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { fileName: "big.png", contentType: "image/png", fileSize: 7 * 1024 * 1024 } });
    assertEnvelope(big, 400, "validation_error");
    expect(big.body.details[0]).toMatchObject({ field: "fileSize", rule: "media_size", message: expect.stringContaining("at most 5 MB (Twitter / X)") });
    await uploadUrl(apiKey, { fileName: "ok.png", contentType: "image/png", fileSize: 5 * 1024 * 1024 });
  });
});

describe("PUT to the signed URL and the public URL", () => {
  it("supabase-js uploadToSignedUrl stores the file; its public URL serves the bytes with their type", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const { upload, media } = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    const supabase = supabaseClient(t.home.url, t.home.anonKey);
    const { data, error } = await supabase.storage.from(upload.bucket).uploadToSignedUrl(upload.path, upload.token, PNG, { contentType: "image/png" });
    expect(error).toBeNull();
    expect(data).toEqual({ path: upload.path, fullPath: `post-media/${upload.path}` });
    const res = await fetch(media.public_url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);
  });

  it("a plain PUT with the signed URL alone works (curl --data-binary)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const { upload, media } = await uploadUrl(apiKey, { fileName: "p.jpg", contentType: "image/jpeg", fileSize: JPEG.length });
    const put = await putFile(upload.signedUrl, JPEG, "image/jpeg");
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ Key: `post-media/${upload.path}` });
    const res = await fetch(media.public_url);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(Buffer.from(await res.arrayBuffer()).equals(JPEG)).toBe(true);
  });
});

describe("posts with uploaded media, end to end", () => {
  it("publishes an uploaded PNG to X by id: the network gets the image, the post keeps our record", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "twitter");
    const { upload, media } = await uploadUrl(apiKey, { fileName: "chart.png", contentType: "image/png", fileSize: PNG.length });
    expect((await putFile(upload.signedUrl, PNG, "image/png")).status).toBe(200);

    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "With a picture", media: [{ id: media.id }] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ success: true, status: "published", targets: [{ platform: "twitter", status: "published" }] });

    const published = await sandboxPosts(t, connectionId);
    expect(published).toEqual([expect.objectContaining({ text: "With a picture", media: [expect.objectContaining({ mimeType: "image/png", sizeBytes: PNG.length })] })]);
    const post = await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey });
    expect(post.body.post.media).toEqual([
      { id: expect.any(String), public_url: media.public_url, mime_type: "image/png", file_size: PNG.length, file_name: "chart.png", file_path: media.file_path },
    ]);
    const [link] = await t.sql`select media_id from public.post_media where post_id = ${res.body.postId}`;
    expect(link!.media_id).toBe(media.id);

    // Every post using it is published: the media may go now.
    const del = await t.call("DELETE", "/api/v1/media", { apiKey, body: { filePath: media.file_path } });
    expect(del.status, JSON.stringify(del.body)).toBe(200);
    expect(del.body).toEqual({ success: true, filePath: media.file_path });
  });

  it("takes type, URL and size from the record when the whole media object is sent back (the contract's example)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const { upload, media } = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    await putFile(upload.signedUrl, PNG, "image/png");
    const sent = { ...media, public_url: "https://elsewhere.example/x.gif", mime_type: "image/gif", file_size: 1 };
    const res = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: "Scheduled picture", scheduleDate: new Date(Date.now() + 3_600_000).toISOString(), media: [sent] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [stored] = await t.sql`select media_id, public_url, mime_type, file_size::int as file_size from public.post_media where post_id = ${res.body.postId}`;
    expect(stored).toEqual({ media_id: media.id, public_url: media.public_url, mime_type: "image/png", file_size: PNG.length });
  });
});

describe("DELETE /api/v1/media", () => {
  it("removes the record and the file; a second delete is 404", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const { upload, media } = await uploadUrl(apiKey, { fileName: "p.png", contentType: "image/png", fileSize: PNG.length });
    await putFile(upload.signedUrl, PNG, "image/png");
    const del = await t.call("DELETE", "/api/v1/media", { apiKey, body: { profileId, filePath: upload.path } });
    expect(del.status).toBe(200);
    expect(await t.sql`select id from public.media where id = ${media.id}`).toEqual([]);
    expect((await fetch(media.public_url)).status).toBe(400);
    assertEnvelope(await t.call("DELETE", "/api/v1/media", { apiKey, body: { filePath: upload.path } }), 404, "not_found");
  });

  it("removes media that was never uploaded", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const { media } = await uploadUrl(apiKey, { fileName: "never.png", contentType: "image/png", fileSize: 10 });
    expect((await t.call("DELETE", "/api/v1/media", { apiKey, body: { filePath: media.file_path } })).status).toBe(200);
  });

  it("a session deletes in the profile it names", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user);
    const res = await t.call("POST", "/api/v1/media/upload-url", { token: user.token, body: { profileId, fileName: "a.png", contentType: "image/png", fileSize: 10 } });
    expect(res.status).toBe(200);
    const del = await t.call("DELETE", "/api/v1/media", { token: user.token, body: { profileId, filePath: res.body.media.file_path } });
    expect(del.status).toBe(200);
  });
});
