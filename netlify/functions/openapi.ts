import { api } from "../../src/core/api.js";
import { openapiRoutes } from "../../src/openapi/handlers.js";

/** The OpenAPI document, as JSON and YAML. */
export default api(openapiRoutes);
