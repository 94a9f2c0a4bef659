import { api } from "../../src/core/api.js";
import { configureWebhookHandler, webhooksBrowser, webhooksV1 } from "../../src/webhooks/handlers.js";

export default api({
  "GET /api/v1/webhook-endpoints": webhooksV1.list,
  "POST /api/v1/webhook-endpoints": webhooksV1.create,
  "PATCH /api/v1/webhook-endpoints/:webhookId": webhooksV1.update,
  "DELETE /api/v1/webhook-endpoints/:webhookId": webhooksV1.remove,
  "GET /api/v1/webhook-endpoints/:webhookId/deliveries": webhooksV1.deliveries,
  "POST /api/v1/webhook-deliveries/:deliveryId/retry": webhooksV1.retry,
  "POST /api/v1/webhooks/configure": configureWebhookHandler,
  "GET /api/webhook-endpoints": webhooksBrowser.list,
  "POST /api/webhook-endpoints": webhooksBrowser.create,
  "PATCH /api/webhook-endpoints/:webhookId": webhooksBrowser.update,
  "DELETE /api/webhook-endpoints/:webhookId": webhooksBrowser.remove,
  "GET /api/webhook-endpoints/:webhookId/deliveries": webhooksBrowser.deliveries,
  "POST /api/webhook-deliveries/:deliveryId/retry": webhooksBrowser.retry,
});
