import { CiphertextError, open } from "../core/crypto.js";
import { env } from "../core/env.js";
import { jobContext, retryDelaySeconds, type JobContext } from "../core/jobs/index.js";
import { log } from "../core/log.js";
import { retryIfAborted, type Tx } from "../core/pg.js";
import { effectivePlan, isPaidActive, plans } from "../core/plans.js";
import { serializeEventBody } from "./payload.js";
import { sendWebhook, type SendResult } from "./send.js";
import { deliveryRetry, MAX_RETRY_DELAY_SECONDS } from "./retry.js";
import { signatureHeaders } from "./signing.js";
import { webhookUserAgentOf } from "../white-label/branding.js";

/** The retry schedule (./retry.ts): the longest wait between two attempts, and when attempt n + 1 is due. */
export { deliveryRetry, MAX_RETRY_DELAY_SECONDS };

interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  profile_id: string;
  event_id: string;
  event_type: string;
  attempt_number: number;
  max_attempts: number;
  final_notice: boolean;
  manual: boolean;
  lease_until: Date;
  url: string;
  /** The endpoint's signing secret, opened when the delivery was claimed. */
  secret: string;
  /** Ours, or `<display name>-Webhooks/1.0` for a white-labelled profile. */
  userAgent: string;
  payload: Record<string, unknown>;
}

export type DeliveryResult = "delivered" | "retrying" | "failed" | "skipped";

/** Why a delivery to an endpoint whose stored secret does not open fails at once (rotating the secret fixes it). */
export const UNREADABLE_SECRET = "Not sent: the endpoint secret cannot be decrypted; rotate the secret";

/**
 * The endpoint's signing secret, or undefined when the stored value does not open (altered, copied from another
 * endpoint, or sealed by a key no longer configured): no attempt can ever succeed, so the delivery fails for good.
 */
function endpointSecret(endpointId: string, sealed: string): string | undefined {
  try {
    return open(sealed, { purpose: "webhook_endpoints.secret", rowId: endpointId });
  } catch (error) {
    if (!(error instanceof CiphertextError)) throw error;
    log.error("a webhook endpoint secret cannot be decrypted", { endpointId, reason: error.message });
    return undefined;
  }
}

/** A claim outlives the attempt's timeout by this much before the sweep may hand the delivery out again. */
const LEASE_MARGIN_SECONDS = 30;

/** Why a due delivery must not be sent at all, if it must not. */
function refusalOf(row: { final_notice: boolean; is_active: boolean; billing_status: string | null; plan: string | null }) {
  if (!row.final_notice && !row.is_active) return "Not sent: the endpoint is disabled";
  const status = row.billing_status ?? "free";
  const plan = row.plan ?? "free";
  if (!isPaidActive(status, plan) || !plans[effectivePlan(status, plan)].webhooks) {
    return "Not sent: webhooks need an active paid subscription";
  }
  return undefined;
}

/**
 * Claims the delivery for one attempt with a conditional update: only a pending, due delivery can be claimed, so of
 * several queue messages for it exactly one wins and the others do nothing. A delivery whose endpoint was disabled,
 * whose profile's plan no longer includes webhooks, or whose endpoint secret does not open, fails without an attempt.
 */
