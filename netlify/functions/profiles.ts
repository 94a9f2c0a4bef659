import { api } from "../../src/core/api.js";
import { profileRoutes } from "../../src/profiles/handlers.js";
import { teamRoutes } from "../../src/team/handlers.js";

export default api([...profileRoutes, ...teamRoutes]);
