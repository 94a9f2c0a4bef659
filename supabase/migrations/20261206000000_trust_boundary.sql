-- =====================================================================================================================
-- Trust boundary: the database holds against Supabase's own data API.
--
-- In the cloud every signed-in user holds SUPABASE_URL, the anon key and their own access token, so they can call the
-- data API (`/rest/v1/<table>`, `/rest/v1/rpc/<function>`) directly as role `authenticated` (or `anon`) with their own
-- claims, skipping every check our handlers make. From this migration on:
--
-- - `anon` and `authenticated` hold nothing in schema public: no table, column, sequence or function privilege, now or
--   for objects created later (default privileges revoked, and `execute` on functions revoked from PUBLIC). A direct
--   data-API caller can do nothing at all.
-- - Our functions run every user request as role `amplify_api` (src/core/db.ts `withClaims`: `set local role
--   amplify_api` with `request.jwt.claims` set). It is NOLOGIN, granted to the connecting role (so it can SET ROLE)
--   and a member of `authenticated` (so it inherits Supabase's usage on schema auth and `auth.uid()`), but
--   `authenticator` (PostgREST's login role), `anon` and `authenticated` are never members of it, so a JWT claiming
--   `role: amplify_api` is refused by the data API. Every RLS policy in public applies `to amplify_api`, and it holds
--   only the grants our code needs (narrow column lists for writes).
-- - The service connection (no SET ROLE, bypasses RLS) is unchanged: key verification, OAuth callback, token refresh,
--   sweep, executors, webhook worker, Stripe webhook, storage signing, emulators.
-- - Integrity lives in the schema as defence in depth for our own role: composite foreign keys on (id, profile_id) so
--   rows of one tenant cannot point at another's, an immutable `profiles.created_by` (the billing owner), membership
--   only through definer functions, keys that cannot be un-revoked, the target status transitions our API makes, the
--   webhook endpoint cap, and a post quota charged to the profile's owner derived server-side.
--
-- Existing data is kept: rows that could only exist through the attack are repaired before each constraint is added
-- (see section 4).
-- =====================================================================================================================

-- ---------------------------------------------------------------------------------------------------------------------
-- 1. The role our requests run as.
-- ---------------------------------------------------------------------------------------------------------------------
do $$
begin
  if not exists (select from pg_roles where rolname = 'amplify_api') then
    create role amplify_api nologin inherit;
  end if;
  execute format('grant amplify_api to %I', current_user);
end
$$;

-- Inherits Supabase's usage on schema auth and execute on auth.uid()/auth.jwt() (and nothing in public: below).
grant authenticated to amplify_api;
grant usage on schema public to amplify_api;

-- ---------------------------------------------------------------------------------------------------------------------
-- 2. anon and authenticated hold nothing in public; amplify_api holds exactly what our code needs.
-- ---------------------------------------------------------------------------------------------------------------------
revoke all on all tables in schema public from anon, authenticated;
revoke all on all sequences in schema public from anon, authenticated;
revoke all on all functions in schema public from public, anon, authenticated;

alter default privileges in schema public revoke all on tables from anon, authenticated;
alter default privileges in schema public revoke all on sequences from anon, authenticated;
alter default privileges in schema public revoke all on functions from anon, authenticated;
-- PUBLIC's execute on new functions is a global default: a per-schema revoke cannot take it away.
alter default privileges revoke execute on functions from public;

-- Profiles: read; owners and admins change name, description and timezone; owners delete. Created only through
-- public.create_profile (definer), so the creator becomes owner and created_by is the caller.
grant select on public.profiles to amplify_api;
grant update (name, description, timezone) on public.profiles to amplify_api;
grant delete on public.profiles to amplify_api;

-- Members: read. No insert at all (members arrive through definer functions: create_profile now, invitations later);
-- owners may change a non-owner member's role and permissions and remove them, members may leave.
grant select on public.profile_members to amplify_api;
grant update (role, permissions) on public.profile_members to amplify_api;
grant delete on public.profile_members to amplify_api;

-- API keys: never the hash; create a key (browser session only, by policy) and revoke one.
grant select (id, user_id, profile_id, name, key_suffix, status, created_at, last_used_at, revoked_at)
  on public.api_keys to amplify_api;
grant insert (user_id, profile_id, name, key_hash, key_suffix) on public.api_keys to amplify_api;
grant update (status, revoked_at) on public.api_keys to amplify_api;

-- Billing and usage: the caller's own rows, read only. Written by the service connection and definer functions.
grant select on public.billing_subscriptions to amplify_api;
grant select on public.usage_counters to amplify_api;

-- OAuth state: written by connect/init; read and consumed by the callback (service connection).
grant insert (state, profile_id, user_id, platform, code_verifier, redirect_uri, return_url, expires_at)
  on public.oauth_states to amplify_api;

-- Connections: never the tokens; owners and admins change settings and remove them. Created by the OAuth callback
-- (service connection).
grant select (id, profile_id, platform, external_account_id, username, display_name, avatar_url, has_refresh_token,
              token_expires_at, scopes, status, settings, metadata, last_error, last_synced_at, created_by, created_at,
              updated_at)
  on public.connections to amplify_api;
grant update (settings) on public.connections to amplify_api;
grant delete on public.connections to amplify_api;

-- Posts, their media and targets: created by POST /api/v1/post; the post's status is derived when a target is
-- canceled or retried; a target may only be canceled or retried (trigger below).
grant select on public.posts to amplify_api;
grant insert (profile_id, content, status, scheduled_for, created_by, api_key_id) on public.posts to amplify_api;
grant update (status, published_at) on public.posts to amplify_api;
grant select on public.post_media to amplify_api;
grant insert (post_id, profile_id, media_id, file_path, public_url, mime_type, file_size, file_name, sort_order)
  on public.post_media to amplify_api;
grant select on public.post_targets to amplify_api;
grant insert (post_id, profile_id, platform, connection_id, scheduled_for, due_at) on public.post_targets to amplify_api;
grant update (status, attempts, due_at, processing_state, processing_started_at, error_message, error_category)
  on public.post_targets to amplify_api;

-- Media: recorded before its upload URL is signed, deleted when no unpublished post needs it; never changed.
grant select on public.media to amplify_api;
grant insert (id, profile_id, uploaded_by, bucket, file_path, public_url, mime_type, file_size, file_name)
  on public.media to amplify_api;
grant delete on public.media to amplify_api;

-- Job logs and events: read only (written by the executor, or through the record_* definer functions).
grant select on public.job_logs to amplify_api;
grant select on public.events to amplify_api;

-- Idempotency keys: claimed, then completed with the response.
grant select on public.idempotency_keys to amplify_api;
grant insert (profile_id, user_id, idempotency_key, request_hash) on public.idempotency_keys to amplify_api;
grant update (response_status, response_body) on public.idempotency_keys to amplify_api;

-- Webhook endpoints: never the secret's ciphertext readable; created, changed (secret rotation included), removed.
grant select (id, profile_id, url, events, is_active, max_retries, disabled_reason, disabled_at, failing_since,
              last_delivery_at, last_delivery_status, created_by, created_at, updated_at)
  on public.webhook_endpoints to amplify_api;
-- The id is chosen by the API: the secret's ciphertext is bound to it (associated data).
grant insert (id, profile_id, url, secret_enc, events, max_retries, created_by) on public.webhook_endpoints to amplify_api;
grant update (url, secret_enc, events, is_active, max_retries, disabled_reason, disabled_at, failing_since)
  on public.webhook_endpoints to amplify_api;
grant delete on public.webhook_endpoints to amplify_api;

-- Deliveries: read; a manual retry (and a changed max_retries on pending ones) writes these columns, checked by the
-- trigger below. Attempts: read only.
grant select on public.webhook_deliveries to amplify_api;
grant update (status, next_attempt_at, manual_retry, max_attempts) on public.webhook_deliveries to amplify_api;
grant select on public.webhook_delivery_attempts to amplify_api;

-- stripe_events and rate_limit_counters: nothing (service connection only).

-- Functions our requests call (directly, or from policies).
grant execute on function public.request_profile_scope() to amplify_api;
grant execute on function public.accessible_profile_ids(text[]) to amplify_api;
grant execute on function public.has_profile_role(uuid, text[]) to amplify_api;
grant execute on function public.create_profile(text, text, text) to amplify_api;
grant execute on function public.record_scheduled_event(uuid) to amplify_api;
grant execute on function public.record_partial_event(uuid) to amplify_api;
grant execute on function public.profile_owner_subscription(uuid) to amplify_api;
grant execute on function public.usage_period(timestamptz, timestamptz) to amplify_api;

-- ---------------------------------------------------------------------------------------------------------------------
-- 3. Every policy applies to amplify_api (and so never to a data-API caller). Policies changed in substance are
--    replaced further down.
-- ---------------------------------------------------------------------------------------------------------------------
do $$
declare
  p record;
begin
  for p in select policyname, tablename from pg_policies where schemaname = 'public' loop
    execute format('alter policy %I on public.%I to amplify_api', p.policyname, p.tablename);
  end loop;
end
$$;

-- A post is created by the caller, as themself.
drop policy "Members can create posts in their profiles" on public.posts;
create policy "Members can create posts in their profiles"
  on public.posts for insert to amplify_api
  with check (profile_id = any ((select public.accessible_profile_ids())::uuid[]) and created_by = (select auth.uid()));

-- ---------------------------------------------------------------------------------------------------------------------
-- 4. Composite foreign keys: a row's parent belongs to the row's own profile.
--
-- Rows breaking this could only be forged through the data API (our code always copies the parent's profile). Before
-- each constraint they are repaired, keeping the data where a column can let go of the reference: an optional
-- reference is set to null (a target losing its connection is canceled with an error message, so it never
-- publishes); a row whose required parent is another tenant's (a target or media row injected into someone else's
-- post, a delivery or attempt not matching its endpoint, event or delivery) cannot be kept without keeping the
-- attack, and is deleted.
-- ---------------------------------------------------------------------------------------------------------------------
alter table public.posts add constraint posts_id_profile_id_key unique (id, profile_id);
alter table public.connections add constraint connections_id_profile_id_key unique (id, profile_id);
alter table public.media add constraint media_id_profile_id_key unique (id, profile_id);
alter table public.webhook_endpoints add constraint webhook_endpoints_id_profile_id_key unique (id, profile_id);
alter table public.webhook_deliveries add constraint webhook_deliveries_id_profile_id_key unique (id, profile_id);
alter table public.events add constraint events_id_profile_id_key unique (id, profile_id);
alter table public.post_targets add constraint post_targets_id_profile_id_key unique (id, profile_id);

-- post_targets → posts
delete from public.post_targets t using public.posts p where p.id = t.post_id and p.profile_id <> t.profile_id;
alter table public.post_targets drop constraint post_targets_post_id_fkey;
alter table public.post_targets add constraint post_targets_post_id_profile_id_fkey
  foreign key (post_id, profile_id) references public.posts (id, profile_id) on delete cascade;

-- post_targets → connections
update public.post_targets t
set connection_id = null,
    status = case when t.status in ('pending', 'publishing') then 'canceled' else t.status end,
    lease_until = null,
    error_message = 'Canceled: the connection named belongs to another profile'
from public.connections c
where c.id = t.connection_id and c.profile_id <> t.profile_id;
alter table public.post_targets drop constraint post_targets_connection_id_fkey;
alter table public.post_targets add constraint post_targets_connection_id_profile_id_fkey
  foreign key (connection_id, profile_id) references public.connections (id, profile_id) on delete set null (connection_id);

-- post_media → posts, media
delete from public.post_media m using public.posts p where p.id = m.post_id and p.profile_id <> m.profile_id;
alter table public.post_media drop constraint post_media_post_id_fkey;
alter table public.post_media add constraint post_media_post_id_profile_id_fkey
  foreign key (post_id, profile_id) references public.posts (id, profile_id) on delete cascade;
update public.post_media pm set media_id = null
from public.media m where m.id = pm.media_id and m.profile_id <> pm.profile_id;
alter table public.post_media drop constraint post_media_media_id_fkey;
alter table public.post_media add constraint post_media_media_id_profile_id_fkey
  foreign key (media_id, profile_id) references public.media (id, profile_id) on delete set null (media_id);

-- job_logs → posts, post_targets
update public.job_logs j set post_id = null
from public.posts p where p.id = j.post_id and p.profile_id <> j.profile_id;
alter table public.job_logs drop constraint job_logs_post_id_fkey;
alter table public.job_logs add constraint job_logs_post_id_profile_id_fkey
  foreign key (post_id, profile_id) references public.posts (id, profile_id) on delete cascade;
update public.job_logs j set target_id = null
from public.post_targets t where t.id = j.target_id and t.profile_id <> j.profile_id;
alter table public.job_logs drop constraint job_logs_target_id_fkey;
alter table public.job_logs add constraint job_logs_target_id_profile_id_fkey
  foreign key (target_id, profile_id) references public.post_targets (id, profile_id) on delete cascade;

-- events → posts, post_targets
update public.events e set post_id = null
from public.posts p where p.id = e.post_id and p.profile_id <> e.profile_id;
alter table public.events drop constraint events_post_id_fkey;
alter table public.events add constraint events_post_id_profile_id_fkey
  foreign key (post_id, profile_id) references public.posts (id, profile_id) on delete set null (post_id);
update public.events e set target_id = null
from public.post_targets t where t.id = e.target_id and t.profile_id <> e.profile_id;
alter table public.events drop constraint events_target_id_fkey;
alter table public.events add constraint events_target_id_profile_id_fkey
  foreign key (target_id, profile_id) references public.post_targets (id, profile_id) on delete set null (target_id);

-- webhook_deliveries → webhook_endpoints, events
delete from public.webhook_deliveries d using public.webhook_endpoints e
where e.id = d.endpoint_id and e.profile_id <> d.profile_id;
alter table public.webhook_deliveries drop constraint webhook_deliveries_endpoint_id_fkey;
alter table public.webhook_deliveries add constraint webhook_deliveries_endpoint_id_profile_id_fkey
  foreign key (endpoint_id, profile_id) references public.webhook_endpoints (id, profile_id) on delete cascade;
delete from public.webhook_deliveries d using public.events e where e.id = d.event_id and e.profile_id <> d.profile_id;
alter table public.webhook_deliveries drop constraint webhook_deliveries_event_id_fkey;
alter table public.webhook_deliveries add constraint webhook_deliveries_event_id_profile_id_fkey
  foreign key (event_id, profile_id) references public.events (id, profile_id) on delete cascade;

-- webhook_delivery_attempts → webhook_deliveries
delete from public.webhook_delivery_attempts a using public.webhook_deliveries d
where d.id = a.delivery_id and d.profile_id <> a.profile_id;
alter table public.webhook_delivery_attempts drop constraint webhook_delivery_attempts_delivery_id_fkey;
alter table public.webhook_delivery_attempts add constraint webhook_delivery_attempts_delivery_id_profile_id_fkey
  foreign key (delivery_id, profile_id) references public.webhook_deliveries (id, profile_id) on delete cascade;

-- ---------------------------------------------------------------------------------------------------------------------
-- 5. Who pays for a profile (its creator: webhook entitlement, post quota, profile count) never changes, for any role.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.refuse_created_by_change() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.created_by is distinct from old.created_by then
    raise exception 'a profile''s creator (its billing owner) cannot change' using errcode = '42501';
  end if;
  return new;
end;
$$;
revoke all on function public.refuse_created_by_change() from public;

create trigger profiles_created_by_immutable before update on public.profiles
  for each row execute function public.refuse_created_by_change();

-- ---------------------------------------------------------------------------------------------------------------------
-- 6. Membership: no direct insert (members arrive only through definer functions); the owner row cannot be changed
--    or removed and nobody can be made owner; a member who leaves or is removed loses the keys they made there.
-- ---------------------------------------------------------------------------------------------------------------------
drop policy "Owners can add members to their profiles" on public.profile_members;

drop policy "Owners can change members of their profiles" on public.profile_members;
create policy "Owners can change the other members of their profiles"
  on public.profile_members for update to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids(array['owner']))::uuid[]) and role <> 'owner')
  with check (profile_id = any ((select public.accessible_profile_ids(array['owner']))::uuid[]) and role <> 'owner');

