import { randomBytes } from "node:crypto";
import { env } from "../core/env.js";
import { AppError } from "../core/errors.js";
import { log } from "../core/log.js";
import { formatBytes, mediaBucket, normalizeMimeType } from "./limits.js";
import { signatureMismatch, SNIFF_BYTES } from "./sniff.js";

const TIMEOUT_MS = 10_000;

/** Where Storage serves the media bucket's files (what supabase-js `getPublicUrl` builds on). */
const publicPrefix = () => `${env().SUPABASE_URL.replace(/\/+$/, "")}/storage/v1/object/public/${mediaBucket.id}/`;

export interface StoredMedia {
  id: string;
  public_url: string;
  mime_type: string;
  file_size: number;
}

/** What Storage holds at a public URL: nothing, or the file's type, total size and first bytes. */
export type StoredObject = { present: false } | { present: true; contentType: string | null; size: number | null; head: Uint8Array };

async function readHead(res: Response): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array();
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < SNIFF_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  return Buffer.concat(chunks).subarray(0, SNIFF_BYTES);
}

/**
 * Reads the first bytes of a public object with a Range request (one round trip, whatever the file's size), through
 * a cache-busting `cacheNonce` so a CDN never answers with what it saw before the upload. Supabase Storage answers a
 * missing object with 400 or 404.
 */
export async function inspectStoredObject(publicUrl: string): Promise<StoredObject> {
  const url = new URL(publicUrl);
  url.searchParams.set("cacheNonce", randomBytes(6).toString("hex"));
  let res: Response;
  try {
    res = await fetch(url, { headers: { range: `bytes=0-${SNIFF_BYTES - 1}` }, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: "manual" });
  } catch (error) {
    log.error("media storage did not answer", { error, url: publicUrl });
    throw new AppError("service_unavailable", "Media storage is unavailable; try again shortly");
  }
  if (res.status === 400 || res.status === 404) {
    await res.body?.cancel().catch(() => {});
    return { present: false };
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel().catch(() => {});
    log.error("media storage answered unexpectedly", { status: res.status, url: publicUrl });
    throw new AppError("service_unavailable", "Media storage is unavailable; try again shortly");
  }
  const range = /\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
  const length = res.headers.get("content-length");
  const size = res.status === 206 ? (range ? Number(range[1]) : null) : length !== null ? Number(length) : null;
  const type = res.headers.get("content-type");
  return { present: true, contentType: type ? normalizeMimeType(type) : null, size, head: await readHead(res) };
}

/**
 * Refuses media whose file is not (yet) in Storage, or differs from what was declared when its upload URL was made:
 * another content type, another size, or bytes that are not the declared type. What is checked is the record; what
 * is trusted afterwards is the record too.
 */
export async function assertUploadedAsDeclared(media: StoredMedia): Promise<void> {
  const issue = (message: string, rule: string) =>
    new AppError("validation_error", `Media ${media.id}: ${message}`, { details: [{ field: "media", message, rule }] });
  // Only our own bucket is ever read here: a record pointing anywhere else was not made by upload-url.
  if (!media.public_url.startsWith(publicPrefix())) throw issue("this media record does not point at the media bucket", "media_uploaded");
  const stored = await inspectStoredObject(media.public_url);
  if (!stored.present) {
    throw issue("the file has not been uploaded yet; PUT it to the upload's signedUrl first", "media_uploaded");
  }
  if (stored.contentType !== null && stored.contentType !== media.mime_type) {
    throw issue(`the file was uploaded as ${stored.contentType}, not the declared ${media.mime_type}`, "media_mismatch");
  }
  if (stored.size !== null && stored.size !== media.file_size) {
    throw issue(`the file is ${formatBytes(stored.size)}, not the declared ${formatBytes(media.file_size)}`, "media_mismatch");
  }
  const mismatch = signatureMismatch(media.mime_type, stored.head);
  if (mismatch) throw issue(mismatch, "media_mismatch");
}
