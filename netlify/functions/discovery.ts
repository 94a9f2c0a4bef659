import { api } from "../../src/core/api.js";
import { discoveryRoute } from "../../src/discovery/handlers.js";

/** API discovery, and the 404 envelope for any /api path no other function claims. */
export default api([discoveryRoute]);
