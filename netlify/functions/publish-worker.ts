import { api } from "../../src/core/api.js";
import { publishWorkerHandler } from "../../src/publishing/handlers.js";

/** The QStash callback: verified by signature, one attempt per delivery. */
export default api({
  "POST /api/queue/publish": publishWorkerHandler,
});
