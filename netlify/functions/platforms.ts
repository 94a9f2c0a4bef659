import { api } from "../../src/core/api.js";
import { platformCatalogHandler } from "../../src/platforms/handlers.js";

export default api({
  "GET /api/v1/platforms": platformCatalogHandler,
});
