import { api } from "../../src/core/api.js";
import {
  createCheckoutSessionHandler,
  createPortalSessionHandler,
  stripeWebhookHandler,
  subscriptionStatusHandler,
} from "../../src/billing/handlers.js";

export default api({
  "GET /api/billing/subscription-status": subscriptionStatusHandler,
  "POST /api/billing/create-checkout-session": createCheckoutSessionHandler,
  "POST /api/billing/create-portal-session": createPortalSessionHandler,
  "POST /api/billing/webhook": stripeWebhookHandler,
});
