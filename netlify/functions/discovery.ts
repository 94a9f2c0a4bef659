import { api } from "../../src/core/api.js";
import { discoveryHandler } from "../../src/discovery/handlers.js";

/** API discovery, and the 404 envelope for any /api path no other function claims. */
export default api({
  "GET /api/v1": discoveryHandler,
});
