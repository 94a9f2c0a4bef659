import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from "jose";
import { normalizeMimeType } from "../media/limits.js";
import { signatureMismatch, SNIFF_BYTES } from "../media/sniff.js";
import { declaredHeaders } from "../media/storage.js";
import { dispatcher, json as jsonAnswer, Reply } from "./emulator.js";
import type { FetchHandler } from "./server.js";

/**
 * A local emulation of the Supabase Storage object endpoints @supabase/supabase-js v2 uses for media, mounted at
 * `/storage/v1`:
 *
 *   POST   /object/upload/sign/<bucket>/<path>          createSignedUploadUrl → { url, token } (service role)
 *   PUT    /object/upload/sign/<bucket>/<path>?token=   uploadToSignedUrl, or any HTTP client (raw body or multipart)
 *   GET    /object/public/<bucket>/<path>               public read (HEAD too; single byte ranges → 206)
 *   DELETE /object/<bucket>   { prefixes: [...] }       remove (service role; missing files are skipped)
 *
 * As Supabase Storage does it: upload tokens are HS256 JWTs signed with the project's JWT secret, carrying
 * `{ url: "<bucket>/<path>", upsert, owner }` and valid two hours; a token without upsert cannot overwrite, so a
 * replayed token answers "The resource already exists"; buckets enforce their `file_size_limit` and
 * `allowed_mime_types`; errors are `{ statusCode, code, error, message }` with HTTP 400 (500 for faults).
 *
 * Beyond Supabase, where the local home can be stricter: a signing request may declare the content type and size
 * the upload will have (`x-amplify-declared-*` headers, see src/media/storage.ts); the token then carries them and
 * the PUT must match them exactly. Every upload's first bytes must match its content type where the type is one we
 * recognise (PNG, JPEG, GIF, WebP, MP4, MOV).
 *
 * Files live under `root`: `<root>/<bucket>/<path>`, their metadata under `<root>/.meta/`.
 */
export interface StorageBucket {
  id: string;
  public: boolean;
  /** Largest object in bytes (Supabase: `file_size_limit`). */
  fileSizeLimit?: number;
  /** Accepted content types (Supabase: `allowed_mime_types`); `image/*` patterns allowed. */
  allowedMimeTypes?: string[];
}

export interface StorageEmulatorOptions {
  root: string;
  /** The project's JWT secret: verifies the caller's key and signs upload tokens. */
  jwtSecret: string;
  buckets: StorageBucket[];
  /** Where it is mounted (default `/storage/v1`). */
  prefix?: string;
  /** Upload token lifetime (Supabase: 2 hours). */
  signedUploadExpiresInSeconds?: number;
  now?: () => Date;
}

interface ObjectMetadata {
  id: string;
  owner: string | null;
  mimetype: string;
  size: number;
  eTag: string;
  cacheControl: string;
  createdAt: string;
  updatedAt: string;
}

interface UploadClaims extends JWTPayload {
  url: string;
  upsert?: boolean;
  owner?: string;
  declared_content_type?: string;
  declared_content_length?: number;
}

/**
 * A Storage error as Supabase renders it: HTTP 400 for anything the client did (416 and 5xx keep theirs), the real
 * status as a string in `statusCode`, the code in both `code` and `error`.
 */
function storageError(statusCode: number, code: string, message: string, headers: Record<string, string> = {}): Reply {
  const body = { statusCode: String(statusCode), code, error: code, message };
  return new Reply(json(statusCode >= 500 ? 500 : statusCode === 416 ? 416 : 400, body, headers));
}

const cors = {
  "access-control-allow-headers":
    "authorization, apikey, content-type, cache-control, x-client-info, x-upsert, x-metadata, range, " +
    `${declaredHeaders.contentType}, ${declaredHeaders.fileSize}`,
  "access-control-allow-methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
  "access-control-expose-headers": "content-range, content-length, etag, last-modified",
};

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return jsonAnswer(status, body, { ...cors, ...headers });
}

