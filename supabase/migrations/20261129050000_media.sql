-- =====================================================================================================================
-- Media: files uploaded for posts.
--
-- POST /api/v1/media/upload-url records a media item here, as the caller (RLS applies), and hands back a signed
-- Storage upload URL for the file at `<user>/<profile>/<media id>-<safe file name>` in the public bucket
-- `post-media`. The file itself lives in Supabase Storage (locally: the Storage emulator, files under .data/storage).
-- Posts attach media by id (post_media.media_id). The API removes a file only when no post that still needs it uses
-- it (pending, publishing, or failed and retryable); concurrent attach and delete are serialised by a per-media
-- advisory lock (src/media/media.ts).
-- =====================================================================================================================

create table public.media (
  -- Chosen by the API before the upload URL is signed: the id is part of the file's path.
  id uuid primary key,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  uploaded_by uuid references auth.users (id) on delete set null,
  bucket text not null default 'post-media',
  file_path text not null unique check (char_length(file_path) <= 1024),
  public_url text not null,
  mime_type text not null,
  file_size bigint not null check (file_size > 0),
  file_name text not null check (char_length(file_name) between 1 and 255),
  created_at timestamptz not null default now()
);
create index media_profile_id_created_at_idx on public.media (profile_id, created_at desc, id desc);

alter table public.media enable row level security;

create policy "Members can view the media of their profiles"
  on public.media for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

-- A member records media as themself, under their own and the profile's folder.
create policy "Members can upload media to their profiles"
  on public.media for insert to authenticated
  with check (
    profile_id = any ((select public.accessible_profile_ids())::uuid[])
    and uploaded_by = (select auth.uid())
    and file_path like uploaded_by::text || '/' || profile_id::text || '/' || id::text || '-%'
  );

create policy "Members can delete the media of their profiles"
  on public.media for delete to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

-- A media record never changes: what was declared is what attaching it checks the file against.
revoke update on public.media from anon, authenticated;

-- ---------------------------------------------------------------------------------------------------------------------
-- Posts point at the media they attach. Ids stored before this table existed never named an uploaded file.
-- ---------------------------------------------------------------------------------------------------------------------
update public.post_media pm set media_id = null
where pm.media_id is not null and not exists (select 1 from public.media m where m.id = pm.media_id);

alter table public.post_media
  add constraint post_media_media_id_fkey foreign key (media_id) references public.media (id) on delete set null;
create index post_media_media_id_idx on public.post_media (media_id) where media_id is not null;

-- ---------------------------------------------------------------------------------------------------------------------
-- The Storage bucket, where Supabase Storage exists (plain Postgres, as in the local home, has no `storage` schema:
-- there the emulator serves the same bucket, configured from src/media/limits.ts `mediaBucket`, which these values
-- mirror). Public, because the networks fetch media by URL. No storage.objects policies: every write goes through
-- the service role (signing upload URLs, removing files), an upload to a signed URL is authorised by its token, and a
-- public bucket's files are read without one. Users get no direct access to the bucket.
-- ---------------------------------------------------------------------------------------------------------------------
do $$
begin
  if to_regclass('storage.buckets') is not null then
    execute $sql$
      insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
      values ('post-media', 'post-media', true, 1073741824,
              array['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'video/mp4', 'video/quicktime'])
      on conflict (id) do update
        set public = excluded.public,
            file_size_limit = excluded.file_size_limit,
            allowed_mime_types = excluded.allowed_mime_types
    $sql$;
  end if;
end;
$$;
