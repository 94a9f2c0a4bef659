import { randomUUID } from "node:crypto";
import { route } from "../core/api.js";
import { assertUploadAccepted, deleteMedia, insertMedia, mediaObjectPath, serializeMedia } from "./media.js";
import { deleteMediaSchema, mediaDeletedResponse, uploadUrlResponse, uploadUrlSchema } from "./schemas.js";

// Record a media item and sign the URL its file is PUT to. The upload rate limit is counted by hand, after the plan
// and type checks, so only an upload that could go somewhere spends the profile's budget.
export const createUploadUrlRoute = route("POST /api/v1/media/upload-url", {
  auth: "any",
  body: uploadUrlSchema,
  profile: "body",
  response: uploadUrlResponse,
  handle: async ({ db, body, caller, profileId, services }) => {
    await db((tx) => assertUploadAccepted(tx, profileId, body.contentType, body.fileSize));
    await services.limiter.enforce("media_uploads", profileId);
    const id = randomUUID();
    const path = mediaObjectPath(caller.userId, profileId, id, body.fileName, body.contentType);
    const storage = await services.storage();
    const upload = await storage.createSignedUpload(path, { contentType: body.contentType, fileSize: body.fileSize });
    const media = await db((tx) =>
      insertMedia(tx, {
        id,
        profileId,
        userId: caller.userId,
        filePath: path,
        publicUrl: storage.publicUrl(path),
        mimeType: body.contentType,
        fileSize: body.fileSize,
        fileName: body.fileName,
      }),
    );
    return { upload, media: serializeMedia(media) };
  },
});

// Remove uploaded media no unpublished post still needs
export const deleteMediaRoute = route("DELETE /api/v1/media", {
  auth: "any",
  body: deleteMediaSchema,
  profile: "body",
  response: mediaDeletedResponse,
  handle: async ({ db, body, profileId, services }) => {
    const storage = await services.storage();
    await db((tx) => deleteMedia(tx, profileId, body.filePath, (path) => storage.remove(path)));
    return { success: true as const, filePath: body.filePath };
  },
});

export const mediaRoutes = [createUploadUrlRoute, deleteMediaRoute];
