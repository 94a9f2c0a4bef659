-- =====================================================================================================================
-- Recurring schedules: a post made again and again at a wall-clock time in a time zone (src/recurring).
--
-- Members of a profile see its schedules and create them; the creator, owners and admins change and delete them.
-- The materialisation job (service connection) creates each occurrence's post ahead of time, as the schedule's
-- creator (so every check of an API post applies), and records its progress on the schedule. A post made by a
-- schedule carries `recurring_schedule_id` and `occurrence_at`; a unique index on the two (live posts only) makes a
-- retried or concurrent run harmless: each occurrence becomes at most one post.
--
-- Requests run as `amplify_api` (20261206000000_trust_boundary.sql); `anon` and `authenticated` get nothing here.
-- =====================================================================================================================

do $$
begin
  if not exists (select from pg_roles where rolname = 'amplify_api') then
    create role amplify_api nologin;
  end if;
end
$$;

create table public.recurring_schedules (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  -- Plain text, or a template with variables (rendered at each occurrence). A deleted template leaves the schedule
  -- without content: its occurrences are skipped with that reason until it is given content again.
  content text check (char_length(content) <= 100000),
  template_id uuid,
  variables jsonb not null default '{}' check (jsonb_typeof(variables) = 'object'),
  platforms text[] not null check (cardinality(platforms) between 1 and 20 and array_position(platforms, null) is null),
  media jsonb not null default '[]' check (jsonb_typeof(media) = 'array' and jsonb_array_length(media) <= 10),
  recurrence_pattern text not null check (recurrence_pattern in ('daily', 'weekly', 'monthly', 'custom')),
  recurrence_config jsonb not null default '{}' check (jsonb_typeof(recurrence_config) = 'object'),
  time_of_day text not null check (time_of_day ~ '^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$'),
  timezone text not null check (char_length(timezone) between 1 and 64),
  starts_at timestamptz,
  ends_at timestamptz,
  max_occurrences integer check (max_occurrences between 1 and 10000),
  -- Where the rule counts from: startsAt, or when the schedule was created or its zone, time or rule last changed.
  anchor_at timestamptz not null,
  is_active boolean not null default true,
  paused_reason text check (char_length(paused_reason) <= 500),
  -- The next occurrence not yet made into a post; null once the schedule has ended.
  next_occurrence_at timestamptz,
  occurrence_count integer not null default 0 check (occurrence_count >= 0),
  skipped_count integer not null default 0 check (skipped_count >= 0),
  last_posted_at timestamptz,
  last_error text check (char_length(last_error) <= 1000),
  last_error_at timestamptz,
  created_by uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint recurring_schedules_id_profile_id_key unique (id, profile_id),
  constraint recurring_schedules_template_fkey foreign key (template_id, profile_id)
    references public.templates (id, profile_id) on delete set null (template_id),
  constraint recurring_schedules_ends_after_start check (ends_at is null or starts_at is null or ends_at > starts_at)
);

-- The job reads only due, active schedules; lists page by creation.
create index recurring_schedules_due_idx on public.recurring_schedules (next_occurrence_at)
  where is_active and next_occurrence_at is not null;
create index recurring_schedules_profile_id_created_at_idx on public.recurring_schedules (profile_id, created_at desc, id desc);
create index recurring_schedules_template_id_idx on public.recurring_schedules (template_id) where template_id is not null;

create trigger recurring_schedules_touch_updated_at before update on public.recurring_schedules
  for each row execute function public.touch_updated_at();

alter table public.recurring_schedules enable row level security;

create policy "Members can view the recurring schedules of their profiles"
  on public.recurring_schedules for select to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Members can create recurring schedules in their profiles as themselves"
  on public.recurring_schedules for insert to amplify_api
  with check (profile_id = any ((select public.accessible_profile_ids())::uuid[]) and created_by = (select auth.uid()));

create policy "Their creators and the profile's owners and admins can change recurring schedules"
  on public.recurring_schedules for update to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[])
         and (created_by = (select auth.uid()) or public.has_profile_role(profile_id, array['owner', 'admin'])))
  with check (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Their creators and the profile's owners and admins can delete recurring schedules"
  on public.recurring_schedules for delete to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[])
         and (created_by = (select auth.uid()) or public.has_profile_role(profile_id, array['owner', 'admin'])));

revoke all on table public.recurring_schedules from public, anon, authenticated;
grant select, delete on table public.recurring_schedules to amplify_api;
grant insert (profile_id, name, content, template_id, variables, platforms, media, recurrence_pattern, recurrence_config,
              time_of_day, timezone, starts_at, ends_at, max_occurrences, anchor_at, is_active, next_occurrence_at,
              created_by)
  on table public.recurring_schedules to amplify_api;
-- The job's progress columns (occurrence_count, skipped_count, last_posted_at, last_error*) are the service's alone.
grant update (name, content, template_id, variables, platforms, media, recurrence_pattern, recurrence_config, time_of_day,
              timezone, starts_at, ends_at, max_occurrences, anchor_at, is_active, paused_reason, next_occurrence_at)
  on table public.recurring_schedules to amplify_api;

-- ---------------------------------------------------------------------------------------------------------------------
-- Posts made by a schedule: which schedule and which occurrence. Deleting a schedule keeps its posts (history), unlinked.
-- ---------------------------------------------------------------------------------------------------------------------
alter table public.posts
  add column recurring_schedule_id uuid,
  add column occurrence_at timestamptz,
  add constraint posts_recurring_schedule_fkey foreign key (recurring_schedule_id, profile_id)
    references public.recurring_schedules (id, profile_id) on delete set null (recurring_schedule_id),
  add constraint posts_occurrence_with_schedule check (recurring_schedule_id is null or occurrence_at is not null);

-- Exactly once: one live post per (schedule, occurrence instant). A canceled one (a paused or changed schedule) no
-- longer counts, so the occurrence can be made again once the schedule resumes.
create unique index posts_recurring_occurrence_key on public.posts (recurring_schedule_id, occurrence_at)
  where recurring_schedule_id is not null and status <> 'canceled';
create index posts_recurring_schedule_id_created_at_idx on public.posts (recurring_schedule_id, created_at desc, id desc)
  where recurring_schedule_id is not null;

grant insert (recurring_schedule_id, occurrence_at) on public.posts to amplify_api;
