import { z } from "zod";
import { webhookEventTypes, type WebhookEventType } from "../webhooks/event-types.js";

/**
 * What each webhook delivery's JSON body holds (README "Webhooks" has a sample of each; src/webhooks/payload.ts
 * serialises them): `event_type`, `timestamp`, `profile_id` and the event's `data`. These schemas only describe the
 * bodies for the OpenAPI document's `webhooks` section and the SDK; the payloads are written by the publishing code.
 */
const uuid = z.string().describe("UUID");
const at = z.iso.datetime({ offset: true });
const platform = z.string().describe("The network, e.g. twitter, linkedin");

const postData = { post_id: uuid, target_id: uuid, platform, content: z.string() };

/** The `data` of each event; an event type added without an entry here is documented with an open `data` object. */
export const webhookEventData: Partial<Record<WebhookEventType, z.ZodType>> = {
  "post.scheduled": z.looseObject({ ...postData, published_at: z.null(), scheduled_at: at }),
  "post.published": z.looseObject({
    ...postData,
    published_at: at,
    external_post_id: z.string().nullable(),
    url: z.string().nullable(),
  }),
  "post.failed": z.looseObject({
    ...postData,
    published_at: z.null(),
    error_message: z.string(),
    error_category: z.string().describe("auth_error, rate_limit, validation_error, media_error, network_error, platform_error, …"),
    attempts: z.number().int(),
  }),
  "post.partially_published": z.looseObject({
    post_id: uuid,
    content: z.string(),
    targets: z.array(
      z.looseObject({
        platform,
        status: z.enum(["published", "failed"]),
        error_category: z.string().nullable(),
        external_post_id: z.string().nullable(),
      }),
    ),
  }),
  "connection.needs_reconnect": z.looseObject({
    connection_id: uuid,
    platform,
    username: z.string().nullable(),
    external_account_id: z.string().nullable(),
    reason: z.string(),
  }),
  "connection.expiring": z.looseObject({
    connection_id: uuid,
    platform,
    username: z.string().nullable(),
    external_account_id: z.string().nullable(),
    expires_at: at.describe("When the connection stops working unless it is reconnected"),
    days_before: z.number().int().describe("7 or 1: each warning is sent once per expiry"),
    reason: z.string(),
    scheduled_posts: z.number().int().describe("Pending posts of this connection scheduled at or after the expiry"),
  }),
  "webhook.endpoint_disabled": z.looseObject({
    webhook_id: uuid,
    url: z.string(),
    reason: z.string().describe("gone (the endpoint answered 410) or failing (every attempt failed for the failing window)"),
    disabled_at: at,
    failing_since: at.nullable().optional(),
  }),
  "member.joined": z.looseObject({
    member_id: uuid,
    user_id: uuid,
    email: z.string(),
    role: z.enum(["admin", "member"]),
    invited_by: uuid.nullable(),
    invitation_id: uuid,
  }),
  "member.removed": z.looseObject({
    member_id: uuid,
    user_id: uuid,
    role: z.enum(["admin", "member"]),
    reason: z.enum(["removed", "left"]).describe("removed by the owner, or left by themselves"),
  }),
};

export const webhookEventSummaries: Partial<Record<WebhookEventType, string>> = {
  "post.scheduled": "A post was scheduled (one event per network it targets)",
  "post.published": "A post went out on one network",
  "post.failed": "A post failed for good on one network",
  "post.partially_published": "A multi-network post settled with some networks published and some failed",
  "connection.needs_reconnect": "A network stopped accepting a connected account's authorization: reconnect it",
  "connection.expiring":
    "A connection that nothing but a reconnect can renew stops working in 7 days (and again 1 day before): reconnect it",
  "webhook.endpoint_disabled": "An endpoint was disabled (it answered 410, or failed for the whole failing window)",
  "member.joined": "Someone accepted an invitation and joined the profile",
  "member.removed": "A member was removed by the owner, or left the profile",
};

/** The body of one delivery of `type`. */
export function webhookPayloadSchema(type: WebhookEventType): z.ZodType {
  return z.strictObject({
    event_type: z.literal(type),
    timestamp: at.describe("When the event happened"),
    profile_id: uuid,
    data: webhookEventData[type] ?? z.looseObject({}).describe(`The ${type} event's data`),
  });
}

export const signatureDescription = [
  "Every delivery is a `POST` with `Content-Type: application/json` and the body as compact JSON, signed twice:",
  "",
  "- `X-Webhook-Signature`: hex HMAC-SHA256 of the raw body, keyed with the endpoint's secret string.",
  "- Standard Webhooks: `webhook-id` (the event's id, the same on every retry), `webhook-timestamp` (Unix seconds of",
  "  this attempt; refuse ones more than 5 minutes off) and `webhook-signature: v1,<base64 HMAC-SHA256 of",
  '  "{webhook-id}.{webhook-timestamp}.{body}">`, keyed with the secret\'s bytes: for a generated `whsec_…` secret the',
  "  base64 after the prefix, for a secret you chose its UTF-8 bytes.",
  "",
  "Answer any 2xx within 15 s; anything else is retried with exponential backoff. `410 Gone` disables the endpoint.",
  "The SDK's `verifyWebhook` checks both schemes.",
].join("\n");

export { webhookEventTypes };
