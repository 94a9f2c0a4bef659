import { randomBytes, randomUUID } from "node:crypto";
import type postgres from "postgres";
import { connectAccount } from "../helpers/connect.js";
import type { TestHome } from "../helpers/home.js";
import { paidUserWithKey, type TestUser } from "../helpers/users.js";

/**
 * One tenant with a row in every profile-scoped table, for the database boundary suites: built through the API where
 * one exists (profile, key, connection, scheduled post with its target, event, idempotency key and quota counter) and
 * with admin SQL where only a worker or the service connection writes (media record, post media, job log, webhook
 * endpoint, delivery and attempt, OAuth state).
 */
export interface Tenant {
  user: TestUser;
  profileId: string;
  apiKey: string;
  keyId: string;
  connectionId: string;
  postId: string;
  targetId: string;
  mediaId: string;
  eventId: string;
  endpointId: string;
  deliveryId: string;
  attemptId: string;
  jobLogId: string;
  templateId: string;
}

const inADay = () => new Date(Date.now() + 86_400_000).toISOString();

export async function buildTenant(t: TestHome): Promise<Tenant> {
  const base = await paidUserWithKey(t);
  const connectionId = await connectAccount(t, { apiKey: base.apiKey }, "twitter");
  const post = await t.call("POST", "/api/v1/post", {
    apiKey: base.apiKey,
    headers: { "idempotency-key": `boundary-${randomBytes(4).toString("hex")}` },
    body: { platform: "twitter", content: "A tenant's scheduled post", scheduleDate: inADay() },
  });
  if (post.status !== 201) throw new Error(`scheduling failed: ${JSON.stringify(post.body)}`);
  const postId = post.body.postId as string;
  const [target] = await t.sql<{ id: string }[]>`select id from public.post_targets where post_id = ${postId}`;
  const [event] = await t.sql<{ id: string }[]>`select id from public.events where post_id = ${postId}`;

  const mediaId = randomUUID();
  const filePath = `${base.user.id}/${base.profileId}/${mediaId}-photo.jpg`;
  await t.sql`
    insert into public.media (id, profile_id, uploaded_by, file_path, public_url, mime_type, file_size, file_name)
    values (${mediaId}, ${base.profileId}, ${base.user.id}, ${filePath}, ${"https://storage.example/" + filePath}, 'image/jpeg', 1000, 'photo.jpg')`;
  await t.sql`
    insert into public.post_media (post_id, profile_id, media_id, file_path, public_url, mime_type, file_size, file_name)
    values (${postId}, ${base.profileId}, ${mediaId}, ${filePath}, ${"https://storage.example/" + filePath}, 'image/jpeg', 1000, 'photo.jpg')`;
  const [jobLog] = await t.sql<{ id: string }[]>`
    insert into public.job_logs (profile_id, post_id, target_id, platform, status, attempt_number, started_at, completed_at, duration_ms)
    values (${base.profileId}, ${postId}, ${target!.id}, 'twitter', 'failed', 1, now(), now(), 5)
    returning id`;
  // Inactive, so no fan-out or worker ever sends anything to it.
  const [endpoint] = await t.sql<{ id: string }[]>`
    insert into public.webhook_endpoints (profile_id, url, secret_enc, events, is_active, disabled_reason, created_by)
    values (${base.profileId}, ${`https://hooks.example/${randomBytes(4).toString("hex")}`}, 'not-a-secret', '{*}', false, 'manual', ${base.user.id})
    returning id`;
  const [delivery] = await t.sql<{ id: string }[]>`
    insert into public.webhook_deliveries (endpoint_id, profile_id, event_id, event_type, status, attempt_number, max_attempts, next_attempt_at)
    values (${endpoint!.id}, ${base.profileId}, ${event!.id}, 'post.scheduled', 'failed', 1, 1, null)
    returning id`;
  const [attempt] = await t.sql<{ id: string }[]>`
    insert into public.webhook_delivery_attempts (delivery_id, profile_id, attempt_number, status, response_status, latency_ms, started_at, completed_at)
    values (${delivery!.id}, ${base.profileId}, 1, 'failed', 500, 12, now(), now())
    returning id`;
  await t.sql`
    insert into public.oauth_states (state, profile_id, user_id, platform, code_verifier, redirect_uri, return_url, expires_at)
    values (${randomBytes(12).toString("hex")}, ${base.profileId}, ${base.user.id}, 'twitter', 'verifier',
            'https://app.example/api/connect/callback/twitter', 'https://app.example/connected', now() + interval '10 minutes')`;
  // Metrics as the analytics sync job writes them (its sync state row exists since the connection was made).
  await t.sql`
    insert into public.post_metric_snapshots (profile_id, post_id, target_id, connection_id, platform, likes, engagements, raw)
    values (${base.profileId}, ${postId}, ${target!.id}, ${connectionId}, 'twitter', 3, 3, '{}')`;
  await t.sql`
    insert into public.account_metric_snapshots (profile_id, connection_id, platform, followers)
    values (${base.profileId}, ${connectionId}, 'twitter', 10)`;
  // A template naming the media file (templates are written through the API elsewhere; admin SQL keeps this quick).
  const [template] = await t.sql<{ id: string }[]>`
    insert into public.templates (profile_id, name, content, platforms, created_by)
    values (${base.profileId}, 'Tenant template', 'Hello {{name}}', '{twitter}', ${base.user.id})
    returning id`;
  await t.sql`
    insert into public.template_media (template_id, profile_id, media_id, file_path, public_url, mime_type, file_size, file_name)
    values (${template!.id}, ${base.profileId}, ${mediaId}, ${filePath}, ${"https://storage.example/" + filePath}, 'image/jpeg', 1000, 'photo.jpg')`;
  // A pending invitation (made through the API in tests/team; admin SQL here). Only its digest is stored.
  await t.sql`
    insert into public.profile_invitations (profile_id, email, role, token_hash, invited_by, expires_at)
    values (${base.profileId}, ${`invitee-${randomBytes(4).toString("hex")}@example.com`}, 'member',
            ${randomBytes(32).toString("hex")}, ${base.user.id}, now() + interval '7 days')`;
  // A recurring schedule (made through the API in tests/recurring; admin SQL here), its next occurrence a day away.
  await t.sql`
    insert into public.recurring_schedules (profile_id, name, content, platforms, recurrence_pattern, time_of_day, timezone,
      anchor_at, next_occurrence_at, created_by)
    values (${base.profileId}, 'Tenant schedule', 'Every day', '{twitter}', 'daily', '09:00:00', 'UTC', now(),
            now() + interval '1 day', ${base.user.id})`;
  // White-label branding and an app (made through the API in tests/white-label; admin SQL here). The secret is not
  // sealed: nothing here opens it.
  await t.sql`
    insert into public.white_label_brands (user_id, display_name, accent_color) values (${base.user.id}, 'Tenant brand', '#123456')`;
  await t.sql`
    insert into public.white_label_apps (id, user_id, platform, client_id, client_secret_enc)
    values (${randomUUID()}, ${base.user.id}, 'twitter', ${`tenant-client-${randomBytes(4).toString("hex")}`}, 'not-a-sealed-secret')`;
  return {
    ...base,
    templateId: template!.id,
    connectionId,
    postId,
    targetId: target!.id,
    mediaId,
    eventId: event!.id,
    endpointId: endpoint!.id,
    deliveryId: delivery!.id,
    attemptId: attempt!.id,
    jobLogId: jobLog!.id,
  };
}

/** Runs `fn` as our request role does (src/core/db.ts withClaims), or as another role, with `claims` set. */
export async function asRole<T>(
  sql: postgres.Sql,
  role: "amplify_api" | "authenticated" | "anon",
  claims: Record<string, unknown>,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  return (await sql.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${JSON.stringify({ role: "authenticated", ...claims })}, true)`;
    await tx.unsafe(`set local role ${role}`);
    return fn(tx);
  })) as T;
}

/** The SQLSTATE a statement fails with, or "ok" (run inside a savepoint, so the transaction goes on). */
export async function outcome(tx: postgres.TransactionSql, run: (sp: postgres.TransactionSql) => Promise<unknown>): Promise<string> {
  try {
    await tx.savepoint(async (sp) => {
      await run(sp);
    });
    return "ok";
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (!code) throw error;
    return code;
  }
}