async function claim(ctx: JobContext, deliveryId: string): Promise<ClaimedDelivery | undefined> {
  return ctx.serviceDb(async (tx) => {
    const [row] = await tx<{ final_notice: boolean; manual_retry: boolean; is_active: boolean; billing_status: string | null; plan: string | null; endpoint_id: string; secret_enc: string; brand_name: string | null }[]>`
      select d.final_notice, d.manual_retry, e.is_active, b.status as billing_status, b.plan, d.endpoint_id, e.secret_enc,
             wb.display_name as brand_name
      from public.webhook_deliveries d
      join public.webhook_endpoints e on e.id = d.endpoint_id
      join public.profiles p on p.id = d.profile_id
      left join public.billing_subscriptions b on b.user_id = p.created_by
      -- The billing owner's white-label display name, while the add-on is held (src/white-label/branding.ts).
      left join public.white_label_brands wb on wb.user_id = p.created_by and b.white_label
      where d.id = ${deliveryId} and d.status = 'pending' and d.next_attempt_at <= now() + interval '2 seconds'
      -- Waits rather than skips: the sweep or a hand-off holds this row locked while it sends this very message, and a
      -- message for a delivery already due arrives at once, often before that transaction commits. Skipping would drop
      -- the attempt until the stale-message resend; the wait is one send long. A second message for the same attempt
      -- waits for the first claim, then finds the delivery no longer pending and does nothing.
      for no key update of d`;
    if (!row) return undefined;
    const refusal = refusalOf(row);
    const secret = refusal ? undefined : endpointSecret(row.endpoint_id, row.secret_enc);
    if (refusal || secret === undefined) {
      await tx`
        update public.webhook_deliveries set status = 'failed', last_error = ${refusal ?? UNREADABLE_SECRET}, next_attempt_at = null, manual_retry = false
        where id = ${deliveryId}`;
      return undefined;
    }
    const leaseSeconds = env().WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS;
    const [claimed] = await tx<Omit<ClaimedDelivery, "secret" | "userAgent">[]>`
      with claimed as (
        update public.webhook_deliveries
        set status = 'delivering', attempt_number = attempt_number + 1, manual_retry = false,
            -- Millisecond precision, so the value round-trips through JavaScript exactly and can fence the outcome.
            lease_until = date_trunc('milliseconds', now() + make_interval(secs => ${leaseSeconds}))
        where id = ${deliveryId}
        returning id, endpoint_id, profile_id, event_id, event_type, attempt_number, max_attempts, final_notice, lease_until
      )
      select c.*, ${row.manual_retry}::boolean as manual, e.url, ev.payload
      from claimed c
      join public.webhook_endpoints e on e.id = c.endpoint_id
      join public.events ev on ev.id = c.event_id`;
    return claimed && { ...claimed, secret, userAgent: webhookUserAgentOf(row.brand_name) };
  });
}

export interface DeliveryOutcome {
  result: DeliveryResult;
  /** Deliveries to put on the queue once the outcome is committed (this one's retry, the disabled notice). */
  dispatch: string[];
}

/**
 * Records the attempt and its consequences in one transaction, fenced by the lease so a stale worker cannot
 * overwrite a newer outcome: the delivery (delivered, pending with the next attempt's time, or failed), the
 * endpoint's last delivery and failing window, and, when the endpoint must be disabled, the disabling itself.
 */
async function settle(ctx: JobContext, d: ClaimedDelivery, sent: SendResult, startedAt: Date): Promise<DeliveryOutcome> {
  return ctx.serviceDb(async (tx) => {
    // Endpoint first, then the delivery: the order in which deleting an endpoint (or its profile) locks them (the
    // endpoint row, then its deliveries by cascade), so a settle racing a delete waits instead of deadlocking.
    // No key update: the lock the update below takes anyway, which leaves new deliveries free to reference the row.
    const [endpoint] = await tx<{ is_active: boolean; failing_since: Date | null }[]>`
      select is_active, failing_since from public.webhook_endpoints where id = ${d.endpoint_id} for no key update`;
    const [held] = await tx`
      select 1 from public.webhook_deliveries
      where id = ${d.id} and status = 'delivering' and lease_until = ${d.lease_until} for no key update`;
    if (!held) {
      ctx.log.warn("webhook delivery lease lost before the outcome was recorded", { deliveryId: d.id });
      return { result: "skipped", dispatch: [] };
    }
    const gone = sent.status === 410;
    const disableFor = !endpoint?.is_active || d.final_notice
      ? null
      : gone
        ? ("gone" as const)
        : !sent.ok && failingTooLong(ctx, endpoint.failing_since)
          ? ("failing" as const)
          : null;
    const willRetry = !sent.ok && !gone && disableFor === null && d.attempt_number < d.max_attempts;
    const nextAttemptAt = willRetry
      ? new Date(ctx.clock.now().getTime() + retryDelaySeconds(deliveryRetry, d.attempt_number, sent.retryAfterSeconds) * 1000)
      : null;

    await tx`
      insert into public.webhook_delivery_attempts (delivery_id, profile_id, attempt_number, trigger, status, response_status,
        latency_ms, response_excerpt, error_message, next_attempt_at, started_at, completed_at)
      values (${d.id}, ${d.profile_id}, ${d.attempt_number}, ${d.manual ? "manual" : "automatic"}, ${sent.ok ? "success" : "failed"},
        ${sent.status}, ${sent.latencyMs}, ${sent.excerpt}, ${sent.error}, ${nextAttemptAt}, ${startedAt}, now())`;
    (sent.ok ? log.info : log.warn)("webhook attempt", {
      deliveryId: d.id, endpointId: d.endpoint_id, event: d.event_type, attempt: d.attempt_number, ok: sent.ok,
      status: sent.status, error: sent.error, latencyMs: sent.latencyMs, nextAttemptAt: nextAttemptAt?.toISOString() ?? null,
    });
    await tx`
      update public.webhook_deliveries set
        status = ${sent.ok ? "delivered" : willRetry ? "pending" : "failed"},
        delivered_at = ${sent.ok ? tx`now()` : null},
        response_status = ${sent.status}, last_error = ${sent.error},
        next_attempt_at = ${nextAttemptAt}, lease_until = null
      where id = ${d.id}`;
    await tx`
      update public.webhook_endpoints set
        last_delivery_at = now(),
        last_delivery_status = ${sent.ok ? "success" : "failed"},
        failing_since = ${sent.ok ? null : tx`coalesce(failing_since, now())`}
      where id = ${d.endpoint_id}`;
    const dispatch = willRetry ? [d.id] : [];
    if (disableFor) dispatch.push(...(await disableEndpoint(ctx, tx, d.endpoint_id, disableFor)));
    const result: DeliveryResult = sent.ok ? "delivered" : willRetry ? "retrying" : "failed";
    return { result, dispatch };
  });
}

