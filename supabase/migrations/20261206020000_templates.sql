-- =====================================================================================================================
-- Content templates: reusable post content with `{{name}}` variables, its networks and its media.
--
-- Members of a profile see and use its templates (a post made from one counts a use, through count_template_use);
-- owners and admins create, change and delete them. Names are unique per profile (case-insensitive). A template's
-- media either names uploaded media (media_id, composite with the profile, so never another tenant's; a file a
-- template names cannot be deleted) or carries a public URL and type, as posts do.
-- =====================================================================================================================

create table public.templates (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 100),
  description text check (char_length(description) <= 500),
  -- The largest text any network takes (Facebook's 63,206 characters, src/platforms/catalog.ts); each network's own
  -- limit is checked on the rendered text when a post is made from the template.
  content text not null check (char_length(content) <= 63206),
  platforms text[] not null default '{}' check (cardinality(platforms) <= 20 and array_position(platforms, null) is null),
  category text check (char_length(category) between 1 and 50),
  is_favorite boolean not null default false,
  usage_count integer not null default 0 check (usage_count >= 0),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint templates_id_profile_id_key unique (id, profile_id)
);
create unique index templates_profile_id_name_key on public.templates (profile_id, lower(name));
create index templates_profile_id_created_at_idx on public.templates (profile_id, created_at desc, id desc);

create table public.template_media (
  id uuid primary key default gen_random_uuid(),
  template_id uuid not null,
  profile_id uuid not null,
  media_id uuid,
  file_path text check (char_length(file_path) <= 1024),
  public_url text not null check (char_length(public_url) <= 2048),
  mime_type text not null check (char_length(mime_type) <= 100),
  file_size bigint check (file_size >= 0),
  file_name text check (char_length(file_name) <= 255),
  sort_order integer not null default 0,
  created_at timestamptz not null default now(),
  constraint template_media_template_id_profile_id_fkey
    foreign key (template_id, profile_id) references public.templates (id, profile_id) on delete cascade,
  -- No action (checked at the end of the statement): deleting a profile removes its templates and media together,
  -- but a media file a template still names cannot be deleted on its own.
  constraint template_media_media_id_profile_id_fkey
    foreign key (media_id, profile_id) references public.media (id, profile_id)
);
create index template_media_template_id_idx on public.template_media (template_id, sort_order);
create index template_media_media_id_idx on public.template_media (media_id) where media_id is not null;

alter table public.templates enable row level security;
alter table public.template_media enable row level security;

-- ---------------------------------------------------------------------------------------------------------------------
-- Grants: amplify_api only, narrow columns. anon and authenticated get nothing.
-- ---------------------------------------------------------------------------------------------------------------------
revoke all on public.templates, public.template_media from anon, authenticated, public;

grant select on public.templates to amplify_api;
grant insert (profile_id, name, description, content, platforms, category, is_favorite, created_by)
  on public.templates to amplify_api;
-- updated_at is set by the API when a change is made (counting a use does not move it).
grant update (name, description, content, platforms, category, is_favorite, updated_at) on public.templates to amplify_api;
grant delete on public.templates to amplify_api;

grant select on public.template_media to amplify_api;
grant insert (template_id, profile_id, media_id, file_path, public_url, mime_type, file_size, file_name, sort_order)
  on public.template_media to amplify_api;
grant delete on public.template_media to amplify_api;

-- ---------------------------------------------------------------------------------------------------------------------
-- Policies: members read; owners and admins write (the same rule as public.has_profile_role(profile,
-- array['owner', 'admin']), asked once per statement).
-- ---------------------------------------------------------------------------------------------------------------------
create policy "Members can view the templates of their profiles"
  on public.templates for select to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Owners and admins can create templates in their profiles"
  on public.templates for insert to amplify_api
  with check (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[])
              and created_by = (select auth.uid()));

create policy "Owners and admins can change the templates of their profiles"
  on public.templates for update to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]))
  with check (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

create policy "Owners and admins can delete the templates of their profiles"
  on public.templates for delete to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

create policy "Members can view the media of their profiles' templates"
  on public.template_media for select to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Owners and admins can add media to their profiles' templates"
  on public.template_media for insert to amplify_api
  with check (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

create policy "Owners and admins can remove media from their profiles' templates"
  on public.template_media for delete to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

-- ---------------------------------------------------------------------------------------------------------------------
-- Using a template: any member counts one use (a post made from it, or PATCH increment_usage). The only write a member
-- may make, so it is a function rather than a column grant. Answers false when the caller cannot see the template.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.count_template_use(p_template_id uuid) returns boolean
language sql security definer set search_path = '' as $$
  update public.templates set usage_count = usage_count + 1
  where id = p_template_id and profile_id = any (public.accessible_profile_ids())
  returning true
$$;
revoke all on function public.count_template_use(uuid) from public;
grant execute on function public.count_template_use(uuid) to amplify_api;
