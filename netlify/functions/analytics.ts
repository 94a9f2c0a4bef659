import { analyticsRoutes } from "../../src/analytics/handlers.js";
import { analyticsSyncRoutes } from "../../src/analytics/sync/handlers.js";
import { api } from "../../src/core/api.js";

export default api([...analyticsRoutes, ...analyticsSyncRoutes]);