drop policy "Owners can remove members and members can leave" on public.profile_members;
create policy "Owners can remove other members and members can leave"
  on public.profile_members for delete to amplify_api
  using (role <> 'owner'
         and (profile_id = any ((select public.accessible_profile_ids(array['owner']))::uuid[])
              or user_id = (select auth.uid())));

create function public.revoke_keys_of_departed_member() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'DELETE' or (old.invitation_status = 'active' and new.invitation_status <> 'active') then
    update public.api_keys set status = 'revoked', revoked_at = coalesce(revoked_at, now())
    where user_id = old.user_id and profile_id = old.profile_id and status = 'active';
  end if;
  return null;
end;
$$;
revoke all on function public.revoke_keys_of_departed_member() from public;

create trigger profile_members_revoke_keys_on_delete after delete on public.profile_members
  for each row execute function public.revoke_keys_of_departed_member();
create trigger profile_members_revoke_keys_on_deactivate after update of invitation_status on public.profile_members
  for each row execute function public.revoke_keys_of_departed_member();

-- ---------------------------------------------------------------------------------------------------------------------
-- 7. API keys: a revoked key stays revoked; a key's hash, user and profile never change. Keys are created by a
--    browser session only (an API key cannot mint keys that would outlive its own revocation).
-- ---------------------------------------------------------------------------------------------------------------------
create function public.guard_api_key_update() returns trigger
language plpgsql set search_path = '' as $$
begin
  if old.status = 'revoked' and new.status <> 'revoked' then
    raise exception 'a revoked API key cannot be made active again' using errcode = '42501';
  end if;
  if new.key_hash is distinct from old.key_hash or new.user_id is distinct from old.user_id
     or new.profile_id is distinct from old.profile_id then
    raise exception 'an API key''s hash, user and profile cannot change' using errcode = '42501';
  end if;
  return new;
