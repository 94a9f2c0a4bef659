-- The API key lookup as a function, so Postgres plans it once per connection instead of once per request.
--
-- Every API-key request starts with the same statement: find the key by its SHA-256 hash, check that its creator is
-- still an active member of its profile, read the owner's subscription and this billing month's API request counter,
-- refresh last_used_at at most once a minute and, where the rate limit is counted in Postgres, count the request in
-- the key's window. Sent as one SQL statement it is parsed and planned on every request, because the connection goes
-- through Supabase's transaction pooler, which does not support prepared statements (postgres.js runs with
-- `prepare: false`). Planning that statement (four joins, a writable CTE, a lateral function) cost more database CPU
-- than running it. PL/pgSQL keeps the plans of a function's statements for the life of the backend connection,
-- whichever client the pooler lends it to, so the request now sends one trivial call and the plans are reused.
--
-- What it returns is exactly what the statement returned: no row for an unknown hash; otherwise the key's row with
-- `member` and the metering columns. Only an active key of an active member is touched or counted, as before.
--
-- Only the service connection (the table owner, before any caller is known) runs it: nobody else may execute it.

create function public.verify_api_key(
  p_key_hash text,
  p_rate_bucket_prefix text,
  p_rate_window_ms bigint
)
returns table (
  id uuid,
  user_id uuid,
  profile_id uuid,
  status text,
  member boolean,
  billing_status text,
  plan text,
  period_start timestamptz,
  period_end timestamptz,
  quota_used integer,
  rate_used integer,
  rate_window_start timestamptz
)
language plpgsql volatile set search_path = '' as $$
#variable_conflict use_column
declare
  k record;
  used_now integer;
  rate_used_now integer;
  rate_window_now timestamptz;
begin
  select ak.id, ak.user_id, ak.profile_id, ak.status, ak.last_used_at, b.status as billing_status, b.plan,
         m.user_id is not null as member, p.period_start, p.period_end
    into k
  from public.api_keys ak
  left join public.profile_members m
    on m.profile_id = ak.profile_id and m.user_id = ak.user_id and m.invitation_status = 'active'
  left join public.billing_subscriptions b on b.user_id = ak.user_id
  cross join lateral public.usage_period(b.current_period_end, now()) p
  where ak.key_hash = p_key_hash;
  if not found then
    return;
  end if;

  if k.status = 'active' and k.member then
    -- At most once a minute, so a busy key does not write its row on every request.
    if k.last_used_at is null or k.last_used_at < now() - interval '60 seconds' then
      update public.api_keys set last_used_at = now()
      where api_keys.id = k.id
        and (last_used_at is null or last_used_at < now() - interval '60 seconds');
    end if;
    -- Only where the rate limit is counted in Postgres (no Upstash, not the local home) does the caller pass a bucket.
    if p_rate_bucket_prefix is not null then
      select r.used, r.window_start into rate_used_now, rate_window_now
      from public.rate_limit_hit(p_rate_bucket_prefix || k.id::text, p_rate_window_ms, 1) r;
    end if;
  end if;

  select c.used into used_now
  from public.usage_counters c
  where c.user_id = k.user_id and c.metric = 'api_requests' and c.period_start = k.period_start;

  return query select k.id, k.user_id, k.profile_id, k.status, k.member, k.billing_status, k.plan,
                      k.period_start, k.period_end, coalesce(used_now, 0), rate_used_now, rate_window_now;
end;
$$;

revoke all on function public.verify_api_key(text, text, bigint) from public, anon, authenticated;

-- ---------------------------------------------------------------------------------------------------------------------
-- The same reason for the functions every policy calls, and for the other SQL functions on a hot path.
--
-- A LANGUAGE sql function with a SET clause (every one of ours pins search_path) is never inlined into the calling
-- statement, and before PostgreSQL 18 such a function's body is parsed and planned again on every call. The RLS
-- policies call accessible_profile_ids() (which called request_profile_scope() twice) once per table in a statement,
-- so a request reading two tables paid for planning three small queries per table, about 0.35 ms of database CPU
-- each time: more than the request's own query. As PL/pgSQL their plans are kept per connection. Bodies, results,
-- volatility, SECURITY DEFINER and search_path are unchanged; `create or replace` keeps each function's owner and
-- grants (still: amplify_api may call the policy helpers, nobody may call the service-only ones).
-- ---------------------------------------------------------------------------------------------------------------------

create or replace function public.request_profile_scope() returns uuid
language plpgsql stable set search_path = '' as $$
begin
  return nullif((select auth.jwt()) ->> 'profile_id', '')::uuid;
end;
$$;

