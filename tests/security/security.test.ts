import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { routeAuthModes, securitySuite, type EndpointUnderTest } from "../helpers/security.js";

const t = useTestHome();
const modes = await routeAuthModes();

/**
 * Every authenticated route of every function, each at least once. The coverage test below reads the route tables:
 * a new authenticated route that is missing here fails the run, so no endpoint can skip the suite.
 */
const endpoints: EndpointUnderTest[] = [
  // profiles
  { route: "GET /api/v1/profiles", path: () => "/api/v1/profiles" },
  { route: "POST /api/v1/profiles", path: () => "/api/v1/profiles", body: () => ({ name: "x" }) },
  { route: "GET /api/v1/profiles/:profileId", path: (f) => `/api/v1/profiles/${f.profileId}`, ownedResource: true },
  { route: "PATCH /api/v1/profiles/:profileId", path: (f) => `/api/v1/profiles/${f.profileId}`, body: () => ({ name: "y" }), ownedResource: true },
  { route: "DELETE /api/v1/profiles/:profileId", path: (f) => `/api/v1/profiles/${f.profileId}`, ownedResource: true },
  // team
  { route: "GET /api/v1/profiles/:profileId/members", path: (f) => `/api/v1/profiles/${f.profileId}/members`, ownedResource: true },
  { route: "PATCH /api/v1/profiles/:profileId/members/:memberId", path: (f) => `/api/v1/profiles/${f.profileId}/members/${f.memberId}`, body: () => ({ role: "admin" }), ownedResource: true },
  { route: "DELETE /api/v1/profiles/:profileId/members/:memberId", path: (f) => `/api/v1/profiles/${f.profileId}/members/${f.memberId}`, ownedResource: true },
  { route: "DELETE /api/v1/profiles/:profileId/leave", path: (f) => `/api/v1/profiles/${f.profileId}/leave`, ownedResource: true },
  { route: "POST /api/v1/profiles/:profileId/transfer-ownership", path: (f) => `/api/v1/profiles/${f.profileId}/transfer-ownership`, body: (f) => ({ userId: f.owner.id }), ownedResource: true },
  { route: "GET /api/v1/profiles/:profileId/invitations", path: (f) => `/api/v1/profiles/${f.profileId}/invitations`, ownedResource: true },
  { route: "POST /api/v1/profiles/:profileId/invitations", path: (f) => `/api/v1/profiles/${f.profileId}/invitations`, body: () => ({ email: "security@example.com", role: "member" }), ownedResource: true },
  { route: "DELETE /api/v1/profiles/:profileId/invitations/:invitationId", path: (f) => `/api/v1/profiles/${f.profileId}/invitations/${f.invitationId}`, ownedResource: true },
  { route: "POST /api/v1/profiles/:profileId/invitations/:invitationId/resend", path: (f) => `/api/v1/profiles/${f.profileId}/invitations/${f.invitationId}/resend`, ownedResource: true },
  { route: "POST /api/v1/invitations/:token/accept", path: () => `/api/v1/invitations/${"A".repeat(43)}/accept` },
  // API keys
  { route: "GET /api/v1/api-keys", path: () => "/api/v1/api-keys" },
  // Creating a key needs a signed-in session (issue 9, finding 9): the route table says "session", so the suite checks
  // that an API key gets 403 there, and a stranger's session naming the owner's profile gets 404.
  { route: "POST /api/v1/api-keys", path: () => "/api/v1/api-keys", body: (f) => ({ name: "k", profileId: f.profileId }), ownedResource: true },
  { route: "DELETE /api/v1/api-keys/:keyId", path: (f) => `/api/v1/api-keys/${f.keyId}`, ownedResource: true },
  { route: "GET /api/api-keys", path: () => "/api/api-keys" },
  { route: "POST /api/api-keys", path: () => "/api/api-keys", body: (f) => ({ name: "k", profileId: f.profileId }), ownedResource: true },
  { route: "DELETE /api/api-keys/:keyId", path: (f) => `/api/api-keys/${f.keyId}`, ownedResource: true },
  // connections
  { route: "POST /api/v1/connect/init", path: () => "/api/v1/connect/init", body: () => ({ platform: "twitter", returnUrl: "https://a.example" }) },
  {
    route: "POST /api/v1/connect/init",
    path: () => "/api/v1/connect/init",
    body: (f) => ({ platform: "twitter", returnUrl: "https://a.example", profileId: f.profileId }),
    ownedResource: true,
  },
  { route: "GET /api/v1/connect/return-origins", path: () => "/api/v1/connect/return-origins" },
  { route: "GET /api/v1/connect/return-origins", path: (f) => `/api/v1/connect/return-origins?profileId=${f.profileId}`, ownedResource: true },
  { route: "POST /api/v1/connect/return-origins", path: () => "/api/v1/connect/return-origins", body: () => ({ origin: "https://a.example" }) },
  {
    route: "POST /api/v1/connect/return-origins",
    path: () => "/api/v1/connect/return-origins",
    body: (f) => ({ origin: "https://a.example", profileId: f.profileId }),
    ownedResource: true,
  },
  {
    route: "DELETE /api/v1/connect/return-origins",
    path: (f) => `/api/v1/connect/return-origins?origin=https%3A%2F%2Fa.example&profileId=${f.profileId}`,
    ownedResource: true,
  },
  { route: "GET /api/v1/connections", path: () => "/api/v1/connections" },
  { route: "GET /api/v1/connections", path: (f) => `/api/v1/connections?profileId=${f.profileId}`, ownedResource: true },
  { route: "PATCH /api/v1/connections/:connectionId", path: (f) => `/api/v1/connections/${f.connectionId}`, body: () => ({ settings: {} }), ownedResource: true },
  { route: "DELETE /api/v1/connections/:connectionId", path: (f) => `/api/v1/connections/${f.connectionId}`, ownedResource: true },
  { route: "POST /api/v1/connections/:connectionId/sync", path: (f) => `/api/v1/connections/${f.connectionId}/sync`, ownedResource: true },
  // posts
  { route: "POST /api/v1/post", path: () => "/api/v1/post", body: () => ({ platform: "twitter", content: "x" }) },
  { route: "POST /api/v1/post", path: () => "/api/v1/post", body: (f) => ({ platform: "twitter", content: "x", profileId: f.profileId }), ownedResource: true },
  { route: "GET /api/v1/posts", path: () => "/api/v1/posts" },
  { route: "GET /api/v1/posts", path: (f) => `/api/v1/posts?profileId=${f.profileId}`, ownedResource: true },
  { route: "GET /api/v1/posts/:postId", path: (f) => `/api/v1/posts/${f.postId}`, ownedResource: true },
  { route: "GET /api/v1/scheduled-posts", path: () => "/api/v1/scheduled-posts" },
  { route: "GET /api/v1/scheduled-posts", path: (f) => `/api/v1/scheduled-posts?profileId=${f.profileId}`, ownedResource: true },
  { route: "DELETE /api/v1/scheduled-posts/:scheduledPostId", path: (f) => `/api/v1/scheduled-posts/${f.scheduledPostId}`, ownedResource: true },
  { route: "POST /api/v1/scheduled-posts/:scheduledPostId/retry", path: (f) => `/api/v1/scheduled-posts/${f.scheduledPostId}/retry`, ownedResource: true },
  { route: "GET /api/v1/job-logs", path: () => "/api/v1/job-logs" },
  { route: "GET /api/v1/job-logs", path: (f) => `/api/v1/job-logs?profileId=${f.profileId}`, ownedResource: true },
  { route: "GET /api/v1/delivery-metrics", path: () => "/api/v1/delivery-metrics" },
  { route: "GET /api/v1/delivery-metrics", path: (f) => `/api/v1/delivery-metrics?profileId=${f.profileId}`, ownedResource: true },
  // analytics and learned best times
  ...[
    "/api/v1/analytics/overview",
    "/api/analytics/realtime",
    "/api/analytics/post-timeline",
    "/api/analytics/content-decay",
    "/api/analytics/posting-frequency",
    "/api/analytics/best-time",
    "/api/analytics/capabilities",
    "/api/analytics/sync-health",
    "/api/v1/scheduling/best-times",
  ].flatMap((p): EndpointUnderTest[] => [
    { route: `GET ${p}`, path: () => p },
    { route: `GET ${p}`, path: (f) => `${p}?profileId=${f.profileId}`, ownedResource: true },
  ]),
  { route: "POST /api/v1/analytics/sync", path: () => "/api/v1/analytics/sync" },
  { route: "POST /api/v1/analytics/sync", path: (f) => `/api/v1/analytics/sync?profileId=${f.profileId}`, ownedResource: true },
  // media
  { route: "POST /api/v1/media/upload-url", path: () => "/api/v1/media/upload-url", body: (f) => ({ profileId: f.profileId, fileName: "a.png", contentType: "image/png", fileSize: 10 }), ownedResource: true },
  { route: "DELETE /api/v1/media", path: () => "/api/v1/media", body: (f) => ({ profileId: f.profileId, filePath: f.mediaPath }), ownedResource: true },
  // white-label (owner routes: a stranger naming the owner's profile gets 404)
  { route: "GET /api/v1/white-label", path: () => "/api/v1/white-label" },
  { route: "GET /api/v1/white-label", path: (f) => `/api/v1/white-label?profileId=${f.profileId}`, ownedResource: true },
  { route: "PUT /api/v1/white-label/branding", path: (f) => `/api/v1/white-label/branding?profileId=${f.profileId}`, body: () => ({ displayName: "Brand" }), ownedResource: true },
  { route: "GET /api/v1/white-label/branding", path: () => "/api/v1/white-label/branding" },
  { route: "GET /api/v1/white-label/branding", path: (f) => `/api/v1/white-label/branding?profileId=${f.profileId}`, ownedResource: true },
  { route: "GET /api/v1/white-label/apps", path: (f) => `/api/v1/white-label/apps?profileId=${f.profileId}`, ownedResource: true },
  {
    route: "PUT /api/v1/white-label/apps/:platform",
    path: (f) => `/api/v1/white-label/apps/twitter?profileId=${f.profileId}`,
    body: () => ({ clientId: "client", clientSecret: "secret" }),
    ownedResource: true,
  },
  { route: "DELETE /api/v1/white-label/apps/:platform", path: (f) => `/api/v1/white-label/apps/twitter?profileId=${f.profileId}`, ownedResource: true },
  // content templates
  { route: "GET /api/v1/templates", path: () => "/api/v1/templates" },
  { route: "GET /api/v1/templates", path: (f) => `/api/v1/templates?profileId=${f.profileId}`, ownedResource: true },
  { route: "POST /api/v1/templates", path: () => "/api/v1/templates", body: () => ({ name: "t", content: "x" }) },
  { route: "POST /api/v1/templates", path: () => "/api/v1/templates", body: (f) => ({ name: "t", content: "x", profileId: f.profileId }), ownedResource: true },
  { route: "GET /api/v1/templates/:templateId", path: (f) => `/api/v1/templates/${f.templateId}`, ownedResource: true },
  { route: "PATCH /api/v1/templates/:templateId", path: (f) => `/api/v1/templates/${f.templateId}`, body: () => ({ is_favorite: true }), ownedResource: true },
  { route: "DELETE /api/v1/templates/:templateId", path: (f) => `/api/v1/templates/${f.templateId}`, ownedResource: true },
  // recurring schedules
  { route: "GET /api/v1/recurring-schedules", path: () => "/api/v1/recurring-schedules" },
  { route: "GET /api/v1/recurring-schedules", path: (f) => `/api/v1/recurring-schedules?profileId=${f.profileId}`, ownedResource: true },
  {
    route: "POST /api/v1/recurring-schedules",
    path: () => "/api/v1/recurring-schedules",
    body: () => ({ name: "r", content: "x", platforms: ["twitter"], recurrencePattern: "daily", timeOfDay: "09:00", timezone: "UTC" }),
  },
  {
    route: "POST /api/v1/recurring-schedules",
    path: () => "/api/v1/recurring-schedules",
    body: (f) => ({ profileId: f.profileId, name: "r", content: "x", platforms: ["twitter"], recurrencePattern: "daily", timeOfDay: "09:00", timezone: "UTC" }),
    ownedResource: true,
  },
  { route: "GET /api/v1/recurring-schedules/:scheduleId", path: (f) => `/api/v1/recurring-schedules/${f.scheduleId}`, ownedResource: true },
  { route: "PATCH /api/v1/recurring-schedules/:scheduleId", path: (f) => `/api/v1/recurring-schedules/${f.scheduleId}`, body: () => ({ name: "s" }), ownedResource: true },
  { route: "DELETE /api/v1/recurring-schedules/:scheduleId", path: (f) => `/api/v1/recurring-schedules/${f.scheduleId}`, ownedResource: true },
  { route: "GET /api/v1/recurring-schedules/:scheduleId/occurrences", path: (f) => `/api/v1/recurring-schedules/${f.scheduleId}/occurrences`, ownedResource: true },
  // webhooks, for integrations
  { route: "GET /api/v1/webhook-endpoints", path: () => "/api/v1/webhook-endpoints" },
  { route: "GET /api/v1/webhook-endpoints", path: (f) => `/api/v1/webhook-endpoints?profileId=${f.profileId}`, ownedResource: true },
  { route: "POST /api/v1/webhook-endpoints", path: () => "/api/v1/webhook-endpoints", body: () => ({ url: "https://93.184.215.14/s", events: ["*"] }) },
  { route: "POST /api/v1/webhook-endpoints", path: () => "/api/v1/webhook-endpoints", body: (f) => ({ url: "https://93.184.215.14/s", events: ["*"], profileId: f.profileId }), ownedResource: true },
  { route: "PATCH /api/v1/webhook-endpoints/:webhookId", path: (f) => `/api/v1/webhook-endpoints/${f.webhookId}`, body: () => ({ is_active: false }), ownedResource: true },
  { route: "DELETE /api/v1/webhook-endpoints/:webhookId", path: (f) => `/api/v1/webhook-endpoints/${f.webhookId}`, ownedResource: true },
  { route: "GET /api/v1/webhook-endpoints/:webhookId/deliveries", path: (f) => `/api/v1/webhook-endpoints/${f.webhookId}/deliveries`, ownedResource: true },
  { route: "POST /api/v1/webhook-deliveries/:deliveryId/retry", path: (f) => `/api/v1/webhook-deliveries/${f.deliveryId}/retry`, body: () => ({}), ownedResource: true },
  { route: "POST /api/v1/webhooks/configure", path: () => "/api/v1/webhooks/configure", body: () => ({ url: "https://93.184.215.14/s", events: ["*"] }) },
  // webhooks, for the dashboard
  { route: "GET /api/webhook-endpoints", path: () => "/api/webhook-endpoints" },
  { route: "GET /api/webhook-endpoints", path: (f) => `/api/webhook-endpoints?profileId=${f.profileId}`, ownedResource: true },
  { route: "POST /api/webhook-endpoints", path: () => "/api/webhook-endpoints", body: (f) => ({ url: "https://93.184.215.14/s", events: ["*"], profileId: f.profileId }), ownedResource: true },
  { route: "PATCH /api/webhook-endpoints/:webhookId", path: (f) => `/api/webhook-endpoints/${f.webhookId}`, body: () => ({ is_active: false }), ownedResource: true },
  { route: "DELETE /api/webhook-endpoints/:webhookId", path: (f) => `/api/webhook-endpoints/${f.webhookId}`, ownedResource: true },
  { route: "GET /api/webhook-endpoints/:webhookId/deliveries", path: (f) => `/api/webhook-endpoints/${f.webhookId}/deliveries`, ownedResource: true },
  { route: "POST /api/webhook-deliveries/:deliveryId/retry", path: (f) => `/api/webhook-deliveries/${f.deliveryId}/retry`, body: () => ({}), ownedResource: true },
  // billing (browser only)
  { route: "GET /api/billing/subscription-status", path: () => "/api/billing/subscription-status" },
  { route: "POST /api/billing/create-checkout-session", path: () => "/api/billing/create-checkout-session", body: () => ({ plan: "starter" }) },
  { route: "POST /api/billing/create-portal-session", path: () => "/api/billing/create-portal-session" },
];

describe("the security suite covers every authenticated route", () => {
  it("lists each route whose table requires a caller, and nothing that is not a route", () => {
    const authenticated = [...modes].filter(([, mode]) => mode !== "none").map(([route]) => route).sort();
    expect(authenticated.length).toBeGreaterThan(40);
    const listed = new Set(endpoints.map((e) => e.route));
    expect(authenticated.filter((route) => !listed.has(route)), "authenticated routes missing from the security suite").toEqual([]);
    expect([...listed].filter((route) => !modes.has(route)), "entries that name no route").toEqual([]);
  });
});

describe("every authenticated endpoint refuses what it must", () => {
  securitySuite(t, endpoints, modes);
});
