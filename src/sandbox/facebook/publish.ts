import { type ErrorCategory } from "../../platforms/types.js";
import {
  createMedia,
  findDuplicate,
  injectedFailure,
  json,
  recordPost,
  Reply,
  sha256Hex,
  sniffImage,
  snowflakeId,
} from "../common.js";
import { fetchMedia, graphError } from "../meta-graph.js";
import {
  type Call,
  type Caller,
  duplicateStatus,
  error400,
  type Facebook,
  facebookSandboxConfig,
  invalidImage,
  invalidParameter,
  NETWORK,
  pageThrottled,
  permissionError,
  photoTooLarge,
  PUBLISH_PERMISSIONS,
  tokenErrors,
} from "./shared.js";

/** Publishing a text post (`/feed`) or a photo (`/photos`), and the errors failure injection answers with. */

/** The Page token of the Page in the path, with the permissions to publish, or Meta's (#200). */
export function assertCanPublish(ctx: Facebook, caller: Caller, pageId: string): void {
  if (caller.kind !== "page" || caller.pageId !== pageId) throw new Reply(permissionError());
  if (PUBLISH_PERMISSIONS.some((p) => !caller.grant.scopes.includes(p))) throw new Reply(permissionError());
}

export async function feed(ctx: Facebook, caller: Caller, pageId: string, params: URLSearchParams, call: Call): Promise<Response> {
  assertCanPublish(ctx, caller, pageId);
  const text = params.get("message") ?? "";
  const injected = await injectedFailure(ctx, NETWORK, pageId, text);
  if (injected) return injectedResponse(ctx, injected, "feed", call);
  if (!text && !params.get("link")) return invalidParameter("Missing message or attachment");
  if (text.length > facebookSandboxConfig.messageMaxChars) return invalidParameter("Param message must be at most 63206 characters long");
  if (params.get("published") === "false") return invalidParameter("[sandbox] unpublished and scheduled Page posts are not emulated");
  if (await findDuplicate(ctx, NETWORK, pageId, text, facebookSandboxConfig.duplicateWindowSeconds)) return duplicateStatus();
  const id = `${pageId}_${snowflakeId(ctx.now())}`;
  await recordPost(ctx, NETWORK, { id, accountId: pageId, text, media: [] });
  return json(200, { id });
}

export async function photos(ctx: Facebook, caller: Caller, pageId: string, params: URLSearchParams, call: Call): Promise<Response> {
  assertCanPublish(ctx, caller, pageId);
  const text = params.get("caption") ?? params.get("message") ?? "";
  const injected = await injectedFailure(ctx, NETWORK, pageId, text);
  if (injected) return injectedResponse(ctx, injected, "photo", call);
  const url = params.get("url");
  if (!url) return error400({ message: "(#324) Requires upload file", code: 324 });
  if (params.get("published") === "false") return invalidParameter("[sandbox] unpublished photos are not emulated");
  const fetched = await fetchMedia(url, facebookSandboxConfig.photoMaxBytes, facebookSandboxConfig.mediaFetchTimeoutMs);
  if (!fetched.ok) return fetched.reason === "too_large" ? photoTooLarge() : invalidImage();
  const image = sniffImage(fetched.bytes);
  if (!image) return invalidImage();
  const photoId = snowflakeId(ctx.now());
  const postId = `${pageId}_${snowflakeId(ctx.now())}`;
  const media = { id: photoId, mimeType: image.mimeType, sizeBytes: fetched.bytes.byteLength };
  await createMedia(ctx, NETWORK, { ...media, accountId: pageId, state: "published", sha256: sha256Hex(fetched.bytes) });
  await recordPost(ctx, NETWORK, { id: postId, accountId: pageId, text, media: [media] });
  return json(200, { id: photoId, post_id: postId });
}

/** Meta's own answer for each failure category. */
export function injectedResponse(ctx: Facebook, category: ErrorCategory, kind: "feed" | "photo" | "video", call: Call): Response {
  switch (category) {
    case "rate_limited":
      if (call.page) call.page.usage = { callCount: 100, regainMinutes: facebookSandboxConfig.injectedRegainMinutes };
      return pageThrottled();
    case "auth_error":
      return tokenErrors.revoked();
    case "network_error":
      return graphError(500, { message: "An unexpected error has occurred. Please retry your request later.", code: 2, transient: true });
    case "duplicate":
      return duplicateStatus();
    case "media_error":
      return invalidImage();
    case "media_processing":
      return invalidParameter(`[sandbox] media_processing applies to videos only (this is a ${kind} post)`);
    case "unknown":
      return error400({
        message: "(#100) Invalid parameter",
        code: 100,
        subcode: 1349125,
        userTitle: "Invalid content",
        userMessage: "The content of this post could not be accepted.",
      });
  }
}
