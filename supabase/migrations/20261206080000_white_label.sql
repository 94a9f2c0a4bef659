-- =====================================================================================================================
-- White-label (the £49/workspace/month add-on): per billing account (the subscription owner, a user; a profile's
-- billing owner is profiles.created_by) a branding row and the account's own OAuth apps, one per network; which app a
-- connection was made with; and how long the apps stay in use for new connections once the add-on is lost.
--
-- - Branding and apps are the billing owner's alone: amplify_api reads and writes only rows whose user_id is the
--   caller (auth.uid()), only from a browser session (an API key's request, confined to one profile, cannot), and it
--   writes them only while the caller's subscription carries the add-on (billing_subscriptions.white_label).
-- - App secrets are sealed by the API (src/core/crypto.ts, purpose white_label_apps.client_secret, bound to the row's
--   id, which the API chooses) before they are written; amplify_api may write client_secret_enc but never read it. The
--   service connection opens it to build the network adapter (connect callback, token refresh, publishing).
-- - connections.oauth_app_id records the app a connection's consent was given to (null: ours). Its tokens are bound to
--   that app's client, so refreshing and publishing use it for the connection's life, whatever happens to the add-on.
--   The API refuses to remove an app while connections use it (409); only the app's owner's account being deleted
--   removes one in use, and its connections then fall back to null (ours), so their next refresh asks for a reconnect
--   instead of the deletion being blocked by someone else's profile. oauth_states.oauth_app_id carries the app chosen
--   when a flow starts to its callback.
-- - Losing the add-on (white_label turning false: cancelled, or unpaid past Stripe's retries) records
--   billing_subscriptions.white_label_apps_until: the end of the billing period it was lost in (now, if that is past).
--   Branding falls back to ours at once; new connections keep using the account's apps until then, ours after; nothing
--   is deleted. Regaining the add-on clears it.
-- =====================================================================================================================

-- ---------------------------------------------------------------------------------------------------------------------
-- 1. Branding.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.white_label_brands (
  user_id uuid primary key references auth.users (id) on delete cascade,
  display_name text not null check (char_length(display_name) between 1 and 60),
  -- The logo is a media item uploaded like any other (into one of the owner's profiles); its URL is copied at save.
  logo_media_id uuid references public.media (id) on delete set null,
  logo_url text check (char_length(logo_url) <= 2048),
  accent_color text check (accent_color ~ '^#[0-9a-f]{6}$'),
  support_url text check (char_length(support_url) <= 2048 and support_url ~ '^https?://'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

alter table public.white_label_brands enable row level security;

create trigger white_label_brands_touch_updated_at before update on public.white_label_brands
  for each row execute function public.touch_updated_at();

create policy "Billing owners can view their own branding"
  on public.white_label_brands for select to amplify_api
  using (user_id = (select auth.uid()) and (select public.request_profile_scope()) is null);

create policy "Billing owners with white label can create their branding"
  on public.white_label_brands for insert to amplify_api
  with check (user_id = (select auth.uid()) and (select public.request_profile_scope()) is null
              and exists (select 1 from public.billing_subscriptions s where s.user_id = (select auth.uid()) and s.white_label));

create policy "Billing owners with white label can change their branding"
  on public.white_label_brands for update to amplify_api
  using (user_id = (select auth.uid()) and (select public.request_profile_scope()) is null)
  with check (user_id = (select auth.uid())
              and exists (select 1 from public.billing_subscriptions s where s.user_id = (select auth.uid()) and s.white_label));

grant select on public.white_label_brands to amplify_api;
grant insert (user_id, display_name, logo_media_id, logo_url, accent_color, support_url) on public.white_label_brands to amplify_api;
grant update (display_name, logo_media_id, logo_url, accent_color, support_url) on public.white_label_brands to amplify_api;

-- ---------------------------------------------------------------------------------------------------------------------
-- 2. The account's own network apps.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.white_label_apps (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  platform text not null
    check (platform in ('twitter', 'linkedin', 'instagram', 'facebook', 'threads', 'tiktok', 'youtube', 'pinterest', 'reddit')),
  -- The network's client id (Meta: app id; TikTok: client key; Google: OAuth client id).
  client_id text not null check (char_length(client_id) between 1 and 256),
  -- The client secret, sealed for this row (never readable by amplify_api).
  client_secret_enc text not null,
  -- The network's non-secret extras (Meta: configId; Google: projectId; Reddit: userAgent).
  options jsonb not null default '{}'::jsonb check (jsonb_typeof(options) = 'object'),
  validated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, platform)
);

alter table public.white_label_apps enable row level security;

create trigger white_label_apps_touch_updated_at before update on public.white_label_apps
  for each row execute function public.touch_updated_at();

create policy "Billing owners can view their own apps"
  on public.white_label_apps for select to amplify_api
  using (user_id = (select auth.uid()) and (select public.request_profile_scope()) is null);

create policy "Billing owners with white label can add apps"
  on public.white_label_apps for insert to amplify_api
  with check (user_id = (select auth.uid()) and (select public.request_profile_scope()) is null
              and exists (select 1 from public.billing_subscriptions s where s.user_id = (select auth.uid()) and s.white_label));

create policy "Billing owners with white label can change their apps"
  on public.white_label_apps for update to amplify_api
  using (user_id = (select auth.uid()) and (select public.request_profile_scope()) is null)
  with check (user_id = (select auth.uid())
              and exists (select 1 from public.billing_subscriptions s where s.user_id = (select auth.uid()) and s.white_label));

create policy "Billing owners with white label can remove their apps"
  on public.white_label_apps for delete to amplify_api
  using (user_id = (select auth.uid()) and (select public.request_profile_scope()) is null
         and exists (select 1 from public.billing_subscriptions s where s.user_id = (select auth.uid()) and s.white_label));

-- Never the secret's ciphertext readable; the id is chosen by the API (the ciphertext is bound to it).
grant select (id, user_id, platform, client_id, options, validated_at, created_at, updated_at) on public.white_label_apps to amplify_api;
grant insert (id, user_id, platform, client_id, client_secret_enc, options, validated_at) on public.white_label_apps to amplify_api;
grant update (client_id, client_secret_enc, options, validated_at) on public.white_label_apps to amplify_api;
grant delete on public.white_label_apps to amplify_api;

-- ---------------------------------------------------------------------------------------------------------------------
-- 3. Which app a connection (and a flow in progress) belongs to.
-- ---------------------------------------------------------------------------------------------------------------------
alter table public.connections
  add column oauth_app_id uuid references public.white_label_apps (id) on delete set null;
create index connections_oauth_app_id_idx on public.connections (oauth_app_id) where oauth_app_id is not null;
grant select (oauth_app_id) on public.connections to amplify_api;

alter table public.oauth_states
  add column oauth_app_id uuid references public.white_label_apps (id) on delete cascade;
grant insert (oauth_app_id) on public.oauth_states to amplify_api;

-- ---------------------------------------------------------------------------------------------------------------------
-- 4. Losing the add-on: the account's apps serve new connections until the end of the period it was lost in.
-- ---------------------------------------------------------------------------------------------------------------------
alter table public.billing_subscriptions add column white_label_apps_until timestamptz;

create function public.record_white_label_lapse() returns trigger
language plpgsql set search_path = '' as $$
begin
  if old.white_label and not new.white_label then
    new.white_label_apps_until := greatest(now(), coalesce(old.current_period_end, now()));
  elsif new.white_label then
    new.white_label_apps_until := null;
  end if;
  return new;
end;
$$;
revoke all on function public.record_white_label_lapse() from public;

create trigger billing_subscriptions_white_label_lapse before update of white_label on public.billing_subscriptions
  for each row execute function public.record_white_label_lapse();
