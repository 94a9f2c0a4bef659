import { api } from "../../src/core/api.js";
import { templateRoutes } from "../../src/templates/handlers.js";

export default api([...templateRoutes]);
