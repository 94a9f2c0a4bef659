import { api } from "../../src/core/api.js";
import { apiKeyRoutesBrowser, apiKeyRoutesV1 } from "../../src/api-keys/handlers.js";

export default api([...apiKeyRoutesV1, ...apiKeyRoutesBrowser]);
