import { api } from "../../src/core/api.js";
import { webhookWorkerHandler } from "../../src/webhooks/handlers.js";

/** The QStash callback for outbound webhooks: verified by signature, one delivery attempt per message. */
export default api({
  "POST /api/queue/webhook": webhookWorkerHandler,
});
