import { AppError, notFound } from "../core/errors.js";
import { keysetPage, type Page, type PageSpec } from "../core/pagination.js";
import type { CallerDb, Tx } from "../core/pg.js";
import { getProfileOrThrow } from "../profiles/profiles.js";
import { assertWebhooksIncluded, getEndpointOrThrow } from "./endpoints.js";
import type { WebhookEventType } from "./event-types.js";
import { webhookJob } from "./job.js";

interface AttemptJson {
  attempt_number: number;
  trigger: "automatic" | "manual";
  status: "success" | "failed";
  response_status: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error_message: string | null;
  next_attempt_at: string | null;
  started_at: string;
  completed_at: string;
}

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: WebhookEventType;
  status: "pending" | "delivering" | "delivered" | "failed";
  attempt_number: number;
  max_attempts: number;
  response_status: number | null;
  last_error: string | null;
  next_attempt_at: Date | null;
  delivered_at: Date | null;
  created_at: Date;
  payload: Record<string, unknown>;
  attempts: AttemptJson[];
}

/** An endpoint's deliveries, newest first, keyset-paginated, each with its attempts (one query, no N+1). */
export async function listDeliveries(
  tx: Tx,
  endpointId: string,
  filter: { status?: DeliveryRow["status"] },
  page: PageSpec,
): Promise<Page<DeliveryRow>> {
  const endpoint = await getEndpointOrThrow(tx, endpointId);
  await assertWebhooksIncluded(tx, endpoint.profile_id);
  return keysetPage(tx, page, (after, take) => tx<DeliveryRow[]>`
    select d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempt_number, d.max_attempts, d.response_status,
           d.last_error, d.next_attempt_at, d.delivered_at, d.created_at, ev.payload,
           coalesce((
             select json_agg(json_build_object(
               'attempt_number', a.attempt_number, 'trigger', a.trigger, 'status', a.status,
               'response_status', a.response_status, 'latency_ms', a.latency_ms, 'response_excerpt', a.response_excerpt,
               'error_message', a.error_message, 'next_attempt_at', a.next_attempt_at, 'started_at', a.started_at,
               'completed_at', a.completed_at) order by a.attempt_number, a.started_at)
             from public.webhook_delivery_attempts a where a.delivery_id = d.id), '[]'::json) as attempts
    from public.webhook_deliveries d
    join public.events ev on ev.id = d.event_id and ev.profile_id = d.profile_id
    where d.endpoint_id = ${endpointId}
      and ${filter.status ? tx`d.status = ${filter.status}` : tx`true`}
      and ${after}
    order by d.created_at desc, d.id desc
    limit ${take}`, { createdAt: "d.created_at", id: "d.id" });
}

/**
 * Asks for another attempt of a delivery now. A failed delivery gets one more attempt (no further automatic
 * retries); a pending one is brought forward. 409 when it already succeeded, is being attempted right now, or its
 * endpoint is disabled. Returns the delivery id for the caller to put on the queue once this commits.
 */
export async function requestRetry(tx: Tx, deliveryId: string): Promise<string> {
  const [d] = await tx<{ id: string; profile_id: string; status: string; is_active: boolean }[]>`
    select d.id, d.profile_id, d.status, e.is_active
    from public.webhook_deliveries d join public.webhook_endpoints e on e.id = d.endpoint_id and e.profile_id = d.profile_id
    where d.id = ${deliveryId}`;
  if (!d) throw notFound("Webhook delivery");
  const profile = await getProfileOrThrow(tx, d.profile_id);
  await assertWebhooksIncluded(tx, d.profile_id);
  if (profile.role === "member") throw new AppError("forbidden", "Only the profile's owner or an admin can retry webhook deliveries; your role on this profile is member");
  if (d.status === "delivered") throw new AppError("conflict", "This delivery already succeeded; there is nothing to retry");
  if (d.status === "delivering") throw new AppError("conflict", "This delivery is being attempted right now");
  if (!d.is_active) throw new AppError("conflict", "The webhook endpoint is disabled; turn it on (is_active: true) before retrying");
  const updated = await tx`
    update public.webhook_deliveries set
      status = 'pending', next_attempt_at = now(), manual_retry = true,
      max_attempts = case when status = 'failed' then attempt_number + 1 else max_attempts end
    where id = ${deliveryId} and status = ${d.status}
    returning id`;
  if (!updated.length) throw new AppError("conflict", "This delivery changed while retrying it; look at it again");
  return deliveryId;
}

/** `requestRetry` as the caller, then the delivery goes on the queue once that has committed. */
export async function retryDelivery(db: CallerDb, deliveryId: string): Promise<void> {
  const id = await db((tx) => requestRetry(tx, deliveryId));
  await webhookJob.dispatch([id]);
}