end;
$$;
revoke all on function public.guard_api_key_update() from public;

create trigger api_keys_guard_update before update on public.api_keys
  for each row execute function public.guard_api_key_update();

drop policy "Users can create keys for profiles they belong to" on public.api_keys;
create policy "Users can create keys in a browser session for their profiles"
  on public.api_keys for insert to amplify_api
  with check (user_id = (select auth.uid())
              and profile_id = any ((select public.accessible_profile_ids())::uuid[])
              and public.request_profile_scope() is null);

-- ---------------------------------------------------------------------------------------------------------------------
-- 8. Post targets: our requests only cancel a pending target or retry a failed one. Everything else (claiming,
--    outcomes, leases) is the service connection's, unrestricted. A published or publishing target never goes back.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.guard_post_target_transition() returns trigger
language plpgsql set search_path = '' as $$
begin
  if current_user <> 'amplify_api' then
    return new;
  end if;
  if tg_op = 'INSERT' then
    if new.status <> 'pending' or new.attempts <> 0 then
      raise exception 'a new target starts pending with no attempts' using errcode = '42501';
    end if;
    return new;
  end if;
  if old.status = 'pending' and new.status = 'canceled' then
    return new;
  end if;
  if old.status = 'failed' and new.status = 'pending' and new.attempts = 0 then
    return new;
  end if;
  raise exception 'a target cannot go from % to % through the API', old.status, new.status using errcode = '42501';
