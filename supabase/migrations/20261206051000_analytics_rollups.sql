-- =====================================================================================================================
-- Analytics rollups: what the analytics endpoints read, so that they answer from one row per published target instead
-- of walking every snapshot (a busy profile has millions). Builds on 20261206050000_analytics.sql.
--
-- - `post_metric_rollups`: one row per target that has at least one snapshot, kept by a statement-level trigger on
--   `post_metric_snapshots` (one set-based statement per insert statement, whatever its size). It holds the latest
--   snapshot's metrics and what the decay figures need from the whole series:
--     peak              the snapshot with the highest engagement rate (`engagement_rate`, src/analytics/model.ts)
--     hours_to_peak     hours from publishing to the snapshot where engagements grew fastest (per hour since the
--                       snapshot before it; the first one counts from publishing)
--     half_life_hours   hours from publishing to the first snapshot holding at least half of the latest engagements
--     engagements_24h   engagements of the last snapshot captured within 24 h of publishing (0 when none was); null
--                       while no snapshot later than 24 h exists, since the share after 24 h is not known yet
--   Snapshots are cumulative counts (what the networks report), so these come from differences between captures.
-- - Indexes for the endpoints' reads of posts and targets.
--
-- Members of a profile read the rollups (a select policy to amplify_api); only the trigger writes them. anon and
-- authenticated get nothing.
-- =====================================================================================================================

