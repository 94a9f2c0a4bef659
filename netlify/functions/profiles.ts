import { api } from "../../src/core/api.js";
import { profileRoutes } from "../../src/profiles/handlers.js";

export default api(profileRoutes);
