-- =====================================================================================================================
-- Analytics: metrics collected from the networks, kept over time, and the state of each account's sync.
--
-- - `post_metric_snapshots`: one row per published target per capture, so a post's metrics form a time series (not
--   only the latest). Metric columns are null when the network does not report that metric for that post (a null is
--   "unknown", never zero). The metrics model and the engagement definition live in src/analytics/model.ts:
--     engagements     = likes + comments + shares + saves (unknown counts as 0; clicks and views are not engagement)
--     engagement_rate = engagements / (impressions, else reach, else video_views), null when that base is 0 or unknown
--   `raw` holds the network's own answer (whatever else it reports).
-- - `account_metric_snapshots`: account-level numbers (followers) per capture, where the network offers them.
-- - `analytics_sync_state`: one row per connection. It is the sync job's outbox (src/core/jobs/outbox.ts: `status`
--   pending/claimed/idle, due at `next_sync_at`, `lease_until`, `queued_for`, `queued_at`; `id` is the connection id)
--   and the account's sync record: `health`, when it last succeeded, why it last failed.
-- - `post_targets.next_metrics_at`: when a published target's metrics are next due (young posts more often than old
--   ones; null: not collected any more). Set when a target becomes published (trigger below), moved on by the job.
--
-- Members of a profile read all of it (select policies to amplify_api); nothing here is writable through the API's
-- role: the sync job writes with the service connection, and `request_analytics_sync` (definer) is the one way a
-- request asks for a sync now. anon and authenticated get nothing (20261206000000_trust_boundary.sql).
-- =====================================================================================================================

-- ---------------------------------------------------------------------------------------------------------------------
-- 1. Snapshots of a published target's metrics.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.post_metric_snapshots (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  post_id uuid not null,
  target_id uuid not null,
  connection_id uuid,
  platform text not null,
  -- When the target was published (copied from the target, so age at capture needs no join).
  published_at timestamptz,
  captured_at timestamptz not null default now(),
  impressions bigint check (impressions >= 0),
  reach bigint check (reach >= 0),
  likes bigint check (likes >= 0),
  comments bigint check (comments >= 0),
  shares bigint check (shares >= 0),
  saves bigint check (saves >= 0),
  clicks bigint check (clicks >= 0),
  video_views bigint check (video_views >= 0),
  engagements bigint not null default 0 check (engagements >= 0),
  engagement_rate numeric check (engagement_rate >= 0),
  raw jsonb not null default '{}'::jsonb,
  constraint post_metric_snapshots_post_id_profile_id_fkey
    foreign key (post_id, profile_id) references public.posts (id, profile_id) on delete cascade,
  constraint post_metric_snapshots_target_id_profile_id_fkey
    foreign key (target_id, profile_id) references public.post_targets (id, profile_id) on delete cascade,
  constraint post_metric_snapshots_connection_id_profile_id_fkey
    foreign key (connection_id, profile_id) references public.connections (id, profile_id) on delete set null (connection_id)
);
create index post_metric_snapshots_profile_id_captured_at_idx on public.post_metric_snapshots (profile_id, captured_at);
create index post_metric_snapshots_target_id_captured_at_idx on public.post_metric_snapshots (target_id, captured_at);
create index post_metric_snapshots_post_id_idx on public.post_metric_snapshots (post_id);
create index post_metric_snapshots_connection_id_idx on public.post_metric_snapshots (connection_id, captured_at);

-- ---------------------------------------------------------------------------------------------------------------------
-- 2. Snapshots of an account's own numbers.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.account_metric_snapshots (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  connection_id uuid not null,
  platform text not null,
  captured_at timestamptz not null default now(),
  followers bigint check (followers >= 0),
  raw jsonb not null default '{}'::jsonb,
  constraint account_metric_snapshots_connection_id_profile_id_fkey
    foreign key (connection_id, profile_id) references public.connections (id, profile_id) on delete cascade
);
create index account_metric_snapshots_connection_id_captured_at_idx
  on public.account_metric_snapshots (connection_id, captured_at);
