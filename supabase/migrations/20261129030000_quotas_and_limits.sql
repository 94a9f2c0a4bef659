-- =====================================================================================================================
-- Quotas and rate limits.
--
-- Monthly quotas (posts created, API requests) are counted per user and billing month in usage_counters. A count is
-- only ever taken by one conditional upsert (public.usage_add), so concurrent requests at the edge of a quota never
-- let more through than it allows, and no count is lost. The Postgres rate limiter (the local home, and self-hosters
-- without Upstash) keeps one fixed-window counter per policy and identifier in rate_limit_counters.
--
-- The limits themselves live in code (src/billing/plans.ts, src/core/ratelimit/policies.ts) and are passed in by the
-- caller; these functions only count. Counters are written by the service connection, and posts by the security
-- definer public.consume_post_quota inside the caller's own transaction. Users can read their own usage, never write
-- it.
-- =====================================================================================================================

-- ---------------------------------------------------------------------------------------------------------------------
-- Billing months. A user with a Stripe billing period (current_period_end) counts by that period, rolled forward a
-- month at a time from the anchor if the stored end has passed (a renewal not yet synced, or a lapsed subscription);
-- everyone else by the calendar month in UTC. Months are added to the anchor, never chained, so a period anchored on
-- the 31st ends on the 28th (or 29th) in February and on the 31st again in March, as Stripe bills.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.usage_period(
  p_current_period_end timestamptz,
  p_at timestamptz,
  out period_start timestamptz,
  out period_end timestamptz
)
language plpgsql stable set search_path = '' as $$
declare
  at_utc timestamp := p_at at time zone 'UTC';
  anchor timestamp := p_current_period_end at time zone 'UTC';
  n integer;
begin
  if p_current_period_end is null then
    period_start := date_trunc('month', at_utc) at time zone 'UTC';
    period_end := (date_trunc('month', at_utc) + interval '1 month') at time zone 'UTC';
    return;
  end if;
  -- anchor + n months falls in p_at's calendar month; the period ends there if that is still ahead, else a month on.
  n := (extract(year from at_utc) - extract(year from anchor))::integer * 12
     + (extract(month from at_utc) - extract(month from anchor))::integer;
  if anchor + n * interval '1 month' <= at_utc then
    n := n + 1;
  end if;
  period_start := (anchor + (n - 1) * interval '1 month') at time zone 'UTC';
  period_end := (anchor + n * interval '1 month') at time zone 'UTC';
end;
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- Usage counters: one row per user, metric and billing month. Metrics sit on separate rows so that a transaction
-- creating posts (which holds its row until it commits) never delays the counting of API requests.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.usage_counters (
  user_id uuid not null references auth.users (id) on delete cascade,
  metric text not null check (metric in ('posts', 'api_requests')),
  period_start timestamptz not null,
  period_end timestamptz not null,
  used integer not null default 0 check (used >= 0),
  updated_at timestamptz not null default now(),
  primary key (user_id, metric, period_start),
  check (period_end > period_start)
);

alter table public.usage_counters enable row level security;

create policy "Users can view their own usage"
  on public.usage_counters for select to authenticated
  using (user_id = (select auth.uid()));

revoke insert, update, delete, truncate on public.usage_counters from anon, authenticated;

-- Adds p_count to a counter unless the total would exceed p_limit (null: no limit). Returns the new total, or null
-- when nothing was counted. One statement: concurrent callers queue on the row and each sees the others' counts.
create function public.usage_add(
  p_user_id uuid,
  p_metric text,
  p_count integer,
  p_limit integer,
  p_period_start timestamptz,
  p_period_end timestamptz
) returns integer
language sql volatile set search_path = '' as $$
  insert into public.usage_counters as u (user_id, metric, period_start, period_end, used)
  select p_user_id, p_metric, p_period_start, p_period_end, p_count
  where p_limit is null or p_count <= p_limit
  on conflict (user_id, metric, period_start) do update
    set used = u.used + excluded.used, period_end = excluded.period_end, updated_at = now()
    where p_limit is null or u.used + excluded.used <= p_limit
  returning u.used
$$;

