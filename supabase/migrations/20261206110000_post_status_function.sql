-- A post's status from its targets, in one place.
--
-- events.ts `refreshPostStatus` (every outcome of an attempt, a cancellation, a schedule's posts) and
-- settle_published_target (20261206092000, the published outcome) each held their own copy of the same statement:
-- lock the post, derive its status from its targets, announce `post.partially_published` when it first settles that
-- way. Both call this function now.
--
-- SECURITY INVOKER: a caller's transaction (amplify_api) derives the status of what RLS lets it see and update,
-- exactly as the statement it replaces did; the service connection sees everything. Returns the post's status, or
-- null when no such post is visible.
--
-- The status: canceled when every target is canceled; scheduled until the first attempt of a scheduled post;
-- publishing while any target is pending or publishing; then published, failed, or partially_published.

create function public.refresh_post_status(p_post_id uuid) returns text
language plpgsql set search_path = '' set plan_cache_mode = force_generic_plan as $$
declare
  v_status text;
  v_previous text;
begin
  -- Lock the post first, in its own statement: two targets settling at once then derive the status one after the
  -- other, the second seeing the first's committed outcome (otherwise both could see the other still in flight).
  perform 1 from public.posts where id = p_post_id for update;
  with agg as (
    select
      count(*) filter (where status <> 'canceled') as live,
      count(*) filter (where status in ('pending', 'publishing')) as open,
      count(*) filter (where status = 'published') as published,
      count(*) filter (where attempts > 0 or status in ('publishing', 'published', 'failed')) as started,
      max(published_at) as published_at
    from public.post_targets where post_id = p_post_id
  ), next as (
    select case
      when agg.live = 0 then 'canceled'
      when agg.open > 0 and agg.started = 0 and p.scheduled_for is not null then 'scheduled'
      when agg.open > 0 then 'publishing'
      when agg.published = agg.live then 'published'
      when agg.published = 0 then 'failed'
      else 'partially_published' end as status,
      agg.published_at
    from agg, public.posts p where p.id = p_post_id
  ), previous as (select status from public.posts where id = p_post_id)
  update public.posts p set status = next.status, published_at = next.published_at
  from next, previous where p.id = p_post_id
  returning p.status, previous.status into v_status, v_previous;

  if v_status = 'partially_published' and v_previous is distinct from 'partially_published' then
    perform public.record_partial_event(p_post_id);
  end if;
  return v_status;
end;
$$;

revoke all on function public.refresh_post_status(uuid) from public, anon, authenticated;
grant execute on function public.refresh_post_status(uuid) to amplify_api;

-- The published settle, unchanged but for its status block, which is now the call above. (Its grants and owner are
-- kept by `create or replace`; its plan_cache_mode from 20261206100000 is restated, since the new definition's
-- settings replace the old ones.)

create or replace function public.settle_published_target(
  p_target_id uuid, p_post_id uuid, p_profile_id uuid, p_lease_until timestamptz,
  p_external_post_id text, p_external_url text, p_job_log jsonb
) returns boolean
language plpgsql set search_path = '' set plan_cache_mode = force_generic_plan as $$
begin
  -- Lock order: the post, then the target (as every settle does, so two targets of one post never deadlock).
  perform 1 from public.posts where id = p_post_id and profile_id = p_profile_id for update;
  perform 1 from public.post_targets
    where id = p_target_id and status = 'publishing' and lease_until = p_lease_until for update;
  if not found then
    return false;
  end if;

  update public.post_targets set status = 'published', external_post_id = p_external_post_id,
    external_url = p_external_url, published_at = now(), lease_until = null, processing_state = null,
    error_message = null, error_category = null
  where id = p_target_id;

  insert into public.job_logs (profile_id, post_id, target_id, platform, job_type, status, attempt_number, started_at,
    completed_at, duration_ms, error_message, error_category, was_rate_limited, will_retry, next_retry_at, metadata)
  select j.profile_id, j.post_id, j.target_id, j.platform, j.job_type, j.status, j.attempt_number, j.started_at,
    j.completed_at, j.duration_ms, j.error_message, j.error_category, j.was_rate_limited, j.will_retry, j.next_retry_at,
    coalesce(j.metadata, '{}'::jsonb)
  from jsonb_populate_record(null::public.job_logs, p_job_log) j;

  insert into public.events (profile_id, event_type, post_id, target_id, payload)
  select p.profile_id, 'post.published', p.id, t.id,
    jsonb_build_object(
      'event_type', 'post.published',
      'timestamp', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'profile_id', p.profile_id,
      'data', jsonb_build_object('post_id', p.id, 'target_id', t.id, 'platform', t.platform, 'content', p.content,
                                 'published_at', to_char(t.published_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
              || jsonb_build_object('external_post_id', p_external_post_id, 'url', p_external_url))
  from public.posts p join public.post_targets t on t.id = p_target_id and t.post_id = p.id and t.profile_id = p.profile_id
  where p.id = p_post_id and p.profile_id = p_profile_id;

  perform public.refresh_post_status(p_post_id);
  return true;
end;
$$;