create or replace function public.accessible_profile_ids(p_roles text[] default null) returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
declare
  scope uuid := public.request_profile_scope();
  ids uuid[];
begin
  select coalesce(array_agg(m.profile_id), '{}'::uuid[]) into ids
  from public.profile_members m
  where m.user_id = (select auth.uid())
    and m.invitation_status = 'active'
    and (p_roles is null or m.role = any (p_roles))
    and (scope is null or m.profile_id = scope);
  return ids;
end;
$$;

create or replace function public.has_profile_role(p_profile_id uuid, p_roles text[] default null) returns boolean
language plpgsql stable security definer set search_path = '' as $$
begin
  return p_profile_id = any (public.accessible_profile_ids(p_roles));
end;
$$;

create or replace function public.profile_owner_subscription(p_profile_id uuid, out status text, out plan text)
language plpgsql stable security definer set search_path = '' as $$
begin
  select coalesce(b.status, 'free'), coalesce(b.plan, 'free') into status, plan
  from public.profiles p
  left join public.billing_subscriptions b on b.user_id = p.created_by
  where p.id = p_profile_id and public.has_profile_role(p_profile_id);
end;
$$;

create or replace function public.count_template_use(p_template_id uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  counted boolean;
begin
  update public.templates set usage_count = usage_count + 1
  where id = p_template_id and profile_id = any (public.accessible_profile_ids())
  returning true into counted;
  return counted;
end;
$$;

create or replace function public.profile_member_users(p_profile_id uuid)
returns table (id uuid, name text, email text, avatar_url text)
language plpgsql stable security definer set search_path = '' as $$
#variable_conflict use_column
begin
  return query
  select u.id,
         coalesce(u.raw_user_meta_data ->> 'full_name', u.raw_user_meta_data ->> 'name')::text,
         u.email::text,
         coalesce(u.raw_user_meta_data ->> 'avatar_url', u.raw_user_meta_data ->> 'picture')::text
  from public.profile_members m
  join auth.users u on u.id = m.user_id
  where m.profile_id = p_profile_id
    and p_profile_id = any (public.accessible_profile_ids());
end;
$$;

create or replace function public.rate_limit_hit(
  p_bucket text,
  p_window_ms bigint,
  p_cost integer,
  out used integer,
  out window_start timestamptz
)
language plpgsql volatile set search_path = '' as $$
#variable_conflict use_column
begin
  insert into public.rate_limit_counters as c (bucket, window_start, used)
  values (p_bucket, to_timestamp(floor(extract(epoch from now()) * 1000 / p_window_ms) * p_window_ms / 1000.0), p_cost)
  on conflict (bucket) do update
    set used = case when excluded.window_start > c.window_start then excluded.used else c.used + excluded.used end,
        window_start = greatest(c.window_start, excluded.window_start)
  returning c.used, c.window_start into used, window_start;
end;
$$;

create or replace function public.usage_add(
  p_user_id uuid,
  p_metric text,
  p_count integer,
  p_limit integer,
  p_period_start timestamptz,
  p_period_end timestamptz
) returns integer
language plpgsql volatile set search_path = '' as $$
declare
  total integer;
begin
  insert into public.usage_counters as u (user_id, metric, period_start, period_end, used)
  select p_user_id, p_metric, p_period_start, p_period_end, p_count
  where p_limit is null or p_count <= p_limit
  on conflict (user_id, metric, period_start) do update
    set used = u.used + excluded.used, period_end = excluded.period_end, updated_at = now()
    where p_limit is null or u.used + excluded.used <= p_limit
  returning u.used into total;
  return total;
end;
$$;

create or replace function public.refresh_post_metric_rollups(p_target_ids uuid[]) returns void
language plpgsql volatile set search_path = '' as $$
begin
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
end;
$$;

create or replace function public.add_post_metric_hourly(p_rows public.post_metric_rollups[], p_sign integer) returns void
language plpgsql volatile set search_path = '' as $$
begin
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
end;
$$;

create or replace function public.add_published_hourly(p_rows public.post_targets[], p_sign integer) returns void
language plpgsql volatile set search_path = '' as $$
begin
    insert into public.post_metric_hourly as h (profile_id, platform, hour, published)
    select t.profile_id, t.platform, date_trunc('hour', t.published_at, 'UTC'), p_sign * count(*)
    from unnest(p_rows) t
    where t.status = 'published' and t.published_at is not null
      and exists (select from public.profiles p where p.id = t.profile_id)
    group by 1, 2, 3
    on conflict (profile_id, platform, hour) do update set published = h.published + excluded.published;
end;
$$;