create index account_metric_snapshots_profile_id_captured_at_idx
  on public.account_metric_snapshots (profile_id, captured_at);

-- ---------------------------------------------------------------------------------------------------------------------
-- 3. Each account's sync: the job's outbox row and its record.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.analytics_sync_state (
  connection_id uuid primary key,
  -- The outbox addresses rows by `id`: the connection's.
  id uuid not null generated always as (connection_id) stored unique,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  platform text not null,
  -- The account's sync as the last attempt left it:
  --   pending          never attempted yet
  --   healthy          the last attempt succeeded
  --   failing          the last attempt failed (network error, garbage answer, ...): see last_error
  --   rate_limited     the network asked us to slow down; next_sync_at is after its window
  --   needs_reconnect  authorization was lost; the connection is marked needs_reconnect and syncs again once reconnected
  --   unsupported      the network or this account type offers no metrics (last_error says why)
  health text not null default 'pending'
    check (health in ('pending', 'healthy', 'failing', 'rate_limited', 'needs_reconnect', 'unsupported')),
  -- Outbox state: pending (waiting for next_sync_at), claimed (a worker holds it until lease_until), idle (nothing due).
  status text not null default 'pending' check (status in ('idle', 'pending', 'claimed')),
  next_sync_at timestamptz,
  lease_until timestamptz,
  queued_for timestamptz,
  queued_at timestamptz,
  -- When someone last asked for a sync now (POST /api/v1/analytics/sync).
  requested_at timestamptz,
  last_attempt_at timestamptz,
  last_success_at timestamptz,
  -- captured_at of the newest snapshot stored for this account.
  last_metric_at timestamptz,
  last_account_metric_at timestamptz,
  last_error text,
  -- network | rate_limit | auth | invalid_response | unsupported | internal
  last_error_category text,
  last_error_at timestamptz,
  consecutive_failures integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint analytics_sync_state_connection_id_profile_id_fkey
    foreign key (connection_id, profile_id) references public.connections (id, profile_id) on delete cascade,
  constraint analytics_sync_state_due_when_pending check (status <> 'pending' or next_sync_at is not null)
);
create index analytics_sync_state_profile_id_idx on public.analytics_sync_state (profile_id);
-- The sweep's reads (src/core/jobs/outbox.ts): due rows with no message yet, messages sent long ago, expired claims.
create index analytics_sync_state_unqueued_due_idx on public.analytics_sync_state (next_sync_at)
  where status = 'pending' and queued_for is distinct from next_sync_at;
create index analytics_sync_state_queued_idx on public.analytics_sync_state (queued_at)
  where status = 'pending' and queued_for = next_sync_at;
create index analytics_sync_state_lease_idx on public.analytics_sync_state (lease_until) where status = 'claimed';

create trigger analytics_sync_state_touch_updated_at before update on public.analytics_sync_state
  for each row execute function public.touch_updated_at();

-- ---------------------------------------------------------------------------------------------------------------------
-- 4. When a published target's metrics are next due.
-- ---------------------------------------------------------------------------------------------------------------------
alter table public.post_targets add column next_metrics_at timestamptz;
create index post_targets_next_metrics_idx on public.post_targets (connection_id, next_metrics_at)
  where next_metrics_at is not null;

-- A target that becomes published is due for metrics now, and its account's sync is due now (or sooner than planned).
create function public.arm_metrics_on_publish() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.next_metrics_at := coalesce(new.next_metrics_at, now());
  if new.connection_id is not null then
    insert into public.analytics_sync_state (connection_id, profile_id, platform, status, next_sync_at)
    select c.id, c.profile_id, c.platform, 'pending', now()
    from public.connections c where c.id = new.connection_id and c.status = 'connected'
    on conflict (connection_id) do update
      set status = case when public.analytics_sync_state.status = 'claimed' then 'claimed' else 'pending' end,
          next_sync_at = least(coalesce(public.analytics_sync_state.next_sync_at, now()), now());
  end if;
  return new;
