-- =====================================================================================================================
-- Publishing: connected accounts, posts and their per-network targets, job logs, lifecycle events, idempotency keys.
--
-- A post has one target per network; the target is the unit of work the queue publishes (the contract's "scheduled
-- post"). Members read everything of their profiles; writes that the queue makes (claims, outcomes, logs, events)
-- run with the service connection in the publish executor and the sweep.
-- =====================================================================================================================

-- ---------------------------------------------------------------------------------------------------------------------
-- OAuth state: created by connect/init as the user, consumed once by the callback (service connection).
-- ---------------------------------------------------------------------------------------------------------------------
create table public.oauth_states (
  state text primary key,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  platform text not null,
  code_verifier text not null,
  redirect_uri text not null,
  return_url text not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);
create index oauth_states_profile_id_idx on public.oauth_states (profile_id);
create index oauth_states_expires_at_idx on public.oauth_states (expires_at);

alter table public.oauth_states enable row level security;

create policy "Owners and admins can start connections for their profiles"
  on public.oauth_states for insert to authenticated
  with check (user_id = (select auth.uid()) and profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

-- ---------------------------------------------------------------------------------------------------------------------
-- Connections: one connected account on one network for one profile. Tokens are AES-256-GCM ciphertext and are not
-- readable by `authenticated` at all.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.connections (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  platform text not null,
  external_account_id text not null,
  username text not null,
  display_name text,
  avatar_url text,
  access_token_enc text not null,
  refresh_token_enc text,
  has_refresh_token boolean generated always as (refresh_token_enc is not null) stored,
  token_expires_at timestamptz,
  scopes text[] not null default '{}',
  status text not null default 'connected' check (status in ('connected', 'needs_reconnect')),
  settings jsonb not null default '{}'::jsonb,
  metadata jsonb not null default '{}'::jsonb,
  last_error text,
  last_synced_at timestamptz,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (profile_id, platform, external_account_id)
);
create index connections_profile_id_platform_idx on public.connections (profile_id, platform, created_at desc);

alter table public.connections enable row level security;

create policy "Members can view the connections of their profiles"
  on public.connections for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Owners and admins can change connections of their profiles"
  on public.connections for update to authenticated
  using (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]))
  with check (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

create policy "Owners and admins can remove connections of their profiles"
  on public.connections for delete to authenticated
  using (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

revoke select, insert, update on public.connections from anon, authenticated;
grant select (id, profile_id, platform, external_account_id, username, display_name, avatar_url, has_refresh_token, token_expires_at,
              scopes, status, settings, metadata, last_error, last_synced_at, created_by, created_at, updated_at)
  on public.connections to authenticated;
grant update (settings) on public.connections to authenticated;

-- ---------------------------------------------------------------------------------------------------------------------
-- Posts, their media and their targets.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.posts (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  content text not null,
  status text not null default 'scheduled'
    check (status in ('scheduled', 'publishing', 'published', 'partially_published', 'failed', 'canceled')),
  scheduled_for timestamptz,
  published_at timestamptz,
  created_by uuid references auth.users (id) on delete set null,
  api_key_id uuid references public.api_keys (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index posts_profile_id_created_at_idx on public.posts (profile_id, created_at desc, id desc);
create index posts_profile_id_status_idx on public.posts (profile_id, status, created_at desc);

create table public.post_media (
  id uuid primary key default gen_random_uuid(),
  post_id uuid not null references public.posts (id) on delete cascade,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  media_id uuid,
  file_path text,
  public_url text not null,
  mime_type text not null,
  file_size bigint,
  file_name text,
  sort_order integer not null default 0,
  created_at timestamptz not null default now()
);
create index post_media_post_id_idx on public.post_media (post_id, sort_order);
create index post_media_profile_id_idx on public.post_media (profile_id);

create table public.post_targets (
  id uuid primary key default gen_random_uuid(),
  post_id uuid not null references public.posts (id) on delete cascade,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  platform text not null,
  connection_id uuid references public.connections (id) on delete set null,
  status text not null default 'pending'
    check (status in ('pending', 'publishing', 'published', 'failed', 'canceled')),
  scheduled_for timestamptz,
  -- When the next attempt (or status check) is due; the sweep enqueues what is due soon.
  due_at timestamptz not null default now(),
  attempts integer not null default 0,
  -- A claim by an executor; a crashed executor's lease expires and the sweep makes the target pending again.
  lease_until timestamptz,
  -- The due_at a queue message was last sent for, so the sweep does not enqueue the same attempt twice.
  queued_for timestamptz,
  queued_at timestamptz,
  processing_state jsonb,
  processing_started_at timestamptz,
  external_post_id text,
  external_url text,
  error_message text,
  error_category text,
  published_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index post_targets_post_id_idx on public.post_targets (post_id);
create index post_targets_profile_id_idx on public.post_targets (profile_id, created_at desc);
create index post_targets_connection_id_idx on public.post_targets (connection_id);
-- The sweep's two reads: pending targets with no message for their due time yet, and messages sent long ago.
create index post_targets_unqueued_due_idx on public.post_targets (due_at)
  where status = 'pending' and queued_for is distinct from due_at;
create index post_targets_queued_idx on public.post_targets (queued_at) where status = 'pending' and queued_for = due_at;
create index post_targets_lease_idx on public.post_targets (lease_until) where status = 'publishing';

alter table public.posts enable row level security;
alter table public.post_media enable row level security;
alter table public.post_targets enable row level security;

create policy "Members can view the posts of their profiles"
  on public.posts for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Members can create posts in their profiles"
  on public.posts for insert to authenticated
  with check (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Members can update the posts of their profiles"
  on public.posts for update to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]))
  with check (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Members can view the media of their posts"
  on public.post_media for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Members can attach media to posts in their profiles"
  on public.post_media for insert to authenticated
  with check (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Members can view the targets of their posts"
  on public.post_targets for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Members can create targets for posts in their profiles"
  on public.post_targets for insert to authenticated
  with check (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Members can cancel or retry the targets of their posts"
  on public.post_targets for update to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]))
  with check (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

-- ---------------------------------------------------------------------------------------------------------------------
-- Job logs: one row per attempt, written by the executor. Delivery metrics are computed from them.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.job_logs (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  post_id uuid references public.posts (id) on delete cascade,
  target_id uuid references public.post_targets (id) on delete cascade,
  platform text not null,
  job_type text not null default 'publish' check (job_type in ('publish', 'status_check', 'token_refresh')),
  status text not null check (status in ('success', 'failed', 'rate_limited')),
  attempt_number integer not null,
  started_at timestamptz not null,
  completed_at timestamptz not null,
  duration_ms integer not null,
  error_message text,
  error_category text,
  was_rate_limited boolean not null default false,
  will_retry boolean not null default false,
  next_retry_at timestamptz,
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
create index job_logs_profile_id_created_at_idx on public.job_logs (profile_id, created_at desc, id desc);
create index job_logs_target_id_idx on public.job_logs (target_id);
create index job_logs_post_id_idx on public.job_logs (post_id);

alter table public.job_logs enable row level security;

create policy "Members can view the job logs of their profiles"
  on public.job_logs for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

-- ---------------------------------------------------------------------------------------------------------------------
-- Events: every lifecycle transition, written in the same transaction as the change, for webhook delivery.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.events (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  event_type text not null,
  post_id uuid references public.posts (id) on delete set null,
  target_id uuid references public.post_targets (id) on delete set null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);
create index events_profile_id_created_at_idx on public.events (profile_id, created_at desc);

alter table public.events enable row level security;

create policy "Members can view the events of their profiles"
  on public.events for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

-- Nobody writes events directly but the service connection (they are signed and delivered to webhooks, so a forged
-- one must be impossible). A user's own transaction records the two events it can cause through these functions,
-- which build the payload from the rows themselves.
create function public.record_scheduled_event(p_target_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.events (profile_id, event_type, post_id, target_id, payload)
  select t.profile_id, 'post.scheduled', p.id, t.id, jsonb_build_object(
    'event_type', 'post.scheduled',
    'timestamp', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'profile_id', t.profile_id,
    'data', jsonb_build_object('post_id', p.id, 'target_id', t.id, 'platform', t.platform, 'content', p.content,
                               'published_at', null,
                               'scheduled_at', to_char(t.scheduled_for at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
  from public.post_targets t join public.posts p on p.id = t.post_id
  where t.id = p_target_id and t.status = 'pending' and t.scheduled_for is not null
    and ((select auth.uid()) is null or t.profile_id = any (public.accessible_profile_ids()));
  if not found then
    raise exception 'no scheduled target % visible to the caller', p_target_id using errcode = '42501';
  end if;
end;
$$;

create function public.record_partial_event(p_post_id uuid) returns void
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.events (profile_id, event_type, post_id, payload)
  select p.profile_id, 'post.partially_published', p.id, jsonb_build_object(
    'event_type', 'post.partially_published',
    'timestamp', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'profile_id', p.profile_id,
    'data', jsonb_build_object('post_id', p.id, 'content', p.content, 'targets',
      (select jsonb_agg(jsonb_build_object('platform', t.platform, 'status', t.status, 'external_post_id', t.external_post_id,
                                           'error_category', t.error_category) order by t.platform)
       from public.post_targets t where t.post_id = p.id)))
  from public.posts p
  where p.id = p_post_id and p.status = 'partially_published'
    and ((select auth.uid()) is null or p.profile_id = any (public.accessible_profile_ids()));
end;
$$;

revoke execute on function public.record_scheduled_event(uuid), public.record_partial_event(uuid) from public, anon;
grant execute on function public.record_scheduled_event(uuid), public.record_partial_event(uuid) to authenticated;

-- ---------------------------------------------------------------------------------------------------------------------
-- Idempotency keys for POST /api/v1/post: the first response is kept and replayed for the same key and body.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.idempotency_keys (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  idempotency_key text not null,
  request_hash text not null,
  response_status integer,
  response_body jsonb,
  created_at timestamptz not null default now(),
  unique (profile_id, user_id, idempotency_key)
);

alter table public.idempotency_keys enable row level security;

create policy "Users can view their own idempotency keys"
  on public.idempotency_keys for select to authenticated
  using (user_id = (select auth.uid()) and profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Users can record their own idempotency keys"
  on public.idempotency_keys for insert to authenticated
  with check (user_id = (select auth.uid()) and profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Users can complete their own idempotency keys"
  on public.idempotency_keys for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

-- Timestamps.
create trigger connections_touch_updated_at before update on public.connections
  for each row execute function public.touch_updated_at();
create trigger posts_touch_updated_at before update on public.posts
  for each row execute function public.touch_updated_at();
create trigger post_targets_touch_updated_at before update on public.post_targets
  for each row execute function public.touch_updated_at();
