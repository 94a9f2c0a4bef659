import type { z } from "zod";
import type { DeliveryRow } from "./deliveries.js";
import type { EndpointRow } from "./endpoints.js";
import type { deliverySchema, endpointSchema } from "./schemas.js";

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** An endpoint as every answer shows it (`endpointSchema`): its profile and why an inactive one is off, never its secret. */
export function serializeEndpoint(e: EndpointRow): z.infer<typeof endpointSchema> {
  return {
    id: e.id,
    profile_id: e.profile_id,
    url: e.url,
    events: e.events,
    is_active: e.is_active,
    max_retries: e.max_retries,
    disabled_reason: e.disabled_reason,
    disabled_at: iso(e.disabled_at),
    failing_since: iso(e.failing_since),
    last_delivery_at: iso(e.last_delivery_at),
    last_delivery_status: e.last_delivery_status,
    created_at: e.created_at.toISOString(),
    updated_at: e.updated_at.toISOString(),
  };
}

/** A delivery (`deliverySchema`) with what its history needs: the payload sent and every attempt. */
export function serializeDelivery(d: DeliveryRow): z.infer<typeof deliverySchema> {
  return {
    id: d.id,
    webhook_id: d.endpoint_id,
    event_id: d.event_id,
    event_type: d.event_type,
    status: d.status,
    attempt_number: d.attempt_number,
    max_attempts: d.max_attempts,
    response_status: d.response_status,
    last_error: d.last_error,
    next_attempt_at: d.status === "pending" ? iso(d.next_attempt_at) : null,
    delivered_at: iso(d.delivered_at),
    created_at: d.created_at.toISOString(),
    payload: d.payload,
    attempts: d.attempts.map((a) => ({
      attempt_number: a.attempt_number,
      trigger: a.trigger,
      status: a.status,
      response_status: a.response_status,
      latency_ms: a.latency_ms,
      response_excerpt: a.response_excerpt,
      error_message: a.error_message,
      next_attempt_at: iso(a.next_attempt_at),
      started_at: iso(a.started_at)!,
      completed_at: iso(a.completed_at)!,
    })),
  };
}
