import { route } from "../core/api.js";
import { API_KEY_HEADER } from "../core/auth.js";
import { plans } from "../core/plans.js";
import { catalog, platformIds } from "../platforms/catalog.js";
import { discoveryResponse } from "./schemas.js";

export const API_VERSION = "v1";

/** The core endpoints an integrator needs, as listed by discovery. */
export const coreEndpoints = [
  "GET /api/v1",
  "GET /api/v1/platforms",
  "GET /api/v1/profiles",
  "POST /api/v1/profiles",
  "GET /api/v1/profiles/:profileId",
  "PATCH /api/v1/profiles/:profileId",
  "DELETE /api/v1/profiles/:profileId",
  "GET /api/v1/api-keys",
  "POST /api/v1/api-keys",
  "DELETE /api/v1/api-keys/:keyId",
  "POST /api/v1/connect/init",
  "GET /api/v1/connect/return-origins",
  "POST /api/v1/connect/return-origins",
  "DELETE /api/v1/connect/return-origins",
  "GET /api/v1/connections",
  "PATCH /api/v1/connections/:connectionId",
  "DELETE /api/v1/connections/:connectionId",
  "POST /api/v1/connections/:connectionId/sync",
  "POST /api/v1/media/upload-url",
  "DELETE /api/v1/media",
  "POST /api/v1/post",
  "GET /api/v1/posts",
  "GET /api/v1/posts/:postId",
  "GET /api/v1/scheduled-posts",
  "DELETE /api/v1/scheduled-posts/:scheduledPostId",
  "POST /api/v1/scheduled-posts/:scheduledPostId/retry",
  "GET /api/v1/job-logs",
  "GET /api/v1/delivery-metrics",
  "GET /api/v1/webhook-endpoints",
  "POST /api/v1/webhook-endpoints",
  "PATCH /api/v1/webhook-endpoints/:webhookId",
  "DELETE /api/v1/webhook-endpoints/:webhookId",
  "GET /api/v1/webhook-endpoints/:webhookId/deliveries",
  "POST /api/v1/webhook-deliveries/:deliveryId/retry",
];

// Discovery: the API's version, how to authenticate, what it offers and what it costs
export const discoveryRoute = route("GET /api/v1", {
  auth: "none",
  response: discoveryResponse,
  handle: async ({ services }) => ({
    name: "Amplify Scheduler API",
    version: API_VERSION,
    auth: {
      header: API_KEY_HEADER,
      scheme: "API key scoped to one profile",
      browser: "Authorization: Bearer <Supabase access token>",
    },
    endpoints: coreEndpoints,
    billing: {
      apiKeysRequirePaidPlan: true,
      inactiveSubscriptionStatus: 402,
      freeTrial: false,
      currency: "GBP",
      plans: Object.entries(plans).map(([id, p]) => ({
        id,
        name: p.name,
        pricePerMonth: p.pricePence / 100,
        profiles: p.profiles,
        postsPerMonth: p.postsPerMonth,
        apiRequestsPerMonth: p.apiKeys ? p.apiRequestsPerMonth : 0,
        apiKeys: p.apiKeys,
        webhooks: p.webhooks,
      })),
    },
    platforms: platformIds.map((id) => {
      const c = catalog[id];
      return {
        platform: c.platform,
        displayName: c.displayName,
        supportStatus: c.supportStatus,
        text: c.publish.text,
        images: c.publish.images,
        video: c.publish.video,
        requiresMedia: c.publish.requiresMedia,
        scheduling: c.publish.scheduling,
        analytics: c.analytics.supported,
      };
    }),
    docs: services.env.DOCS_URL ?? `${services.env.APP_URL.replace(/\/$/, "")}/docs/`,
  }),
});
