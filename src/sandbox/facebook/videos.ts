import { sniffVideo } from "../../platforms/sniff-video.js";
import { createMedia, findMedia, injectedFailure, json, sha256Hex, snowflakeId } from "../common.js";
import { fetchMedia } from "../meta-graph.js";
import { assertCanPublish, injectedResponse } from "./publish.js";
import {
  type Call,
  type Caller,
  error400,
  type Facebook,
  facebookSandboxConfig,
  fieldList,
  invalidParameter,
  NETWORK,
  statusOf,
  unsupportedGet,
} from "./shared.js";

/** Videos: `POST /{page-id}/videos` (fetched by `file_url`, checked) and their processing status, read by polling. */

export async function videoStatus(ctx: Facebook, caller: Caller, videoId: string, params: URLSearchParams): Promise<Response> {
  const media = await findMedia(ctx, NETWORK, videoId);
  const [video] = await ctx.sql<{ page_id: string; description: string; fate: string; polls: number }[]>`
    select page_id, description, fate, polls from local_sandbox.facebook_videos where id = ${videoId}`;
  if (!media || !video || caller.kind !== "page" || caller.pageId !== video.page_id) return unsupportedGet(videoId);
  const fields = fieldList(params, ["id"]);
  let state = media.state;
  if (fields.includes("status")) state = await pollVideo(ctx, videoId, video);
  const out: Record<string, unknown> = { id: videoId };
  if (fields.includes("status")) out.status = statusOf(state, media.size_bytes ?? 0, ctx.now());
  if (fields.includes("permalink_url")) out.permalink_url = `/${video.page_id}/videos/${videoId}/`;
  if (fields.includes("description")) out.description = video.description;
  return json(200, out);
}

/** One read of the status moves processing along: ready (and published) after a few reads, failed, or never. */
export async function pollVideo(ctx: Facebook, videoId: string, video: { page_id: string; description: string; fate: string }): Promise<string> {
  return ctx.sql.begin(async (tx) => {
    const [row] = await tx<{ polls: number; state: string; mime_type: string | null; size_bytes: number | null }[]>`
      with polled as (update local_sandbox.facebook_videos set polls = polls + 1 where id = ${videoId} returning polls)
      select p.polls, m.state, m.mime_type, m.size_bytes from polled p
      join local_sandbox.media m on m.network = ${NETWORK} and m.id = ${videoId}
      for update of m`;
    if (!row || row.state !== "processing") return row?.state ?? "error";
    const next = video.fate === "fail" ? "error" : video.fate === "finish" && row.polls >= facebookSandboxConfig.videoReadyAfterPolls ? "ready" : "processing";
    if (next === "processing") return next;
    await tx`update local_sandbox.media set state = ${next} where network = ${NETWORK} and id = ${videoId}`;
    if (next === "ready") {
      await tx`
        insert into local_sandbox.posts (network, id, account_id, text, media, created_at)
        values (${NETWORK}, ${videoId}, ${video.page_id}, ${video.description},
                ${tx.json([{ id: videoId, mimeType: row.mime_type, sizeBytes: row.size_bytes }] as never)}, ${ctx.now()})`;
    }
    return next;
  });
}

export async function videos(ctx: Facebook, caller: Caller, pageId: string, params: URLSearchParams, call: Call): Promise<Response> {
  assertCanPublish(ctx, caller, pageId);
  const text = params.get("description") ?? "";
  const injected = await injectedFailure(ctx, NETWORK, pageId, text);
  if (injected && injected !== "media_error" && injected !== "media_processing") return injectedResponse(ctx, injected, "video", call);
  const url = params.get("file_url");
  if (!url) return invalidParameter("[sandbox] send the video by file_url (multipart source uploads are not emulated)");
  if (params.get("published") === "false") return invalidParameter("[sandbox] unpublished videos are not emulated");
  const fetched = await fetchMedia(url, facebookSandboxConfig.videoMaxBytes, facebookSandboxConfig.mediaFetchTimeoutMs);
  if (!fetched.ok) return error400({ message: "(#389) Unable to fetch video file from URL.", code: 389 });
  // Meta transcodes what it fetched; the sandbox only checks that a video container arrived, declared as video.
  if (!fetched.contentType?.startsWith("video/") || !sniffVideo(fetched.bytes)) {
    return error400({ message: "(#352) Sorry, the video file you selected is in a format that we don't support.", code: 352 });
  }
  const videoId = snowflakeId(ctx.now());
  await createMedia(ctx, NETWORK, {
    id: videoId,
    accountId: pageId,
    state: "processing",
    mimeType: fetched.contentType,
    sizeBytes: fetched.bytes.byteLength,
    sha256: sha256Hex(fetched.bytes),
  });
  const fate = injected === "media_error" ? "fail" : injected === "media_processing" ? "never" : "finish";
  await ctx.sql`
    insert into local_sandbox.facebook_videos (id, page_id, description, fate, created_at)
    values (${videoId}, ${pageId}, ${text}, ${fate}, ${ctx.now()})`;
  return json(200, { id: videoId });
}