end;
$$;
revoke all on function public.guard_post_target_transition() from public;

create trigger post_targets_guard_transition before insert or update on public.post_targets
  for each row execute function public.guard_post_target_transition();

-- ---------------------------------------------------------------------------------------------------------------------
-- 9. The post quota: charged to the profile's owner (derived here, never named by the caller), only by an active
--    member of that profile (an API key: its own profile only), or by the service connection (no claims).
-- ---------------------------------------------------------------------------------------------------------------------
drop function public.consume_post_quota(uuid, integer, jsonb);

-- p_limits maps '<status>:<plan>' to the posts-per-month limit for that subscription state (JSON null: unlimited),
-- built from the plan table in code; only amplify_api (our code) and the service connection may call this.
create function public.consume_post_quota(
  p_profile_id uuid,
  p_count integer,
  p_limits jsonb,
  out counted boolean,
  out used integer,
  out quota integer,
  out period_start timestamptz,
  out period_end timestamptz,
  out status text,
  out plan text
)
language plpgsql volatile security definer set search_path = '' as $$
declare
  owner_id uuid;
  sub record;
  entry jsonb;
begin
  if p_count is null or p_count < 1 or p_count > 1000 then
    raise exception 'p_count must be between 1 and 1000' using errcode = '22023';
  end if;
  select p.created_by into owner_id from public.profiles p where p.id = p_profile_id;
  if owner_id is null
     or ((select auth.uid()) is not null and not (p_profile_id = any (public.accessible_profile_ids()))) then
    raise exception 'not allowed to count posts for this profile' using errcode = '42501';
  end if;

  select coalesce(b.status, 'free') as status, coalesce(b.plan, 'free') as plan, b.current_period_end
  into sub
  from (select owner_id as user_id) me
  left join public.billing_subscriptions b on b.user_id = me.user_id;
  status := sub.status;
  plan := sub.plan;
  entry := p_limits -> (sub.status || ':' || sub.plan);
  quota := case when entry is null then 0 else (entry #>> '{}')::integer end;
  select p.period_start, p.period_end into period_start, period_end
  from public.usage_period(sub.current_period_end, now()) p;

  used := public.usage_add(owner_id, 'posts', p_count, quota, period_start, period_end);
  counted := used is not null;
  if not counted then
    select coalesce(max(c.used), 0) into used
    from public.usage_counters c
    where c.user_id = owner_id and c.metric = 'posts' and c.period_start = consume_post_quota.period_start;
  end if;
end;
$$;

revoke all on function public.consume_post_quota(uuid, integer, jsonb) from public, anon, authenticated;
grant execute on function public.consume_post_quota(uuid, integer, jsonb) to amplify_api;

-- ---------------------------------------------------------------------------------------------------------------------
-- 10. Idempotency keys are completed only in profiles the caller can still act on.
-- ---------------------------------------------------------------------------------------------------------------------
drop policy "Users can complete their own idempotency keys" on public.idempotency_keys;
create policy "Users can complete their idempotency keys in their profiles"
  on public.idempotency_keys for update to amplify_api
  using (user_id = (select auth.uid()) and profile_id = any ((select public.accessible_profile_ids())::uuid[]))
  with check (user_id = (select auth.uid()) and profile_id = any ((select public.accessible_profile_ids())::uuid[]));

-- ---------------------------------------------------------------------------------------------------------------------
-- 11. Webhooks: at most 20 endpoints per profile, whoever inserts; a delivery's attempt budget grows only by the one
--     attempt a manual retry asks for (or follows its endpoint's max_retries while pending).
-- ---------------------------------------------------------------------------------------------------------------------
create function public.enforce_webhook_endpoint_cap() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  -- Serialises concurrent inserts for one profile: the second counts after the first commits.
  perform pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || new.profile_id::text, 0));
  if (select count(*) from public.webhook_endpoints e where e.profile_id = new.profile_id) >= 20 then
    raise exception 'a profile can have at most 20 webhook endpoints' using errcode = '23514';
  end if;
  return new;