const objectNotFound = () => storageError(404, "NoSuchKey", "Object not found");
const bucketNotFound = () => storageError(404, "NoSuchBucket", "Bucket not found");
const alreadyExists = () => storageError(409, "Duplicate", "The resource already exists");

function jwtMessage(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "jwt expired";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "invalid signature";
  return "jwt malformed";
}

/** `a/b%20c.png` → ["a", "b c.png"], refusing keys that could leave the bucket's directory. */
function objectKey(encoded: string): string {
  let segments: string[];
  try {
    segments = encoded.split("/").map((s) => decodeURIComponent(s));
  } catch {
    throw storageError(400, "InvalidKey", `Invalid key: ${encoded}`);
  }
  const key = segments.join("/");
  const bad = segments.some((s) => s === "" || s === "." || s === ".." || s.startsWith(".meta") || /[\u0000-\u001f\\]/.test(s));
  if (bad || key.length > 1024) throw storageError(400, "InvalidKey", `Invalid key: ${key}`);
  return key;
}

/** `bytes=0-15` → { start, end } within `size`; undefined when absent or not a single simple range (served whole). */
function parseRange(header: string | null, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}

function acceptsType(patterns: string[] | undefined, type: string): boolean {
  if (!patterns?.length) return true;
  return patterns.some((p) => (p.endsWith("/*") ? type.startsWith(p.slice(0, -1)) : p === type));
}

