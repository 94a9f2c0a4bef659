import { z } from "zod";
import { pageQuerySchema } from "../core/pagination.js";
import { subscribableEvents, webhookEventTypes } from "./event-types.js";

/** Retries after the first attempt an endpoint may ask for (with the default schedule, 10 reach ≈ 3.6 days). */
export const MAX_RETRIES_LIMIT = 10;
export const DEFAULT_MAX_RETRIES = 5;

const urlSchema = z.string().trim().min(1).max(2048);
const eventsSchema = z
  .array(z.enum(subscribableEvents, { error: `Unknown event; expected one of ${subscribableEvents.join(", ")}` }))
  .min(1, "Subscribe to at least one event (or '*')")
  .max(20)
  .transform((events) => [...new Set(events)]);
const maxRetriesSchema = z.number().int().min(0).max(MAX_RETRIES_LIMIT);
/** A customer-chosen secret; printable ASCII, long enough to be a secret. Omitted: one is generated. */
const secretSchema = z
  .string()
  .min(16, "At least 16 characters")
  .max(256)
  .regex(/^[\x21-\x7e]+$/, "Printable ASCII without spaces");

function oneSpelling<T extends Record<string, unknown>>(body: T, snake: keyof T & string, camel: keyof T & string, ctx: z.RefinementCtx) {
  if (body[snake] !== undefined && body[camel] !== undefined) {
    ctx.addIssue({ code: "custom", path: [camel], message: `Send either ${snake} or ${camel}, not both` });
  }
}

// POST …/webhook-endpoints and …/webhooks/configure: retries are documented as `maxRetries`; `max_retries`, the
// spelling PATCH documents, is accepted too.
export const createEndpointSchema = z
  .strictObject({
    profileId: z.uuid().optional(),
    url: urlSchema,
    secret: secretSchema.optional(),
    events: eventsSchema,
    maxRetries: maxRetriesSchema.optional(),
    max_retries: maxRetriesSchema.optional(),
  })
  .superRefine((body, ctx) => oneSpelling(body, "max_retries", "maxRetries", ctx))
  .transform(({ max_retries, maxRetries, ...rest }) => ({ ...rest, maxRetries: maxRetries ?? max_retries }));

export type CreateEndpointInput = z.infer<typeof createEndpointSchema>;

// PATCH …/webhook-endpoints/:webhookId: documented as `is_active`, `events`, `max_retries`; camelCase is accepted too.
export const updateEndpointSchema = z
  .strictObject({
    url: urlSchema.optional(),
    secret: secretSchema.optional(),
    events: eventsSchema.optional(),
    is_active: z.boolean().optional(),
    isActive: z.boolean().optional(),
    max_retries: maxRetriesSchema.optional(),
    maxRetries: maxRetriesSchema.optional(),
  })
  .superRefine((body, ctx) => {
    oneSpelling(body, "max_retries", "maxRetries", ctx);
    oneSpelling(body, "is_active", "isActive", ctx);
    if (Object.values(body).every((v) => v === undefined)) {
      ctx.addIssue({ code: "custom", path: [], message: "Nothing to change: send url, secret, events, is_active or max_retries" });
    }
  })
  .transform((body) => ({
    url: body.url,
    secret: body.secret,
    events: body.events,
    isActive: body.is_active ?? body.isActive,
    maxRetries: body.max_retries ?? body.maxRetries,
  }));

export type UpdateEndpointInput = z.infer<typeof updateEndpointSchema>;

export const listEndpointsQuerySchema = z.strictObject({ profileId: z.uuid().optional() });

export const listDeliveriesQuerySchema = pageQuerySchema.extend({
  status: z.enum(["pending", "delivering", "delivered", "failed"]).optional(),
});

export const retryDeliverySchema = z.strictObject({ profileId: z.uuid().optional() });

// --- responses (every success answer, exactly as sent) -------------------------------------------------------------------

const isoDateTime = z.iso.datetime();

/** An endpoint as every answer shows it: never its secret. */
export const endpointSchema = z.strictObject({
  id: z.uuid(),
  profile_id: z.uuid(),
  url: z.string(),
  events: z.array(z.enum(subscribableEvents)),
  is_active: z.boolean(),
  max_retries: z.number().int().min(0).max(MAX_RETRIES_LIMIT),
  /** Why an inactive endpoint is inactive: turned off by hand, answered 410 Gone, or failing too long. */
  disabled_reason: z.enum(["manual", "gone", "failing"]).nullable(),
  disabled_at: isoDateTime.nullable(),
  failing_since: isoDateTime.nullable(),
  last_delivery_at: isoDateTime.nullable(),
  last_delivery_status: z.enum(["success", "failed"]).nullable(),
  created_at: isoDateTime,
  updated_at: isoDateTime,
});

/** The endpoint with its signing secret: only in the answer that set the secret, and only then. */
export const endpointWithSecretSchema = endpointSchema.extend({ secret: z.string() });

export const listEndpointsResponse = z.strictObject({ endpoints: z.array(endpointSchema) });

export const createEndpointResponse = z.strictObject({
  success: z.literal(true),
  endpoint: endpointWithSecretSchema,
  warning: z.string(),
});

export const updateEndpointResponse = z.strictObject({ success: z.literal(true), endpoint: endpointSchema });

/** configure: the secret (and the warning to save it) only when this call set one. */
export const configureEndpointResponse = z.strictObject({
  success: z.literal(true),
  endpoint: endpointWithSecretSchema.partial({ secret: true }),
  warning: z.string().optional(),
});

export const messageResponse = z.strictObject({ success: z.literal(true), message: z.string() });

export const deliveryAttemptSchema = z.strictObject({
  attempt_number: z.number().int(),
  trigger: z.enum(["automatic", "manual"]),
  status: z.enum(["success", "failed"]),
  response_status: z.number().int().nullable(),
  latency_ms: z.number().int(),
  response_excerpt: z.string().nullable(),
  error_message: z.string().nullable(),
  next_attempt_at: isoDateTime.nullable(),
  started_at: isoDateTime,
  completed_at: isoDateTime,
});

export const deliverySchema = z.strictObject({
  id: z.uuid(),
  webhook_id: z.uuid(),
  event_id: z.uuid(),
  event_type: z.enum(webhookEventTypes),
  status: z.enum(["pending", "delivering", "delivered", "failed"]),
  attempt_number: z.number().int(),
  max_attempts: z.number().int(),
  response_status: z.number().int().nullable(),
  last_error: z.string().nullable(),
  /** Only while pending: when the next attempt is due. */
  next_attempt_at: isoDateTime.nullable(),
  delivered_at: isoDateTime.nullable(),
  created_at: isoDateTime,
  /** The body sent (the event's payload). */
  payload: z.record(z.string(), z.unknown()),
  attempts: z.array(deliveryAttemptSchema),
});

export const listDeliveriesResponse = z.strictObject({ deliveries: z.array(deliverySchema), nextCursor: z.string().nullable() });
