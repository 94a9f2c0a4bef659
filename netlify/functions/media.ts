import { api } from "../../src/core/api.js";
import { createUploadUrlHandler, deleteMediaHandler } from "../../src/media/handlers.js";

export default api({
  "POST /api/v1/media/upload-url": createUploadUrlHandler,
  "DELETE /api/v1/media": deleteMediaHandler,
});
