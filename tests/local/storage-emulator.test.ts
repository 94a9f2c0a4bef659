import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { SupabaseClient } from "@supabase/supabase-js";
import { decodeJwt, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roleKey } from "../../src/local/home.js";
import { createStorageEmulator } from "../../src/local/storage-emulator.js";
import type { FetchHandler } from "../../src/local/server.js";
import { supabaseClient } from "../helpers/supabase.js";

/**
 * The local Supabase Storage emulator on its own, in-process, driven by @supabase/supabase-js v2 itself (its fetch
 * goes straight to the emulator's handler) and by plain HTTP requests, as `curl` would send them.
 */

const BASE = "http://storage.test";
const jwtSecret = "storage-emulator-test-secret-0123456789abcdef";
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0xff, 0xd9]);

let root: string;
let emulator: FetchHandler;
let service: SupabaseClient;
let anon: SupabaseClient;
let n = 0;
const newPath = (ext = "png") => `user/profile/${++n}-file.${ext}`;

const send: typeof fetch = (input, init) => emulator(new Request(input, init));
const client = (key: string) => supabaseClient(BASE, key, { fetch: send });

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "amplify-storage-test-"));
  emulator = createStorageEmulator({
    root,
    jwtSecret,
    buckets: [
      { id: "post-media", public: true, fileSizeLimit: 1024, allowedMimeTypes: ["image/png", "image/jpeg", "video/mp4"] },
      { id: "private", public: false },
    ],
  });
  service = client(await roleKey("service_role", jwtSecret));
  anon = client(await roleKey("anon", jwtSecret));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function signed(p: string, declared?: { type: string; size: number }) {
  const bucket = service.storage.from("post-media");
  if (declared) {
    bucket.setHeader("x-amplify-declared-content-type", declared.type).setHeader("x-amplify-declared-content-length", String(declared.size));
  }
  const { data, error } = await bucket.createSignedUploadUrl(p);
  expect(error).toBeNull();
  return data!;
}

