-- =====================================================================================================================
-- Connect flow: where a finished connection may be sent, and who may finish it.
--
-- 1. `connect_return_origins`: the origins a profile's owner registered as connect/init `returnUrl` targets, besides
--    APP_URL's own origin (always allowed, never stored). connect/init refuses any other origin, and the OAuth
--    callback checks the stored returnUrl against this list again before redirecting (a removed origin stops working
--    for flows already started). At most 20 per profile.
-- 2. `oauth_states.browser_nonce_hash`: for a flow started by a signed-in browser session, the SHA-256 (hex) of a
--    random nonce that connect/init also set as an HttpOnly, SameSite=Lax cookie scoped to the callback path. The
--    callback completes only in the browser holding that cookie, so a consent link opened by anyone else connects
--    nothing. Flows started with an API key have no browser to bind to and leave it null.
--
-- Requests run as `amplify_api` (20261206000000_trust_boundary.sql); `anon` and `authenticated` get nothing here.
-- =====================================================================================================================

-- The role is created by 20261206000000_trust_boundary.sql; this keeps the file applicable on its own.
do $$
begin
  if not exists (select from pg_roles where rolname = 'amplify_api') then
    create role amplify_api nologin;
  end if;
end
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- Registered return origins. An origin is stored normalised (scheme and host in lowercase, default port dropped, no
-- path, query, fragment or userinfo); the API normalises and validates it on save, the check below is the backstop.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.connect_return_origins (
  profile_id uuid not null references public.profiles (id) on delete cascade,
  origin text not null
    constraint connect_return_origins_origin_is_an_origin
    check (char_length(origin) <= 200
           and origin ~ '^https?://([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$'),
  created_by uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (profile_id, origin)
);

alter table public.connect_return_origins enable row level security;

create policy "Members can view the return origins of their profiles"
  on public.connect_return_origins for select to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Owners can register return origins for their profiles"
  on public.connect_return_origins for insert to amplify_api
  with check (created_by = (select auth.uid())
              and profile_id = any ((select public.accessible_profile_ids(array['owner']))::uuid[]));

create policy "Owners can remove return origins from their profiles"
  on public.connect_return_origins for delete to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids(array['owner']))::uuid[]));

-- Nothing for the data API's roles; our role reads, adds (these columns only) and removes. No update: an origin is
-- replaced by removing it and adding another, and `created_by` never changes.
revoke all on table public.connect_return_origins from public, anon, authenticated;
grant select, delete on table public.connect_return_origins to amplify_api;
grant insert (profile_id, origin, created_by) on table public.connect_return_origins to amplify_api;

-- At most 20 origins per profile, whoever inserts. The advisory lock serialises concurrent inserts for one profile
-- so two of them cannot both see 19.
create function public.connect_return_origins_cap() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform pg_advisory_xact_lock(hashtextextended('connect_return_origins:' || new.profile_id::text, 0));
  if (select count(*) from public.connect_return_origins where profile_id = new.profile_id) >= 20 then
    raise exception 'A profile can register at most 20 return origins' using errcode = 'P0001', hint = 'connect_return_origins_cap';
  end if;
  return new;
end;
$$;
revoke execute on function public.connect_return_origins_cap() from public, anon, authenticated;

create trigger connect_return_origins_cap before insert on public.connect_return_origins
  for each row execute function public.connect_return_origins_cap();

-- ---------------------------------------------------------------------------------------------------------------------
-- OAuth states: the browser binding, and a sane returnUrl (new rows only; the API checks its origin).
-- ---------------------------------------------------------------------------------------------------------------------
alter table public.oauth_states
  add column browser_nonce_hash text
    constraint oauth_states_browser_nonce_hash_is_sha256 check (browser_nonce_hash ~ '^[0-9a-f]{64}$');

alter table public.oauth_states
  add constraint oauth_states_return_url_is_http check (char_length(return_url) <= 2048 and return_url ~ '^https?://') not valid;

-- connect/init inserts the state as the caller: the new column is one it writes.
grant insert (browser_nonce_hash) on table public.oauth_states to amplify_api;