export function createStorageEmulator(options: StorageEmulatorOptions): FetchHandler {
  const root = path.resolve(options.root);
  const prefix = options.prefix ?? "/storage/v1";
  const ttl = options.signedUploadExpiresInSeconds ?? 7200;
  const now = options.now ?? (() => new Date());
  const secret = new TextEncoder().encode(options.jwtSecret);
  const buckets = new Map(options.buckets.map((b) => [b.id, b]));

  const dataPath = (bucket: string, key: string) => path.join(root, bucket, ...key.split("/"));
  const metaPath = (bucket: string, key: string) => `${path.join(root, ".meta", bucket, ...key.split("/"))}.json`;

  function bucketOrThrow(id: string): StorageBucket {
    const bucket = buckets.get(id);
    if (!bucket) throw bucketNotFound();
    return bucket;
  }

  async function readMeta(bucket: string, key: string): Promise<ObjectMetadata | undefined> {
    try {
      return JSON.parse(await readFile(metaPath(bucket, key), "utf8")) as ObjectMetadata;
    } catch {
      return undefined;
    }
  }

  /** The caller's role from `Authorization: Bearer <jwt>`: the service role bypasses policies; there are none else. */
  async function callerRole(req: Request): Promise<{ role: string; sub?: string }> {
    const token = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
    if (!token) throw storageError(400, "InvalidJWT", "headers must have required property 'authorization'");
    try {
      const { payload } = await jwtVerify(token, secret, { algorithms: ["HS256"], currentDate: now() });
      return { role: String(payload.role ?? "anon"), sub: payload.sub };
    } catch (error) {
      throw storageError(400, "InvalidJWT", jwtMessage(error));
    }
  }

  // POST /object/upload/sign/<bucket>/<path>
  async function signUpload(req: Request, bucketId: string, key: string): Promise<Response> {
    const caller = await callerRole(req);
    bucketOrThrow(bucketId);
    if (caller.role !== "service_role") {
      // Supabase checks INSERT on storage.objects; the project defines no policy that would allow it.
      throw storageError(403, "AccessDenied", "new row violates row-level security policy");
    }
    const upsert = req.headers.get("x-upsert") === "true";
    if (!upsert && (await readMeta(bucketId, key))) throw alreadyExists();
    const claims: UploadClaims = { url: `${bucketId}/${key}`, upsert, ...(caller.sub ? { owner: caller.sub } : {}) };
    const declaredType = req.headers.get(declaredHeaders.contentType);
    const declaredSize = req.headers.get(declaredHeaders.fileSize);
    if (declaredType) claims.declared_content_type = normalizeMimeType(declaredType);
    if (declaredSize && /^\d+$/.test(declaredSize)) claims.declared_content_length = Number(declaredSize);
    const issuedAt = Math.floor(now().getTime() / 1000);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttl)
      .sign(secret);
    const encoded = [bucketId, ...key.split("/")].map(encodeURIComponent).join("/");
    return json(200, { url: `/object/upload/sign/${encoded}?token=${token}`, token });
  }

  async function verifyUploadToken(token: string | null, bucketId: string, key: string): Promise<UploadClaims> {
    if (!token) throw storageError(400, "InvalidRequest", "querystring must have required property 'token'");
    let claims: UploadClaims;
    try {
      claims = (await jwtVerify(token, secret, { algorithms: ["HS256"], currentDate: now() })).payload as UploadClaims;
    } catch (error) {
      throw storageError(400, "InvalidJWT", jwtMessage(error));
    }
    if (claims.url !== `${bucketId}/${key}`) throw storageError(400, "InvalidSignature", "The url do not match the signature");
    return claims;
  }

  /** The upload's bytes and declared content type: a raw body, or the file part of a multipart form (supabase-js with a Blob). */
  async function uploadSource(req: Request): Promise<{ contentType: string; cacheControl: string; body: ReadableStream<Uint8Array> | null }> {
    const headerType = req.headers.get("content-type") ?? "";
    if (/^multipart\/form-data/i.test(headerType)) {
      const form = await req.formData();
      const file = [...form.values()].find((v): v is File => typeof v !== "string");
      if (!file) throw storageError(400, "InvalidRequest", "No content provided");
      const cacheControl = form.get("cacheControl");
      return {
        contentType: normalizeMimeType(file.type || "text/plain"),
        cacheControl: typeof cacheControl === "string" ? `max-age=${cacheControl}` : "no-cache",
        body: file.stream(),
      };
    }
    return {
      contentType: normalizeMimeType(headerType || "text/plain"),
      cacheControl: req.headers.get("cache-control") ?? "no-cache",
      body: req.body,
    };
  }

  /** Streams the body to a temporary file, refusing more than `limit` bytes; returns its size, first bytes and MD5. */
  async function receive(body: ReadableStream<Uint8Array> | null, limit: number, tooLarge: () => Reply) {
    const tempDir = path.join(root, ".tmp");
    await mkdir(tempDir, { recursive: true });
    const temp = path.join(tempDir, randomUUID());
    const out = createWriteStream(temp);
    const md5 = createHash("md5");
    const head: Uint8Array[] = [];
    let size = 0;
    let headSize = 0;
    try {
      if (body) {
        const reader = body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.byteLength;
          if (size > limit) {
            await reader.cancel().catch(() => {});
            throw tooLarge();
          }
          if (headSize < SNIFF_BYTES) {
            head.push(value.subarray(0, SNIFF_BYTES - headSize));
            headSize += Math.min(value.byteLength, SNIFF_BYTES - headSize);
          }
          md5.update(value);
          if (!out.write(value)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
        }
      }
      await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
      return { temp, size, head: Buffer.concat(head), eTag: md5.digest("hex") };
    } catch (error) {
      out.destroy();
      await rm(temp, { force: true });
      throw error;
    }
  }

  // PUT /object/upload/sign/<bucket>/<path>?token=
  async function uploadToSigned(req: Request, url: URL, bucketId: string, key: string): Promise<Response> {
    const claims = await verifyUploadToken(url.searchParams.get("token"), bucketId, key);
    const bucket = bucketOrThrow(bucketId);
    if (!claims.upsert && (await readMeta(bucketId, key))) throw alreadyExists();
    const declared = claims.declared_content_length;
    const limit = Math.min(bucket.fileSizeLimit ?? Infinity, declared ?? Infinity);
    const tooLarge = () =>
      declared !== undefined && declared <= (bucket.fileSizeLimit ?? Infinity)
        ? storageError(413, "EntityTooLarge", `The object exceeded the ${declared} bytes this upload URL was created for`)
        : storageError(413, "EntityTooLarge", "The object exceeded the maximum allowed size");
    // Refused before reading when the length says so (a multipart form carries a little more than the file).
    const multipart = /^multipart\/form-data/i.test(req.headers.get("content-type") ?? "");
    if (Number(req.headers.get("content-length") ?? 0) > limit + (multipart ? 64 * 1024 : 0)) throw tooLarge();
    const source = await uploadSource(req);
    if (!acceptsType(bucket.allowedMimeTypes, source.contentType)) {
      throw storageError(415, "InvalidMimeType", `mime type ${source.contentType} is not supported`);
    }
    if (claims.declared_content_type && source.contentType !== claims.declared_content_type) {
      throw storageError(
        415,
        "InvalidMimeType",
        `Content-Type ${source.contentType} does not match the ${claims.declared_content_type} this upload URL was created for`,
      );
    }
    const received = await receive(source.body, limit, tooLarge);
    try {
      if (received.size === 0) throw storageError(400, "InvalidRequest", "No content provided");
      if (declared !== undefined && received.size !== declared) {
        throw storageError(
          400,
          "InvalidRequest",
          `Received ${received.size} bytes, but this upload URL was created for ${declared} bytes`,
        );
      }
      const mismatch = signatureMismatch(source.contentType, received.head);
      if (mismatch) throw storageError(400, "InvalidRequest", mismatch);
      const target = dataPath(bucketId, key);
      await mkdir(path.dirname(target), { recursive: true });
      if (claims.upsert) {
        await rename(received.temp, target);
      } else {
        // link() refuses to overwrite: of two uploads racing with one token, exactly one wins.
        await link(received.temp, target).catch((error: NodeJS.ErrnoException) => {
          throw error.code === "EEXIST" ? alreadyExists() : error;
        });
      }
      const at = now().toISOString();
      const previous = claims.upsert ? await readMeta(bucketId, key) : undefined;
      const meta: ObjectMetadata = {
        id: previous?.id ?? randomUUID(),
        owner: claims.owner ?? null,
        mimetype: source.contentType,
        size: received.size,
        eTag: `"${received.eTag}"`,
        cacheControl: source.cacheControl,
        createdAt: previous?.createdAt ?? at,
        updatedAt: at,
      };
      await writeMetaAtomically(metaPath(bucketId, key), meta);
      return json(200, { Key: `${bucketId}/${key}`, Id: meta.id });
    } finally {
      await rm(received.temp, { force: true });
    }
  }

  async function writeMetaAtomically(file: string, meta: ObjectMetadata): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, JSON.stringify(meta));
    await rename(tmp, file);
  }

  // GET|HEAD /object/public/<bucket>/<path>
  async function readPublic(req: Request, url: URL, bucketId: string, key: string): Promise<Response> {
    const bucket = bucketOrThrow(bucketId);
    if (!bucket.public) throw bucketNotFound();
    const meta = await readMeta(bucketId, key);
    const file = dataPath(bucketId, key);
    const size = meta ? await stat(file).then((s) => s.size).catch(() => undefined) : undefined;
    if (!meta || size === undefined) throw objectNotFound();
    const headers: Record<string, string> = {
      ...cors,
      "content-type": meta.mimetype,
      "cache-control": meta.cacheControl,
      etag: meta.eTag,
      "last-modified": new Date(meta.updatedAt).toUTCString(),
      "accept-ranges": "bytes",
    };
    const download = url.searchParams.get("download");
    if (download !== null) headers["content-disposition"] = `attachment; filename="${download || path.posix.basename(key)}"`;
    const range = parseRange(req.headers.get("range"), size);
    if (range === "unsatisfiable") throw storageError(416, "InvalidRange", "invalid range provided", { "content-range": `bytes */${size}` });
    const { start, end } = range ?? { start: 0, end: size - 1 };
    headers["content-length"] = String(end - start + 1);
    if (range) headers["content-range"] = `bytes ${start}-${end}/${size}`;
    const status = range ? 206 : 200;
    if (req.method === "HEAD") return new Response(null, { status, headers });
    const stream = Readable.toWeb(createReadStream(file, { start, end })) as ReadableStream<Uint8Array>;
    return new Response(stream, { status, headers });
  }

  // DELETE /object/<bucket>  { prefixes: [...] }
  async function remove(req: Request, bucketId: string): Promise<Response> {
    const caller = await callerRole(req);
    bucketOrThrow(bucketId);
    let prefixes: unknown;
    try {
      prefixes = ((await req.json()) as { prefixes?: unknown }).prefixes;
    } catch {
      throw storageError(400, "InvalidRequest", "body must be JSON");
    }
    if (!Array.isArray(prefixes) || prefixes.length < 1 || prefixes.length > 1000) {
      throw storageError(400, "InvalidRequest", "body/prefixes must contain between 1 and 1000 items");
    }
    // Without the service role Supabase's RLS (no policies here) hides every object: nothing is deleted.
    if (caller.role !== "service_role") return json(200, []);
    const removed = [];
    for (const entry of prefixes) {
      const raw = typeof entry === "string" ? entry : (entry as { path?: unknown })?.path;
      if (typeof raw !== "string") continue;
      const key = objectKey(raw.split("/").map(encodeURIComponent).join("/"));
      const meta = await readMeta(bucketId, key);
      if (!meta) continue;
      await unlink(dataPath(bucketId, key)).catch(() => {});
      await rm(metaPath(bucketId, key), { force: true });
      removed.push({
        name: key,
        bucket_id: bucketId,
        owner: meta.owner ?? "",
        id: meta.id,
        updated_at: meta.updatedAt,
        created_at: meta.createdAt,
        last_accessed_at: meta.updatedAt,
        metadata: {
          eTag: meta.eTag,
          size: meta.size,
          mimetype: meta.mimetype,
          cacheControl: meta.cacheControl,
          lastModified: meta.updatedAt,
          contentLength: meta.size,
          httpStatusCode: 200,
        },
      });
    }
    return json(200, removed);
  }

  const routes = dispatcher<URL>(
    "storage emulator",
    {
      "POST /object/upload/sign/:bucket/*": (req, p) => signUpload(req, p.bucket!, objectKey(p["*"]!)),
      "PUT /object/upload/sign/:bucket/*": (req, p, url) => uploadToSigned(req, url, p.bucket!, objectKey(p["*"]!)),
      "GET /object/public/:bucket/*": (req, p, url) => readPublic(req, url, p.bucket!, objectKey(p["*"]!)),
      "HEAD /object/public/:bucket/*": (req, p, url) => readPublic(req, url, p.bucket!, objectKey(p["*"]!)),
      "DELETE /object/:bucket": (req, p) => remove(req, p.bucket!),
    },
    {
      // Supabase Storage's router (fastify) words an unknown route this way.
      notFound: (method, path) => json(404, { statusCode: "404", error: "Not Found", message: `Route ${method}:${prefix}${path} not found` }),
      methodNotAllowed: (method, path) =>
        json(405, { statusCode: "405", error: "Method Not Allowed", message: `Route ${method}:${prefix}${path} not allowed` }),
      internal: () => storageError(500, "InternalError", "Internal server error").response,
    },
  );

  return async (req) => {
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: cors });
    const url = new URL(req.url);
    const rest = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
    return routes(req, rest, url);
  };
}
