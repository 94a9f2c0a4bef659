import { api } from "../../src/core/api.js";
import { webhookManagementRoutes } from "../../src/webhooks/handlers.js";

export default api(webhookManagementRoutes);
