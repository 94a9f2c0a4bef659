import { api } from "../../src/core/api.js";
import {
  createProfileHandler,
  deleteProfileHandler,
  getProfileHandler,
  listProfilesHandler,
  updateProfileHandler,
} from "../../src/profiles/handlers.js";

export default api({
  "GET /api/v1/profiles": listProfilesHandler,
  "POST /api/v1/profiles": createProfileHandler,
  "GET /api/v1/profiles/:profileId": getProfileHandler,
  "PATCH /api/v1/profiles/:profileId": updateProfileHandler,
  "DELETE /api/v1/profiles/:profileId": deleteProfileHandler,
});