function failingTooLong(ctx: JobContext, failingSince: Date | null): boolean {
  return failingSince !== null && ctx.clock.now().getTime() - failingSince.getTime() >= env().WEBHOOK_DISABLE_AFTER_SECONDS * 1000;
}

/**
 * Disables the endpoint and writes `webhook.endpoint_disabled`, which fans out to the profile's other subscribed
 * endpoints; an endpoint disabled for failing too long also gets that event itself, once (a receiver that answered
 * 410 Gone asked for nothing more). Pending deliveries to it fail when their turn comes. Returns the new deliveries.
 */
async function disableEndpoint(ctx: JobContext, tx: Tx, endpointId: string, reason: "gone" | "failing"): Promise<string[]> {
  const [event] = await tx<{ id: string; profile_id: string }[]>`
    with disabled as (
      update public.webhook_endpoints set is_active = false, disabled_reason = ${reason}, disabled_at = now()
      where id = ${endpointId}
      returning id, profile_id, url, disabled_at, failing_since
    )
    insert into public.events (profile_id, event_type, payload)
    select profile_id, 'webhook.endpoint_disabled', jsonb_build_object(
      'event_type', 'webhook.endpoint_disabled',
      'timestamp', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'profile_id', profile_id,
      'data', jsonb_build_object(
        'webhook_id', id, 'url', url, 'reason', ${reason}::text,
        'disabled_at', to_char(disabled_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'failing_since', to_char(failing_since at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
    from disabled
    returning id, profile_id`;
  if (!event) return [];
  ctx.log.warn("webhook endpoint disabled", { endpointId, reason });
  if (reason === "failing") {
    await tx`
      insert into public.webhook_deliveries (endpoint_id, profile_id, event_id, event_type, max_attempts, final_notice)
      values (${endpointId}, ${event.profile_id}, ${event.id}, 'webhook.endpoint_disabled', 1, true)
      on conflict (event_id, endpoint_id) do nothing`;
  }
  const created = await tx<{ id: string }[]>`select id from public.webhook_deliveries where event_id = ${event.id}`;
  return created.map((r) => r.id);
}

/**
 * One attempt of one delivery, as the webhook job runs it (src/webhooks/job.ts): claim (or do nothing), sign and send
 * the event's payload, record the attempt and its outcome. Every failure is handled here; the worker answers 2xx so
 * QStash never retries on its own schedule. The outcome names the deliveries the job puts on the queue next.
 */
export async function executeDelivery(deliveryId: string, ctx: JobContext = jobContext()): Promise<DeliveryOutcome> {
  const d = await claim(ctx, deliveryId);
  if (!d) return { result: "skipped", dispatch: [] };
  const startedAt = ctx.clock.now();
  const body = serializeEventBody(d.payload);
  const sent = await sendWebhook({
    url: d.url,
    body,
    headers: {
      "content-type": "application/json",
      // Ours, or the profile's white-label display name (src/white-label/branding.ts).
      "user-agent": d.userAgent,
      "x-webhook-event": d.event_type,
      // Wall-clock time: receivers check it against their own clock to refuse replays.
      ...signatureHeaders(d.secret, d.event_id, Math.floor(Date.now() / 1000), body),
    },
    timeoutMs: env().WEBHOOK_TIMEOUT_SECONDS * 1000,
    allowLoopback: env().OUTBOUND_ALLOW_LOOPBACK,
  });
  // The receiver has the request: an outcome Postgres aborted for another transaction is recorded again rather than
  // left to the lease's expiry, which would deliver the event a second time.
  return retryIfAborted(() => settle(ctx, d, sent, startedAt));
}
