import { api } from "../../src/core/api.js";
import { deliveryMetricsHandler, jobLogsHandler } from "../../src/delivery/handlers.js";
import {
  cancelScheduledHandler,
  createPostHandler,
  getPostHandler,
  listPostsHandler,
  listScheduledHandler,
  retryScheduledHandler,
} from "../../src/posts/handlers.js";

export default api({
  "POST /api/v1/post": createPostHandler,
  "GET /api/v1/posts": listPostsHandler,
  "GET /api/v1/posts/:postId": getPostHandler,
  "GET /api/v1/scheduled-posts": listScheduledHandler,
  "DELETE /api/v1/scheduled-posts/:scheduledPostId": cancelScheduledHandler,
  "POST /api/v1/scheduled-posts/:scheduledPostId/retry": retryScheduledHandler,
  "GET /api/v1/job-logs": jobLogsHandler,
  "GET /api/v1/delivery-metrics": deliveryMetricsHandler,
});