revoke execute on function public.usage_add(uuid, text, integer, integer, timestamptz, timestamptz)
  from public, anon, authenticated;

-- Counts p_count posts against p_user_id's monthly quota, inside the caller's transaction (so a post that is not
-- created gives its count back). p_limits maps '<status>:<plan>' to the posts-per-month limit for that subscription
-- state (JSON null: unlimited), built from the plan table in code. A browser session or API key may count only
-- against itself or the owner of a profile it is an active member of; the service connection (no claims) against
-- anyone. Counting can only ever add, so calling this directly grants nothing.
create function public.consume_post_quota(
  p_user_id uuid,
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
  sub record;
  entry jsonb;
begin
  if p_count is null or p_count < 1 or p_count > 1000 then
    raise exception 'p_count must be between 1 and 1000' using errcode = '22023';
  end if;
  if (select auth.uid()) is not null and p_user_id <> (select auth.uid()) and not exists (
    select 1
    from public.profile_members mine
    join public.profile_members theirs on theirs.profile_id = mine.profile_id
    where mine.user_id = (select auth.uid()) and mine.invitation_status = 'active'
      and (public.request_profile_scope() is null or mine.profile_id = public.request_profile_scope())
      and theirs.user_id = p_user_id and theirs.role = 'owner'
  ) then
    raise exception 'not allowed to count against this user''s quota' using errcode = '42501';
  end if;

  select coalesce(b.status, 'free') as status, coalesce(b.plan, 'free') as plan, b.current_period_end
  into sub
  from (select p_user_id as user_id) me
  left join public.billing_subscriptions b on b.user_id = me.user_id;
  status := sub.status;
  plan := sub.plan;
  entry := p_limits -> (sub.status || ':' || sub.plan);
  quota := case when entry is null then 0 else (entry #>> '{}')::integer end;
  select p.period_start, p.period_end into period_start, period_end
  from public.usage_period(sub.current_period_end, now()) p;

  used := public.usage_add(p_user_id, 'posts', p_count, quota, period_start, period_end);
  counted := used is not null;
  if not counted then
    select coalesce(max(c.used), 0) into used
    from public.usage_counters c
    where c.user_id = p_user_id and c.metric = 'posts' and c.period_start = consume_post_quota.period_start;
  end if;
end;
$$;

revoke execute on function public.consume_post_quota(uuid, integer, jsonb) from public, anon;
grant execute on function public.consume_post_quota(uuid, integer, jsonb) to authenticated;

-- ---------------------------------------------------------------------------------------------------------------------
-- Rate limit counters: a fixed window per '<policy>:<identifier>' bucket, aligned to the epoch like
-- @upstash/ratelimit's fixedWindow (so both limiters reset at the same instants). One row per bucket, reused from
-- window to window. Only the service connection reads or writes them.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.rate_limit_counters (
  bucket text primary key,
  window_start timestamptz not null,
  used integer not null check (used >= 0)
);

alter table public.rate_limit_counters enable row level security;

create policy "Users cannot read rate limit counters"
  on public.rate_limit_counters for select to authenticated
  using (false);

revoke all on public.rate_limit_counters from anon, authenticated;

-- Counts p_cost against a bucket in the current window and returns the window's total (over the limit included, as
-- @upstash/ratelimit does; the caller compares it with the policy's limit). One statement: correct under
-- concurrency. A request that started before the window turned over counts towards the newer window, never back.
create function public.rate_limit_hit(
  p_bucket text,
  p_window_ms bigint,
  p_cost integer,
  out used integer,
  out window_start timestamptz
)
language sql volatile set search_path = '' as $$
  insert into public.rate_limit_counters as c (bucket, window_start, used)
  values (p_bucket, to_timestamp(floor(extract(epoch from now()) * 1000 / p_window_ms) * p_window_ms / 1000.0), p_cost)
  on conflict (bucket) do update
    set used = case when excluded.window_start > c.window_start then excluded.used else c.used + excluded.used end,
        window_start = greatest(c.window_start, excluded.window_start)
  returning c.used, c.window_start
$$;

revoke execute on function public.rate_limit_hit(text, bigint, integer) from public, anon, authenticated;
