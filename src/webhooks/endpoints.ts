import { randomUUID } from "node:crypto";
import { seal } from "../core/crypto.js";
import type { CallerDb, Tx } from "../core/pg.js";
import { AppError, notFound } from "../core/errors.js";
import { outboundAllowLoopback, resolveSafeAddresses, UnsafeUrlError } from "../core/net/guard.js";
import { effectivePlan, isPaidActive, plans } from "../core/plans.js";
import { getProfileOrThrow } from "../profiles/profiles.js";
import type { subscribableEvents } from "./event-types.js";
import { DEFAULT_MAX_RETRIES, type CreateEndpointInput, type UpdateEndpointInput } from "./schemas.js";
import { generateWebhookSecret } from "./signing.js";

/** Endpoints a profile may have: plenty for fan-out to several systems, few enough that fan-out stays cheap. */
export const MAX_ENDPOINTS_PER_PROFILE = 20;

export const SECRET_WARNING = "Save this secret now. It will not be shown again.";

export interface EndpointRow {
  id: string;
  profile_id: string;
  url: string;
  events: (typeof subscribableEvents)[number][];
  is_active: boolean;
  max_retries: number;
  disabled_reason: "manual" | "gone" | "failing" | null;
  disabled_at: Date | null;
  failing_since: Date | null;
  last_delivery_at: Date | null;
  last_delivery_status: "success" | "failed" | null;
  created_at: Date;
  updated_at: Date;
}

const columns = (tx: Tx) => tx`
  id, profile_id, url, events, is_active, max_retries, disabled_reason, disabled_at, failing_since,
  last_delivery_at, last_delivery_status, created_at, updated_at`;

/**
 * The outbound guard (src/core/net/guard.ts) at save time: 400 naming `url` unless it is https and resolves only to
 * public addresses (loopback too where OUTBOUND_ALLOW_LOOPBACK is on). Callers run it only once the caller's right to
 * manage the profile's webhooks is established (so a stranger learns nothing about a URL), and outside any
 * transaction, as it may wait on DNS. Returns the URL as it will be stored (normalised by the URL parser).
 */
export async function assertSafeUrl(url: string): Promise<string> {
  try {
    const checked = await resolveSafeAddresses(url, { allowLoopback: outboundAllowLoopback() });
    return checked.url.href;
  } catch (error) {
    if (!(error instanceof UnsafeUrlError)) throw error;
    throw new AppError("validation_error", `Invalid field 'url': ${error.message}`, { details: [{ field: "url", message: error.message }] });
  }
}

/** 402 unless the plan paying for the profile (its owner's) includes webhooks; 404 when the profile is not visible. */
export async function assertWebhooksIncluded(tx: Tx, profileId: string): Promise<void> {
  const [row] = await tx<{ status: string | null; plan: string | null }[]>`
    select status, plan from public.profile_owner_subscription(${profileId})`;
  if (!row?.status || !row.plan) throw notFound("Profile");
  if (!isPaidActive(row.status, row.plan) || !plans[effectivePlan(row.status, row.plan)].webhooks) {
    throw new AppError("subscription_required", "Webhooks need an active paid subscription; upgrade in the dashboard first");
  }
}

/** 404 unless the profile is visible, 402 without webhooks in its plan, 403 unless the caller is an owner or admin. */
export async function assertCanManage(tx: Tx, profileId: string): Promise<void> {
  const profile = await getProfileOrThrow(tx, profileId);
  await assertWebhooksIncluded(tx, profileId);
  if (profile.role === "member") throw new AppError("forbidden", "Only the profile's owner or an admin can manage its webhooks; your role on this profile is member");
}

/** The endpoints of a profile the caller can see (402 without webhooks in its plan). */
export async function listEndpoints(tx: Tx, profileId: string): Promise<EndpointRow[]> {
  await assertWebhooksIncluded(tx, profileId);
  return tx<EndpointRow[]>`
    select ${columns(tx)} from public.webhook_endpoints where profile_id = ${profileId}
    order by created_at desc, id desc`;
}

/** assertCanManage for the profile of an existing endpoint (404 when the endpoint is not visible). */
export async function assertCanManageEndpoint(tx: Tx, endpointId: string): Promise<void> {
  const current = await getEndpointOrThrow(tx, endpointId);
  await assertCanManage(tx, current.profile_id);
}

export async function getEndpointOrThrow(tx: Tx, endpointId: string): Promise<EndpointRow> {
  const [row] = await tx<EndpointRow[]>`select ${columns(tx)} from public.webhook_endpoints where id = ${endpointId}`;
  if (!row) throw notFound("Webhook endpoint");
  return row;
}

