import type { EventType } from "../publishing/events.js";

/**
 * The events an endpoint can subscribe to (README "Webhooks" has a sample payload for each). The contract names the
 * first three; the others are what integrators of a publishing platform expect: a post that partly succeeded, a
 * connection that needs reconnecting, and the endpoint itself being disabled.
 */
export const webhookEventTypes = [
  "post.scheduled",
  "post.published",
  "post.failed",
  "post.partially_published",
  "connection.needs_reconnect",
  "connection.expiring",
  "webhook.endpoint_disabled",
  "recurring.occurrence_skipped",
  "member.joined",
  "member.removed",
] as const satisfies readonly EventType[];

export type WebhookEventType = (typeof webhookEventTypes)[number];

/** What an endpoint's `events` may hold: any of the types above, or `*` for all of them (including future ones). */
export const subscribableEvents = [...webhookEventTypes, "*"] as const;

/** Every event the platform writes is subscribable: adding an EventType without listing it here fails to compile. */
const everyEventListed: [Exclude<EventType, WebhookEventType>] extends [never] ? true : never = true;
void everyEventListed;
