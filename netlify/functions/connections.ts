import { connectionRoutes } from "../../src/connections/handlers.js";
import { api } from "../../src/core/api.js";

export default api(connectionRoutes);