/** Creates an endpoint; the secret (given or generated) is returned this once and stored encrypted. */
export async function createEndpoint(tx: Tx, userId: string, input: CreateEndpointInput & { profileId: string; url: string }) {
  await assertCanManage(tx, input.profileId);
  const [{ count } = { count: 0 }] = await tx<{ count: number }[]>`
    select count(*)::int as count from public.webhook_endpoints where profile_id = ${input.profileId}`;
  if (count >= MAX_ENDPOINTS_PER_PROFILE) {
    throw new AppError("conflict", `A profile can have at most ${MAX_ENDPOINTS_PER_PROFILE} webhook endpoints`);
  }
  const secret = input.secret ?? generateWebhookSecret();
  // The secret is sealed for its row (src/core/crypto.ts), so the id is chosen here.
  const id = randomUUID();
  const [row] = await tx<EndpointRow[]>`
    insert into public.webhook_endpoints (id, profile_id, url, secret_enc, events, max_retries, created_by)
    values (${id}, ${input.profileId}, ${input.url}, ${seal(secret, { purpose: "webhook_endpoints.secret", rowId: id })}, ${input.events}, ${input.maxRetries ?? DEFAULT_MAX_RETRIES}, ${userId})
    on conflict (profile_id, url) do nothing
    returning ${columns(tx)}`;
  if (!row) throw new AppError("conflict", "This profile already has a webhook endpoint with this URL");
  return { row, secret };
}

/**
 * Changes an endpoint. Turning it on again clears why it was off and its failing window; a new max_retries applies
 * to the deliveries still pending too.
 */
export async function updateEndpoint(tx: Tx, endpointId: string, patch: UpdateEndpointInput): Promise<EndpointRow> {
  const current = await getEndpointOrThrow(tx, endpointId);
  await assertCanManage(tx, current.profile_id);
  const activation =
    patch.isActive === undefined || patch.isActive === current.is_active
      ? tx``
      : patch.isActive
        ? tx`, is_active = true, disabled_reason = null, disabled_at = null, failing_since = null`
        : tx`, is_active = false, disabled_reason = 'manual', disabled_at = now()`;
  const [row] = await tx<EndpointRow[]>`
    update public.webhook_endpoints set
      url = ${patch.url ?? current.url},
      events = ${patch.events ?? current.events},
      max_retries = ${patch.maxRetries ?? current.max_retries}
      ${patch.secret ? tx`, secret_enc = ${seal(patch.secret, { purpose: "webhook_endpoints.secret", rowId: current.id })}` : tx``}
      ${activation}
    where id = ${endpointId}
    returning ${columns(tx)}`;
  if (!row) throw notFound("Webhook endpoint");
  if (patch.maxRetries !== undefined && patch.maxRetries !== current.max_retries) {
    await tx`
      update public.webhook_deliveries set max_attempts = ${patch.maxRetries + 1}
      where endpoint_id = ${endpointId} and status = 'pending' and manual_retry = false`;
  }
  return row;
}

/** Removes an endpoint and its delivery history. Allowed on any plan: cleaning up never needs a subscription. */
export async function deleteEndpoint(tx: Tx, endpointId: string): Promise<void> {
  const current = await getEndpointOrThrow(tx, endpointId);
  const profile = await getProfileOrThrow(tx, current.profile_id);
  if (profile.role === "member") throw new AppError("forbidden", "Only the profile's owner or an admin can manage its webhooks; your role on this profile is member");
  const deleted = await tx`delete from public.webhook_endpoints where id = ${endpointId} returning id`;
  if (!deleted.length) throw notFound("Webhook endpoint");
}

/**
 * The one-call form (`POST /api/v1/webhooks/configure`): the profile's endpoint for this URL is created, or
 * updated to the given events (and secret and maxRetries when given) and turned on again.
 */
export async function configureEndpoint(tx: Tx, userId: string, input: CreateEndpointInput & { profileId: string; url: string }) {
  await assertCanManage(tx, input.profileId);
  const [existing] = await tx<{ id: string }[]>`
    select id from public.webhook_endpoints where profile_id = ${input.profileId} and url = ${input.url} for no key update`;
  if (!existing) return { ...(await createEndpoint(tx, userId, input)), created: true };
  const row = await updateEndpoint(tx, existing.id, {
    url: undefined,
    secret: input.secret,
    events: input.events,
    isActive: true,
    maxRetries: input.maxRetries,
  });
  return { row, secret: input.secret, created: false };
}

/**
 * Registers an endpoint: the caller's right to manage the profile's webhooks first (a short transaction), then the
 * URL (DNS, outside any transaction), then the write. The secret is in this answer and nowhere else.
 */
export async function registerEndpoint(db: CallerDb, userId: string, input: CreateEndpointInput & { profileId: string }) {
  await db((tx) => assertCanManage(tx, input.profileId));
  const url = await assertSafeUrl(input.url);
  return db((tx) => createEndpoint(tx, userId, { ...input, url }));
}

/** Changes an endpoint; a new URL is checked once the caller is known to manage the endpoint, outside any transaction. */
export async function changeEndpoint(db: CallerDb, endpointId: string, patch: UpdateEndpointInput): Promise<EndpointRow> {
  let url: string | undefined;
  if (patch.url !== undefined) {
    await db((tx) => assertCanManageEndpoint(tx, endpointId));
    url = await assertSafeUrl(patch.url);
  }
  return db((tx) => updateEndpoint(tx, endpointId, { ...patch, url }));
}

/** `configureEndpoint` with the same order of checks as `registerEndpoint`. */
export async function configureEndpointFor(db: CallerDb, userId: string, input: CreateEndpointInput & { profileId: string }) {
  await db((tx) => assertCanManage(tx, input.profileId));
  const url = await assertSafeUrl(input.url);
  return db((tx) => configureEndpoint(tx, userId, { ...input, url }));
}
