import { billingRoutes } from "../../src/billing/handlers.js";
import { api } from "../../src/core/api.js";

export default api(billingRoutes);
