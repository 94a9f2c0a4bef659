import { api } from "../../src/core/api.js";
import { publicConfigHandler } from "../../src/config/handlers.js";

export default api({
  "GET /api/config": publicConfigHandler,
});
