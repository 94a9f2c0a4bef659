import { api } from "../../src/core/api.js";
import { platformCatalogRoute } from "../../src/platforms/handlers.js";

export default api([platformCatalogRoute]);
