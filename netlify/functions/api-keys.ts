import { api } from "../../src/core/api.js";
import { apiKeysBrowser, apiKeysV1 } from "../../src/api-keys/handlers.js";

export default api({
  "GET /api/v1/api-keys": apiKeysV1.list,
  "POST /api/v1/api-keys": apiKeysV1.create,
  "DELETE /api/v1/api-keys/:keyId": apiKeysV1.revoke,
  "GET /api/api-keys": apiKeysBrowser.list,
  "POST /api/api-keys": apiKeysBrowser.create,
  "DELETE /api/api-keys/:keyId": apiKeysBrowser.revoke,
});