async function put(url: string, body: Uint8Array, contentType: string) {
  const res = await send(url, { method: "PUT", headers: { "content-type": contentType }, body: body as Uint8Array<ArrayBuffer> });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe("storage emulator: the requests supabase-js sends", () => {
  it("createSignedUploadUrl answers a two-hour token for that one object, in a URL under /storage/v1", async () => {
    const p = newPath();
    const data = await signed(p);
    expect(data.path).toBe(p);
    expect(data.signedUrl).toBe(`${BASE}/storage/v1/object/upload/sign/post-media/${p}?token=${data.token}`);
    const claims = decodeJwt(data.token);
    expect(claims).toMatchObject({ url: `post-media/${p}`, upsert: false });
    expect(claims.exp! - claims.iat!).toBe(7200);
  });

  it("uploadToSignedUrl stores raw bytes and a Blob (multipart) alike; the public URL serves them with their type", async () => {
    const p1 = newPath();
    const a = await signed(p1);
    const raw = await service.storage.from("post-media").uploadToSignedUrl(p1, a.token, PNG, { contentType: "image/png" });
    expect(raw).toEqual({ data: { path: p1, fullPath: `post-media/${p1}` }, error: null });

    const p2 = newPath("jpg");
    const b = await signed(p2);
    const blob = await service.storage.from("post-media").uploadToSignedUrl(p2, b.token, new Blob([JPEG], { type: "image/jpeg" }));
    expect(blob.error).toBeNull();

    for (const [p, bytes, type] of [[p1, PNG, "image/png"], [p2, JPEG, "image/jpeg"]] as const) {
      const { publicUrl } = service.storage.from("post-media").getPublicUrl(p).data;
      expect(publicUrl).toBe(`${BASE}/storage/v1/object/public/post-media/${p}`);
      const res = await send(publicUrl);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(type);
      expect(res.headers.get("content-length")).toBe(String(bytes.length));
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    }
  });

  it("serves byte ranges (206), HEAD, and 416 past the end", async () => {
    const p = newPath();
    await service.storage.from("post-media").uploadToSignedUrl(p, (await signed(p)).token, PNG, { contentType: "image/png" });
    const url = service.storage.from("post-media").getPublicUrl(p).data.publicUrl;
    const part = await send(url, { headers: { range: "bytes=0-7" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 0-7/${PNG.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(PNG.subarray(0, 8))).toBe(true);
    const head = await send(url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(PNG.length));
    const past = await send(url, { headers: { range: `bytes=${PNG.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${PNG.length}`);
  });

  it("remove deletes with the service role, skips missing files, and deletes nothing for other keys", async () => {
    const p = newPath();
    await service.storage.from("post-media").uploadToSignedUrl(p, (await signed(p)).token, PNG, { contentType: "image/png" });
    const refused = await anon.storage.from("post-media").remove([p]);
    expect(refused).toEqual({ data: [], error: null });
    const removed = await service.storage.from("post-media").remove([p, "user/profile/never-there.png"]);
    expect(removed.error).toBeNull();
    expect(removed.data).toEqual([expect.objectContaining({ name: p, bucket_id: "post-media", metadata: expect.objectContaining({ size: PNG.length, mimetype: "image/png" }) })]);
    const gone = await send(service.storage.from("post-media").getPublicUrl(p).data.publicUrl);
    expect(gone.status).toBe(400);
    expect(await gone.json()).toMatchObject({ statusCode: "404", error: "NoSuchKey", message: "Object not found" });
  });
});

describe("storage emulator: what it refuses, as Supabase Storage does", () => {
  it("an unknown route is 404 and a known one under another method 405 with Allow, in Storage's error shape", async () => {
    const missing = await send(`${BASE}/storage/v1/bucket`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ statusCode: "404", error: "Not Found", message: "Route GET:/storage/v1/bucket not found" });
    const wrong = await send(`${BASE}/storage/v1/object/post-media`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("DELETE");
    expect(await wrong.json()).toMatchObject({ statusCode: "405", error: "Method Not Allowed" });
  });

  it("a replayed token cannot overwrite: 409 Duplicate, the first file kept", async () => {
    const p = newPath();
    const { token } = await signed(p);
    expect((await service.storage.from("post-media").uploadToSignedUrl(p, token, PNG, { contentType: "image/png" })).error).toBeNull();
    const again = await service.storage.from("post-media").uploadToSignedUrl(p, token, JPEG, { contentType: "image/jpeg" });
    expect(again.error).toMatchObject({ status: 400, statusCode: "409", message: "The resource already exists" });
    const res = await send(service.storage.from("post-media").getPublicUrl(p).data.publicUrl);
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);
  });

  it("signing needs the service role (no storage.objects policy lets anyone else insert), and a real bucket", async () => {
    const { error } = await anon.storage.from("post-media").createSignedUploadUrl(newPath());
    expect(error).toMatchObject({ status: 400, statusCode: "403", message: "new row violates row-level security policy" });
    const missing = await service.storage.from("nope").createSignedUploadUrl(newPath());
    expect(missing.error).toMatchObject({ status: 400, statusCode: "404", message: "Bucket not found" });
    const unsigned = await send(`${BASE}/storage/v1/object/upload/sign/post-media/${newPath()}`, { method: "POST", body: "{}" });
    expect(unsigned.status).toBe(400);
  });

  it("refuses a forged, expired or misdirected token", async () => {
    const p = newPath();
    const { signedUrl } = await signed(p);
    const forged = await new SignJWT({ url: `post-media/${p}` }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1h").sign(new TextEncoder().encode("x".repeat(40)));
    expect(await put(signedUrl.replace(/token=.*/, `token=${forged}`), PNG, "image/png")).toEqual({
      status: 400,
      body: { statusCode: "400", code: "InvalidJWT", error: "InvalidJWT", message: "invalid signature" },
    });
    const expired = await new SignJWT({ url: `post-media/${p}` })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7300)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 100)
      .sign(new TextEncoder().encode(jwtSecret));
    expect((await put(signedUrl.replace(/token=.*/, `token=${expired}`), PNG, "image/png")).body).toMatchObject({ code: "InvalidJWT", message: "jwt expired" });
    const other = await signed(newPath());
    expect((await put(signedUrl.replace(/token=.*/, `token=${other.token}`), PNG, "image/png")).body).toMatchObject({
      code: "InvalidSignature",
      message: "The url do not match the signature",
    });
    expect((await put(signedUrl.replace(/\?token=.*/, ""), PNG, "image/png")).status).toBe(400);
  });

  it("enforces the bucket's allowed types and size limit", async () => {
    const p = newPath("txt");
    const wrongType = await put((await signed(p)).signedUrl, Buffer.from("hello"), "text/plain");
    expect(wrongType).toEqual({ status: 400, body: expect.objectContaining({ statusCode: "415", message: "mime type text/plain is not supported" }) });
    const big = Buffer.concat([PNG, Buffer.alloc(2000)]);
    const tooBig = await put((await signed(newPath())).signedUrl, big, "image/png");
    expect(tooBig).toEqual({ status: 400, body: expect.objectContaining({ statusCode: "413", error: "EntityTooLarge" }) });
  });

  it("refuses keys that could leave the bucket's directory", async () => {
    for (const key of ["a//b.png", "a/%5C..%5Cb.png", "a/%00.png", ".meta/x.png"]) {
      const res = await send(`${BASE}/storage/v1/object/public/post-media/${key}`);
      expect(res.status, key).toBe(400);
      expect(await res.json(), key).toMatchObject({ code: "InvalidKey" });
    }
    // Dot segments never reach the emulator: URL parsing resolves them first, and what remains names no object.
    const dotted = await signed("a/../../escape.png").catch(() => undefined);
    if (dotted) expect((await put(dotted.signedUrl, PNG, "image/png")).status).toBe(400);
    expect(await readdir(root)).not.toContain("escape.png");
  });
});

describe("storage emulator: stricter than Supabase where the local home can be", () => {
  it("refuses bytes that are not the declared type (magic numbers), and stores nothing", async () => {
    const p = newPath();
    const res = await put((await signed(p)).signedUrl, JPEG, "image/png");
    expect(res).toEqual({
      status: 400,
      body: expect.objectContaining({ message: "The file was declared as image/png but its bytes are a JPEG image (image/jpeg)" }),
    });
    const notVideo = await put((await signed(newPath("mp4"))).signedUrl, PNG, "video/mp4");
    expect(notVideo.body.message).toBe("The file was declared as video/mp4 but its bytes are a PNG image (image/png)");
    expect((await send(service.storage.from("post-media").getPublicUrl(p).data.publicUrl)).status).toBe(400);
  });

  it("holds a PUT to the type and size declared when the URL was signed", async () => {
    const declared = { type: "image/png", size: PNG.length };
    const otherType = await put((await signed(newPath(), declared)).signedUrl, JPEG, "image/jpeg");
    expect(otherType.body).toMatchObject({ statusCode: "415", message: "Content-Type image/jpeg does not match the image/png this upload URL was created for" });
    const more = await put((await signed(newPath(), declared)).signedUrl, Buffer.concat([PNG, Buffer.alloc(10)]), "image/png");
    expect(more.body).toMatchObject({ statusCode: "413", message: `The object exceeded the ${PNG.length} bytes this upload URL was created for` });
    const fewer = await put((await signed(newPath(), declared)).signedUrl, PNG.subarray(0, 40), "image/png");
    expect(fewer.body).toMatchObject({ statusCode: "400", message: `Received 40 bytes, but this upload URL was created for ${PNG.length} bytes` });
    const exact = await put((await signed(newPath(), declared)).signedUrl, PNG, "image/png");
    expect(exact.status).toBe(200);
  });
});