create table public.post_metric_rollups (
  target_id uuid primary key,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  post_id uuid not null,
  connection_id uuid,
  platform text not null,
  published_at timestamptz not null,
  snapshots integer not null,
  first_captured_at timestamptz not null,
  last_captured_at timestamptz not null,
  -- The latest snapshot's metrics (unknown counts as 0 in these sums; `rate_base` is null when no base is known).
  impressions bigint not null,
  reach bigint not null,
  likes bigint not null,
  comments bigint not null,
  shares bigint not null,
  saves bigint not null,
  clicks bigint not null,
  video_views bigint not null,
  engagements bigint not null,
  -- The denominator of the latest engagement rate: impressions, else reach, else video views (null: none known).
  rate_base bigint,
  engagement_rate numeric,
  peak_engagement_rate numeric,
  peak_at timestamptz,
  -- float8: what percentile_cont (content decay's medians) sorts, so the medians convert nothing per row.
  hours_to_peak double precision,
  half_life_hours double precision,
  engagements_24h bigint,
  -- How far the engagement rate fell from its peak: (peak - latest) / peak, with two snapshots or more.
  engagement_rate_decay numeric generated always as (
    case when snapshots >= 2 and peak_engagement_rate > 0 and engagement_rate is not null
         then (peak_engagement_rate - engagement_rate) / peak_engagement_rate end) stored,
  updated_at timestamptz not null default now(),
  constraint post_metric_rollups_target_id_profile_id_fkey
    foreign key (target_id, profile_id) references public.post_targets (id, profile_id) on delete cascade,
  constraint post_metric_rollups_post_id_profile_id_fkey
    foreign key (post_id, profile_id) references public.posts (id, profile_id) on delete cascade
);
-- Window scans (time zones off whole hours), the top posts, the most decayed posts, an account's newest metric.
create index post_metric_rollups_profile_id_published_at_idx on public.post_metric_rollups (profile_id, published_at)
  include (platform, snapshots, engagements, hours_to_peak, half_life_hours);
-- Content decay's medians: per platform in index order (no sort before the aggregate), index-only, only the targets
-- they count (two snapshots or more, some engagement).
create index post_metric_rollups_medians_idx on public.post_metric_rollups (profile_id, platform, published_at)
  include (hours_to_peak, half_life_hours) where snapshots >= 2 and engagements > 0;
create index post_metric_rollups_profile_id_engagements_idx on public.post_metric_rollups (profile_id, engagements desc, published_at desc);
create index post_metric_rollups_profile_id_decay_idx on public.post_metric_rollups (profile_id, engagement_rate_decay desc, published_at desc)
  where engagement_rate_decay is not null;
-- An account's newest metric (sync health): the profile in the key so that the RLS policy's profile test is an index
-- condition of the same backward probe.
create index post_metric_rollups_connection_id_idx on public.post_metric_rollups (connection_id, profile_id, last_captured_at);

-- Recomputes the rollups of the given targets from all of their snapshots (set-based, one statement).
create function public.refresh_post_metric_rollups(p_target_ids uuid[]) returns void
language sql volatile set search_path = '' as $$
  with s as (
    select sn.target_id, sn.profile_id, sn.post_id, sn.connection_id, sn.platform, sn.captured_at, sn.id,
           coalesce(sn.published_at, t.published_at, min(sn.captured_at) over (partition by sn.target_id)) as published_at,
           sn.impressions, sn.reach, sn.likes, sn.comments, sn.shares, sn.saves, sn.clicks, sn.video_views,
           sn.engagements, sn.engagement_rate,
           coalesce(nullif(sn.impressions, 0), nullif(sn.reach, 0), nullif(sn.video_views, 0)) as rate_base,
           lag(sn.engagements) over w as prev_engagements,
           lag(sn.captured_at) over w as prev_at,
           row_number() over (partition by sn.target_id order by sn.captured_at desc, sn.id desc) as newest
    from public.post_metric_snapshots sn
    join public.post_targets t on t.id = sn.target_id and t.profile_id = sn.profile_id
    where sn.target_id = any (p_target_ids)
    window w as (partition by sn.target_id order by sn.captured_at, sn.id)
  ),
  v as (
    select s.*,
           (s.engagements - coalesce(s.prev_engagements, 0))::numeric
             / greatest(extract(epoch from s.captured_at - coalesce(s.prev_at, least(s.published_at, s.captured_at))) / 3600.0, 1.0 / 60)
             as velocity
    from s
  ),
  latest as (select * from v where newest = 1),
  agg as (
    select target_id,
           count(*)::integer as snapshots,
           min(captured_at) as first_captured_at,
           max(engagement_rate) as peak_engagement_rate,
           (array_agg(captured_at order by engagement_rate desc nulls last, captured_at) filter (where engagement_rate is not null))[1] as peak_at,
           (array_agg(captured_at order by velocity desc, captured_at))[1] as fastest_at,
           bool_or(captured_at > published_at + interval '24 hours') as past_24h,
           coalesce((array_agg(engagements order by captured_at desc) filter (where captured_at <= published_at + interval '24 hours'))[1], 0) as engagements_24h
    from v group by target_id
  ),
  half as (
    select v.target_id, min(v.captured_at) as half_at
    from v join latest l using (target_id)
    where l.engagements > 0 and v.engagements * 2 >= l.engagements
    group by v.target_id
  )
  insert into public.post_metric_rollups as r (
    target_id, profile_id, post_id, connection_id, platform, published_at, snapshots, first_captured_at, last_captured_at,
    impressions, reach, likes, comments, shares, saves, clicks, video_views, engagements, rate_base, engagement_rate,
    peak_engagement_rate, peak_at, hours_to_peak, half_life_hours, engagements_24h, updated_at)
  select l.target_id, l.profile_id, l.post_id, l.connection_id, l.platform, l.published_at, a.snapshots,
         a.first_captured_at, l.captured_at,
         coalesce(l.impressions, 0), coalesce(l.reach, 0), coalesce(l.likes, 0), coalesce(l.comments, 0),
         coalesce(l.shares, 0), coalesce(l.saves, 0), coalesce(l.clicks, 0), coalesce(l.video_views, 0),
         l.engagements, l.rate_base, l.engagement_rate,
         a.peak_engagement_rate, a.peak_at,
         greatest(extract(epoch from a.fastest_at - l.published_at) / 3600.0, 0)::float8,
         greatest(extract(epoch from h.half_at - l.published_at) / 3600.0, 0)::float8,
         case when a.past_24h then a.engagements_24h end,
         now()
  from latest l join agg a using (target_id) left join half h using (target_id)
  on conflict (target_id) do update set
    connection_id = excluded.connection_id, published_at = excluded.published_at, snapshots = excluded.snapshots,
    first_captured_at = excluded.first_captured_at, last_captured_at = excluded.last_captured_at,
    impressions = excluded.impressions, reach = excluded.reach, likes = excluded.likes, comments = excluded.comments,
    shares = excluded.shares, saves = excluded.saves, clicks = excluded.clicks, video_views = excluded.video_views,
    engagements = excluded.engagements, rate_base = excluded.rate_base, engagement_rate = excluded.engagement_rate,
    peak_engagement_rate = excluded.peak_engagement_rate, peak_at = excluded.peak_at,
    hours_to_peak = excluded.hours_to_peak, half_life_hours = excluded.half_life_hours,
    engagements_24h = excluded.engagements_24h, updated_at = excluded.updated_at;
$$;
revoke all on function public.refresh_post_metric_rollups(uuid[]) from public, anon, authenticated;

create function public.roll_up_post_metric_snapshots() returns trigger
language plpgsql set search_path = '' as $$
begin
  perform public.refresh_post_metric_rollups(array(select distinct target_id from new_snapshots));
  return null;
end;
$$;
revoke all on function public.roll_up_post_metric_snapshots() from public, anon, authenticated;

create trigger post_metric_snapshots_roll_up after insert on public.post_metric_snapshots
  referencing new table as new_snapshots
  for each statement execute function public.roll_up_post_metric_snapshots();

-- ---------------------------------------------------------------------------------------------------------------------
-- Hourly sums per profile and network: targets published in each UTC hour and the sums of their rollups, so a window
-- of 180 days is at most 4,320 rows per network whatever the number of posts. Local days, weekdays and hours are
-- derived from the UTC hour at query time, exactly for every time zone whose offset is a whole number of hours (the
-- endpoints read the rollups themselves for the others: India, Newfoundland, parts of Australia, …). Kept by
-- statement-level triggers on `post_metric_rollups` (the metrics) and `post_targets` (published counts), which add
-- what a statement inserted and subtract what it removed.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.post_metric_hourly (
  profile_id uuid not null references public.profiles (id) on delete cascade,
  platform text not null,
  hour timestamptz not null,
  published integer not null default 0,
  posts_with_metrics integer not null default 0,
  impressions bigint not null default 0,
  reach bigint not null default 0,
  likes bigint not null default 0,
  comments bigint not null default 0,
  shares bigint not null default 0,
  saves bigint not null default 0,
  clicks bigint not null default 0,
  video_views bigint not null default 0,
  engagements bigint not null default 0,
  -- Engagements and rate bases of the targets with a rate base (a group's engagement rate is their ratio).
  rated_engagements bigint not null default 0,
  rate_base bigint not null default 0,
  -- Targets whose latest snapshot has an engagement rate: how many, the sum of those rates and of their engagements.
  rated_posts integer not null default 0,
  rate_sum numeric not null default 0,
  rated_post_engagements bigint not null default 0,
  -- Targets measured beyond 24 h: how many, their engagements, and the part that came after their first 24 h.
  older_posts integer not null default 0,
  older_engagements bigint not null default 0,
  after_24h_engagements bigint not null default 0,
  -- Targets with an engagement-rate decay: how many and its sum.
  decay_posts integer not null default 0,
  decay_sum numeric not null default 0,
  primary key (profile_id, platform, hour)
);

-- Adds (p_sign 1) or subtracts (-1) rollup rows. Rows of a profile being deleted are skipped.
create function public.add_post_metric_hourly(p_rows public.post_metric_rollups[], p_sign integer) returns void
language sql volatile set search_path = '' as $$
  insert into public.post_metric_hourly as h (
    profile_id, platform, hour, posts_with_metrics, impressions, reach, likes, comments, shares, saves, clicks,
    video_views, engagements, rated_engagements, rate_base, rated_posts, rate_sum, rated_post_engagements, older_posts,
    older_engagements, after_24h_engagements, decay_posts, decay_sum)
  select r.profile_id, r.platform, date_trunc('hour', r.published_at, 'UTC'),
         p_sign * count(*), p_sign * sum(r.impressions), p_sign * sum(r.reach), p_sign * sum(r.likes),
         p_sign * sum(r.comments), p_sign * sum(r.shares), p_sign * sum(r.saves), p_sign * sum(r.clicks),
         p_sign * sum(r.video_views), p_sign * sum(r.engagements),
         p_sign * coalesce(sum(r.engagements) filter (where r.rate_base is not null), 0),
         p_sign * coalesce(sum(r.rate_base), 0),
         p_sign * count(r.engagement_rate), p_sign * coalesce(sum(r.engagement_rate), 0),
         p_sign * coalesce(sum(r.engagements) filter (where r.engagement_rate is not null), 0),
         p_sign * count(r.engagements_24h),
         p_sign * coalesce(sum(r.engagements) filter (where r.engagements_24h is not null), 0),
         p_sign * coalesce(sum(r.engagements - r.engagements_24h), 0),
         p_sign * count(r.engagement_rate_decay), p_sign * coalesce(sum(r.engagement_rate_decay), 0)
  from unnest(p_rows) r
  where exists (select from public.profiles p where p.id = r.profile_id)
  group by 1, 2, 3
  on conflict (profile_id, platform, hour) do update set
    posts_with_metrics = h.posts_with_metrics + excluded.posts_with_metrics,
    impressions = h.impressions + excluded.impressions, reach = h.reach + excluded.reach,
    likes = h.likes + excluded.likes, comments = h.comments + excluded.comments, shares = h.shares + excluded.shares,
    saves = h.saves + excluded.saves, clicks = h.clicks + excluded.clicks, video_views = h.video_views + excluded.video_views,
    engagements = h.engagements + excluded.engagements,
    rated_engagements = h.rated_engagements + excluded.rated_engagements, rate_base = h.rate_base + excluded.rate_base,
    rated_posts = h.rated_posts + excluded.rated_posts, rate_sum = h.rate_sum + excluded.rate_sum,
    rated_post_engagements = h.rated_post_engagements + excluded.rated_post_engagements,
    older_posts = h.older_posts + excluded.older_posts, older_engagements = h.older_engagements + excluded.older_engagements,
    after_24h_engagements = h.after_24h_engagements + excluded.after_24h_engagements,
    decay_posts = h.decay_posts + excluded.decay_posts, decay_sum = h.decay_sum + excluded.decay_sum;
$$;
revoke all on function public.add_post_metric_hourly(public.post_metric_rollups[], integer) from public, anon, authenticated;

-- Adds (1) or subtracts (-1) the published ones of these targets.
create function public.add_published_hourly(p_rows public.post_targets[], p_sign integer) returns void
language sql volatile set search_path = '' as $$
  insert into public.post_metric_hourly as h (profile_id, platform, hour, published)
  select t.profile_id, t.platform, date_trunc('hour', t.published_at, 'UTC'), p_sign * count(*)
  from unnest(p_rows) t
  where t.status = 'published' and t.published_at is not null
    and exists (select from public.profiles p where p.id = t.profile_id)
  group by 1, 2, 3
  on conflict (profile_id, platform, hour) do update set published = h.published + excluded.published;
$$;
revoke all on function public.add_published_hourly(public.post_targets[], integer) from public, anon, authenticated;

-- Definer: targets change in our request role's transactions too (a cascade, a cancel), and the sums are the service's.
create function public.post_metric_rollups_to_hourly() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    perform public.add_post_metric_hourly(array(select row(o.*)::public.post_metric_rollups from old_rows o), -1);
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    perform public.add_post_metric_hourly(array(select row(n.*)::public.post_metric_rollups from new_rows n), 1);
  end if;
  return null;
end;
$$;
revoke all on function public.post_metric_rollups_to_hourly() from public, anon, authenticated;

create function public.post_targets_to_hourly() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'UPDATE' then
    -- Only rows whose publication changed: most updates of a target (claims, leases, retries) do not.
    perform public.add_published_hourly(array(
      select row(o.*)::public.post_targets from old_rows o join new_rows n on n.id = o.id
      where (o.status = 'published') is distinct from (n.status = 'published') or o.published_at is distinct from n.published_at
         or o.platform is distinct from n.platform), -1);
    perform public.add_published_hourly(array(
      select row(n.*)::public.post_targets from new_rows n join old_rows o on o.id = n.id
      where (o.status = 'published') is distinct from (n.status = 'published') or o.published_at is distinct from n.published_at
         or o.platform is distinct from n.platform), 1);
  elsif tg_op = 'DELETE' then
    perform public.add_published_hourly(array(select row(o.*)::public.post_targets from old_rows o where o.status = 'published'), -1);
  else
    perform public.add_published_hourly(array(select row(n.*)::public.post_targets from new_rows n where n.status = 'published'), 1);
  end if;
  return null;
end;
$$;
revoke all on function public.post_targets_to_hourly() from public, anon, authenticated;

create trigger post_metric_rollups_hourly_insert after insert on public.post_metric_rollups
  referencing new table as new_rows for each statement execute function public.post_metric_rollups_to_hourly();
create trigger post_metric_rollups_hourly_update after update on public.post_metric_rollups
  referencing old table as old_rows new table as new_rows for each statement execute function public.post_metric_rollups_to_hourly();
create trigger post_metric_rollups_hourly_delete after delete on public.post_metric_rollups
  referencing old table as old_rows for each statement execute function public.post_metric_rollups_to_hourly();
create trigger post_targets_hourly_insert after insert on public.post_targets
  referencing new table as new_rows for each statement execute function public.post_targets_to_hourly();
create trigger post_targets_hourly_update after update on public.post_targets
  referencing old table as old_rows new table as new_rows for each statement execute function public.post_targets_to_hourly();
create trigger post_targets_hourly_delete after delete on public.post_targets
  referencing old table as old_rows for each statement execute function public.post_targets_to_hourly();

alter table public.post_metric_hourly enable row level security;

create policy "Members can view the hourly metrics of their profiles"
  on public.post_metric_hourly for select to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

revoke all on table public.post_metric_hourly from public, anon, authenticated;
grant select on table public.post_metric_hourly to amplify_api;

-- Targets published before this migration (their metrics arrive through the rollups' trigger just below).
select public.add_published_hourly(array(select t from public.post_targets t where t.status = 'published'), 1);

-- Snapshots stored before this migration.
select public.refresh_post_metric_rollups(array(select distinct target_id from public.post_metric_snapshots));

-- ---------------------------------------------------------------------------------------------------------------------
-- Indexes for the endpoints' other reads: published targets by time (posting frequency), targets and posts by status
-- (overview), published targets that lost their account (sync health).
-- ---------------------------------------------------------------------------------------------------------------------
create index post_targets_profile_id_published_at_idx on public.post_targets (profile_id, published_at)
  include (platform, post_id) where status = 'published';
create index post_targets_profile_id_platform_status_idx on public.post_targets (profile_id, platform, status);
-- Published targets whose account was disconnected (sync health's `disconnected` bucket).
create index post_targets_profile_id_disconnected_idx on public.post_targets (profile_id, platform)
  where status = 'published' and connection_id is null;

-- ---------------------------------------------------------------------------------------------------------------------
-- Row-level security: members read; nothing writable by the API's role.
-- ---------------------------------------------------------------------------------------------------------------------
alter table public.post_metric_rollups enable row level security;

create policy "Members can view the metric rollups of their profiles"
  on public.post_metric_rollups for select to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

revoke all on table public.post_metric_rollups from public, anon, authenticated;
grant select on table public.post_metric_rollups to amplify_api;
