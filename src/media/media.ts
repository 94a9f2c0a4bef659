import type { Tx } from "../core/db.js";
import { AppError, notFound } from "../core/errors.js";
import type { Platform } from "../platforms/catalog.js";
import { mediaBucket, mediaTypes, uploadViolations, type MediaType } from "./limits.js";

export interface MediaRow {
  id: string;
  profile_id: string;
  file_path: string;
  public_url: string;
  mime_type: string;
  file_size: number;
  file_name: string;
  created_at: Date;
}

const mediaColumns = "id, profile_id, file_path, public_url, mime_type, file_size::float8 as file_size, file_name, created_at";

/** The contract's `media` object. Media is not yet attached to a post when it is created: `post_id` is "". */
export function serializeMedia(m: MediaRow) {
  return {
    id: m.id,
    post_id: "",
    file_path: m.file_path,
    public_url: m.public_url,
    mime_type: m.mime_type,
    file_size: Number(m.file_size),
    file_name: m.file_name,
    sort_order: 0,
    created_at: m.created_at.toISOString(),
  };
}

/**
 * A file name safe in a Storage key and a URL: the last path segment, accents dropped, anything outside
 * `[A-Za-z0-9._-]` replaced by `-`, at most 100 characters (the extension kept). Nothing usable left → `file.<ext>`.
 */
export function safeFileName(fileName: string, mimeType: MediaType): string {
  const base = fileName.split(/[\\/]/).pop() ?? "";
  let safe = base
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/-*\.-*/g, ".")
    .replace(/^[-.]+|[-.]+$/g, "");
  if (safe.length > 100) {
    const dot = safe.lastIndexOf(".");
    const extension = dot > 0 && safe.length - dot <= 10 ? safe.slice(dot) : "";
    safe = safe.slice(0, 100 - extension.length).replace(/[-.]+$/, "") + extension;
  }
  return safe || `file.${mediaTypes[mimeType].extension}`;
}

/** `user_uuid/profile_uuid/media_uuid-<safe file name>`, as the contract shows it. */
export function mediaObjectPath(userId: string, profileId: string, mediaId: string, fileName: string, mimeType: MediaType): string {
  return `${userId}/${profileId}/${mediaId}-${safeFileName(fileName, mimeType)}`;
}

/** The networks of the profile's connected accounts (any state: an account needing reconnection comes back). */
export async function connectedPlatforms(tx: Tx, profileId: string): Promise<Platform[]> {
  const rows = await tx<{ platform: Platform }[]>`select distinct platform from public.connections where profile_id = ${profileId}`;
  return rows.map((r) => r.platform);
}

/** 400 naming the field and the rule when no network the profile can publish to takes this file. */
export async function assertUploadAccepted(tx: Tx, profileId: string, mimeType: MediaType, fileSize: number): Promise<void> {
  const violations = uploadViolations(await connectedPlatforms(tx, profileId), mimeType, fileSize);
  const first = violations[0];
  if (first) throw new AppError("validation_error", first.message, { details: violations });
}

export async function insertMedia(
  tx: Tx,
  m: { id: string; profileId: string; userId: string; filePath: string; publicUrl: string; mimeType: MediaType; fileSize: number; fileName: string },
): Promise<MediaRow> {
  const [row] = await tx<MediaRow[]>`
    insert into public.media (id, profile_id, uploaded_by, bucket, file_path, public_url, mime_type, file_size, file_name)
    values (${m.id}, ${m.profileId}, ${m.userId}, ${mediaBucket.id}, ${m.filePath}, ${m.publicUrl}, ${m.mimeType}, ${m.fileSize}, ${m.fileName})
    returning ${tx.unsafe(mediaColumns)}`;
  return row!;
}

/**
 * Per-media transaction locks: attaching takes them shared, deleting exclusive, so a delete waits for the posts
 * being created with the media (and then sees them), and a post waits for a delete (and then finds nothing).
 */
async function lockMedia(tx: Tx, ids: string[], mode: "shared" | "exclusive"): Promise<void> {
  for (const id of [...new Set(ids)].sort()) {
    await (mode === "shared"
      ? tx`select pg_advisory_xact_lock_shared(hashtextextended(${"media:" + id}, 0))`
      : tx`select pg_advisory_xact_lock(hashtextextended(${"media:" + id}, 0))`);
  }
}

/**
 * The profile's media with these ids, locked against deletion until the caller's transaction ends. Media of another
 * profile (or none at all) answers 404: nothing says whether it exists elsewhere.
 */
export async function mediaForAttaching(tx: Tx, profileId: string, ids: string[]): Promise<Map<string, MediaRow>> {
  if (!ids.length) return new Map();
  await lockMedia(tx, ids, "shared");
  const rows = await tx<MediaRow[]>`
    select ${tx.unsafe(mediaColumns)} from public.media where profile_id = ${profileId} and id = any(${ids}::uuid[])`;
  const found = new Map(rows.map((r) => [r.id, r]));
  const missing = ids.find((id) => !found.has(id));
  if (missing) throw new AppError("not_found", `Media ${missing} not found in this profile`);
  return found;
}

/**
 * Deletes the profile's media at `filePath` and its file, unless a post that still needs it uses it (a target
 * pending, publishing, or failed and so retryable) or a template names it: 409 naming those posts or templates.
 * The file is removed inside the transaction, so a failed removal leaves the record in place.
 */
export async function deleteMedia(tx: Tx, profileId: string, filePath: string, removeFile: (path: string) => Promise<void>): Promise<void> {
  const [media] = await tx<{ id: string }[]>`select id from public.media where profile_id = ${profileId} and file_path = ${filePath}`;
  if (!media) throw notFound("Media");
  await lockMedia(tx, [media.id], "exclusive");
  const inUse = await tx<{ post_id: string }[]>`
    select distinct pm.post_id from public.post_media pm
    join public.post_targets t on t.post_id = pm.post_id
    where pm.media_id = ${media.id} and t.status in ('pending', 'publishing', 'failed')
    order by pm.post_id`;
  if (inUse.length) {
    const posts = inUse.map((r) => r.post_id);
    throw new AppError(
      "conflict",
      `This media is used by ${posts.length === 1 ? "a post" : `${posts.length} posts`} not yet published (${posts.join(", ")}); delete it once ${posts.length === 1 ? "that post is" : "they are"} published or canceled`,
      { details: { postIds: posts } },
    );
  }
  // A template naming the file keeps it until the template drops it (the schema's foreign key refuses it too).
  const templates = await tx<{ id: string; name: string }[]>`
    select distinct t.id, t.name from public.template_media tm join public.templates t on t.id = tm.template_id
    where tm.media_id = ${media.id} order by t.name, t.id`;
  if (templates.length) {
    const names = templates.map((t) => `'${t.name}'`).join(", ");
    throw new AppError(
      "conflict",
      `This media is used by ${templates.length === 1 ? "the template" : "the templates"} ${names}; remove it from ${templates.length === 1 ? "that template" : "them"} first`,
      { details: { templateIds: templates.map((t) => t.id) } },
    );
  }
  const deleted = await tx`delete from public.media where id = ${media.id} returning id`;
  if (!deleted.length) throw notFound("Media");
  await removeFile(filePath);
}
