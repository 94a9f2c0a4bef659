import { z } from "zod";
import { pageQuerySchema } from "../core/pagination.js";
import { subscribableEvents } from "./event-types.js";

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

// POST …/webhook-endpoints (contract: `maxRetries`; `max_retries`, the spelling PATCH uses, is accepted too).
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

// PATCH …/webhook-endpoints/:webhookId (contract: `is_active`, `events`, `max_retries`; camelCase accepted too).
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
