import { randomUUID } from "node:crypto";
import { route } from "../core/api.js";
import { resolveProfileId } from "../core/profile-scope.js";
import { enforceRateLimit } from "../core/ratelimit/index.js";
import { assertProfileVisible } from "../profiles/profiles.js";
import { assertUploadAccepted, deleteMedia, insertMedia, mediaObjectPath, serializeMedia } from "./media.js";
import { deleteMediaSchema, uploadUrlSchema } from "./schemas.js";
import { mediaStorage } from "./storage.js";

// POST /api/v1/media/upload-url — record a media item and sign the URL its file is PUT to
export const createUploadUrlHandler = route({
  auth: "any",
  body: uploadUrlSchema,
  handle: async ({ db, body, caller }) => {
    const profileId = resolveProfileId(caller, body.profileId);
    await db(async (tx) => {
      await assertProfileVisible(tx, profileId);
      await assertUploadAccepted(tx, profileId, body.contentType, body.fileSize);
    });
    // Counted per profile, once the caller is known to belong there (above, for both kinds of caller; an API key's
    // creator was also checked to be a member by the key lookup) and the file could go somewhere.
    await enforceRateLimit("media_uploads", profileId);
    const id = randomUUID();
    const path = mediaObjectPath(caller.userId, profileId, id, body.fileName, body.contentType);
    const storage = await mediaStorage();
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

// DELETE /api/v1/media — remove uploaded media no unpublished post still needs
export const deleteMediaHandler = route({
  auth: "any",
  body: deleteMediaSchema,
  handle: async ({ db, body, caller }) => {
    const profileId = resolveProfileId(caller, body.profileId);
    const storage = await mediaStorage();
    await db(async (tx) => {
      await assertProfileVisible(tx, profileId);
      await deleteMedia(tx, profileId, body.filePath, (path) => storage.remove(path));
    });
    return { success: true, filePath: body.filePath };
  },
});
