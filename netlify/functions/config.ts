import { api } from "../../src/core/api.js";
import { publicConfigRoute } from "../../src/config/handlers.js";

export default api([publicConfigRoute]);
