import { api } from "../../src/core/api.js";
import { mediaRoutes } from "../../src/media/handlers.js";

export default api(mediaRoutes);