end;
$$;
revoke all on function public.arm_metrics_on_publish() from public;

create trigger post_targets_arm_metrics_on_publish before update of status on public.post_targets
  for each row when (new.status = 'published' and old.status is distinct from 'published')
  execute function public.arm_metrics_on_publish();

-- A connection that is (re)connected gets a sync row due now: a reconnected account is synced again at once.
create function public.arm_analytics_sync_on_connect() returns trigger
language plpgsql set search_path = '' as $$
begin
  insert into public.analytics_sync_state (connection_id, profile_id, platform, status, next_sync_at)
  values (new.id, new.profile_id, new.platform, 'pending', now())
  on conflict (connection_id) do update
    set status = case when public.analytics_sync_state.status = 'claimed' then 'claimed' else 'pending' end,
        next_sync_at = now();
  return null;
end;
$$;
revoke all on function public.arm_analytics_sync_on_connect() from public;

create trigger connections_arm_analytics_sync_on_insert after insert on public.connections
  for each row when (new.status = 'connected')
  execute function public.arm_analytics_sync_on_connect();
create trigger connections_arm_analytics_sync_on_reconnect after update of status on public.connections
  for each row when (new.status = 'connected' and old.status is distinct from 'connected')
  execute function public.arm_analytics_sync_on_connect();

-- Existing connections and recently published targets (the collection window is 30 days by default).
insert into public.analytics_sync_state (connection_id, profile_id, platform, status, next_sync_at)
select c.id, c.profile_id, c.platform, 'pending', now() from public.connections c
on conflict (connection_id) do nothing;
update public.post_targets set next_metrics_at = now()
where status = 'published' and published_at > now() - interval '30 days' and next_metrics_at is null;

-- ---------------------------------------------------------------------------------------------------------------------
-- 5. Asking for a sync now: every connected account of the profile is due now, and so is every target still in its
--    collection window. Only for profiles the caller may act on (an API key: its own). Returns how many accounts.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.request_analytics_sync(p_profile_id uuid) returns integer
language plpgsql volatile security definer set search_path = '' as $$
declare
  n integer;
begin
  if p_profile_id is null or not (p_profile_id = any (public.accessible_profile_ids())) then
    raise exception 'not allowed to sync this profile' using errcode = '42501';
  end if;
  update public.post_targets set next_metrics_at = now()
  where profile_id = p_profile_id and next_metrics_at is not null and next_metrics_at > now();
  insert into public.analytics_sync_state (connection_id, profile_id, platform, status, next_sync_at, requested_at)
  select c.id, c.profile_id, c.platform, 'pending', now(), now()
  from public.connections c where c.profile_id = p_profile_id and c.status = 'connected'
  on conflict (connection_id) do update
    set status = case when public.analytics_sync_state.status = 'claimed' then 'claimed' else 'pending' end,
        next_sync_at = now(),
        requested_at = now();
  get diagnostics n = row_count;
  return n;
end;
$$;
revoke all on function public.request_analytics_sync(uuid) from public, anon, authenticated;
grant execute on function public.request_analytics_sync(uuid) to amplify_api;

-- ---------------------------------------------------------------------------------------------------------------------
-- 6. Row-level security: members read their profiles' rows; no write privilege for the API's role.
-- ---------------------------------------------------------------------------------------------------------------------
alter table public.post_metric_snapshots enable row level security;
alter table public.account_metric_snapshots enable row level security;
alter table public.analytics_sync_state enable row level security;

create policy "Members can view the post metrics of their profiles"
  on public.post_metric_snapshots for select to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Members can view the account metrics of their profiles"
  on public.account_metric_snapshots for select to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Members can view the analytics sync state of their profiles"
  on public.analytics_sync_state for select to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

revoke all on table public.post_metric_snapshots, public.account_metric_snapshots, public.analytics_sync_state
  from public, anon, authenticated;
grant select on table public.post_metric_snapshots, public.account_metric_snapshots, public.analytics_sync_state
  to amplify_api;
