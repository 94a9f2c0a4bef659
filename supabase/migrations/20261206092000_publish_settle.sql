-- The publish path's database work, made cheaper per publish (a burst of 1,000 posts due on one second spends most of
-- its time in it). Same state changes, same rows, same events; fewer statements and no per-statement planning.

-- ---------------------------------------------------------------------------------------------------------------------
-- Hourly published counts (20261206051000): the update trigger was statement-level with transition tables, so every
-- update of post_targets (each claim, each lease, each sweep batch) captured its rows and ran two array builds and two
-- inserts only to find that no target's publication had changed. Row-level with a WHEN condition, the condition is
-- checked without calling any function, and only the rows whose publication changed (a target being published, a
-- published one changing) reach add_published_hourly: the same sums, one row at a time. Inserts and deletes keep the
-- statement-level triggers (a post created or deleted with many targets at once).
-- ---------------------------------------------------------------------------------------------------------------------
drop trigger post_targets_hourly_update on public.post_targets;

create function public.post_targets_to_hourly_on_update() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if old.status = 'published' then perform public.add_published_hourly(array[old], -1); end if;
  if new.status = 'published' then perform public.add_published_hourly(array[new], 1); end if;
  return null;
end;
$$;
revoke all on function public.post_targets_to_hourly_on_update() from public, anon, authenticated;

create trigger post_targets_hourly_update after update on public.post_targets
  for each row
  when ((old.status = 'published') is distinct from (new.status = 'published')
        or old.published_at is distinct from new.published_at
        or old.platform is distinct from new.platform)
  execute function public.post_targets_to_hourly_on_update();

-- ---------------------------------------------------------------------------------------------------------------------
-- Settling a published attempt (src/publishing/executor.ts) in one call: lock the post, check the lease, mark the
-- target published, write its job log and its post.published event, derive the post's status (and its
-- post.partially_published event). These were seven statements, each sent, parsed and planned on every publish
-- (the service pool cannot use prepared statements behind Supabase's transaction pooler); a plpgsql function caches
-- its statements' plans per connection, so this is one round trip and no planning once the connection is warm.
-- Its statements are those of executor.ts `writeJobLog` and events.ts `recordEvent`/`refreshPostStatus`, which the other
-- outcomes (retry, failure, media still processing) and other callers still use: keep them in step.
--
-- p_job_log: the job_logs row as JSON (column names as keys), as executor.ts builds it.
-- Returns false when the lease was lost (another executor owns the target now): nothing is changed then.
-- Service connection only.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.settle_published_target(
  p_target_id uuid, p_post_id uuid, p_profile_id uuid, p_lease_until timestamptz,
  p_external_post_id text, p_external_url text, p_job_log jsonb
) returns boolean
language plpgsql set search_path = '' as $$
declare
  v_status text;
  v_previous text;
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

  -- The post's status from its targets (the post is locked above, so targets settling at once derive it in turn).
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
  return true;
end;
$$;
revoke all on function public.settle_published_target(uuid, uuid, uuid, timestamptz, text, text, jsonb)
  from public, anon, authenticated;

-- ---------------------------------------------------------------------------------------------------------------------
-- Claiming a target for one attempt (src/publishing/executor.ts `claim`): the conditional update (only a pending
-- target can be claimed: by the queue once due, inline only before its first attempt), the post's content and media,
-- and the connection's token row, read without its lock (the executor refreshes through the locked path when the
-- token needs it). As a plpgsql function its plan is cached per connection: planned on every publish, this one
-- statement cost more than executing it.
-- Returns no row when the target cannot be claimed. Service connection only.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.claim_publish_target(p_target_id uuid, p_inline boolean, p_lease_seconds integer)
returns table (
  id uuid, post_id uuid, profile_id uuid, platform text, connection_id uuid, attempts integer, lease_until timestamptz,
  processing_state jsonb, processing_started_at timestamptz, content text, media json,
  k_id uuid, k_profile_id uuid, k_platform text, k_status text, k_access_token_enc text, k_refresh_token_enc text,
  k_token_expires_at timestamptz, k_refresh_token_expires_at timestamptz, k_external_account_id text, k_username text,
  k_settings jsonb, k_oauth_app_id uuid
)
language plpgsql set search_path = '' as $$
begin
  return query
  with claimed as (
    update public.post_targets t
    set status = 'publishing',
        -- Millisecond precision, so the value round-trips through JavaScript exactly and can fence the outcome.
        lease_until = date_trunc('milliseconds', now() + make_interval(secs => p_lease_seconds)),
        attempts = t.attempts + case when t.processing_state is null then 1 else 0 end
    where t.id = p_target_id and t.status = 'pending'
      and case when p_inline then t.attempts = 0 and t.processing_state is null
               else t.due_at <= now() + interval '2 seconds' end
      and exists (select 1 from public.posts p where p.id = t.post_id and p.profile_id = t.profile_id)
    returning t.id, t.post_id, t.profile_id, t.platform, t.connection_id, t.attempts, t.lease_until, t.processing_state,
      t.processing_started_at
  )
  select c.id, c.post_id, c.profile_id, c.platform, c.connection_id, c.attempts, c.lease_until, c.processing_state,
    c.processing_started_at, p.content,
    coalesce((select json_agg(json_build_object('url', m.public_url, 'mimeType', m.mime_type, 'fileName', m.file_name,
                                               'sizeBytes', m.file_size) order by m.sort_order)
              from public.post_media m where m.post_id = c.post_id and m.profile_id = c.profile_id), '[]'::json),
    k.id, k.profile_id, k.platform, k.status, k.access_token_enc, k.refresh_token_enc, k.token_expires_at,
    k.refresh_token_expires_at, k.external_account_id, k.username, k.settings, k.oauth_app_id
  from claimed c join public.posts p on p.id = c.post_id and p.profile_id = c.profile_id
    left join public.connections k on k.id = c.connection_id and k.profile_id = c.profile_id;
end;
$$;
revoke all on function public.claim_publish_target(uuid, boolean, integer) from public, anon, authenticated;