end;
$$;
revoke all on function public.enforce_webhook_endpoint_cap() from public;

create trigger webhook_endpoints_enforce_cap before insert on public.webhook_endpoints
  for each row execute function public.enforce_webhook_endpoint_cap();

create function public.guard_webhook_delivery_update() returns trigger
language plpgsql set search_path = '' as $$
begin
  if current_user <> 'amplify_api' then
    return new;
  end if;
  if new.status is distinct from old.status and not (old.status = 'failed' and new.status = 'pending') then
    raise exception 'a delivery cannot go from % to % through the API', old.status, new.status using errcode = '42501';
  end if;
  if new.max_attempts is distinct from old.max_attempts
     and not (new.manual_retry and new.max_attempts <= greatest(old.max_attempts, old.attempt_number) + 1)
     and not (not new.manual_retry and old.status = 'pending' and new.max_attempts = (
       select e.max_retries + 1 from public.webhook_endpoints e where e.id = new.endpoint_id)) then
    raise exception 'a delivery''s attempt budget grows only by one manual retry' using errcode = '42501';
  end if;
  return new;
end;
$$;
revoke all on function public.guard_webhook_delivery_update() from public;

create trigger webhook_deliveries_guard_update before update on public.webhook_deliveries
  for each row execute function public.guard_webhook_delivery_update();

-- record_scheduled_event, record_partial_event and create_profile (a definer function: the plan's profile allowance is
-- checked by the API under a per-user advisory lock in the same transaction) are executable by amplify_api only:
-- granted in section 2, revoked from PUBLIC, anon and authenticated above.
