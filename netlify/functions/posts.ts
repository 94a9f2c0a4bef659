import { api } from "../../src/core/api.js";
import { deliveryRoutes } from "../../src/delivery/handlers.js";
import { postRoutes } from "../../src/posts/handlers.js";

export default api([...postRoutes, ...deliveryRoutes]);
