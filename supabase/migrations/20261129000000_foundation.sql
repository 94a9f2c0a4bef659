-- =====================================================================================================================
-- Foundation: profiles, profile members, API keys and billing subscriptions.
--
-- Tenancy lives here. Requests run as `authenticated` with `request.jwt.claims` set. A browser session sees every
-- profile its user belongs to; an API key's claims carry `profile_id`, which confines that request to its one
-- profile whatever ids it sends. Every table has RLS enabled; policies are named as sentences.
-- =====================================================================================================================

-- ---------------------------------------------------------------------------------------------------------------------
-- Billing subscriptions: one row per user, seeded as Free by the on_auth_user_created_billing trigger.
-- Written only by the service role (the trigger and the Stripe webhook); users read their own.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.billing_subscriptions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null unique references auth.users (id) on delete cascade,
  status text not null default 'free'
    check (status in ('free', 'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled',
                      'unpaid', 'paused')),
  plan text not null default 'free' check (plan in ('free', 'starter', 'growth', 'agency', 'unlimited')),
  stripe_customer_id text unique,
  stripe_subscription_id text unique,
  current_period_end timestamptz,
  cancel_at_period_end boolean not null default false,
  extra_profiles integer not null default 0 check (extra_profiles >= 0),
  white_label boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

alter table public.billing_subscriptions enable row level security;

create policy "Users can view their own subscription"
  on public.billing_subscriptions for select to authenticated
  using (user_id = (select auth.uid()));

create function public.handle_new_user_billing() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.billing_subscriptions (user_id, status, plan) values (new.id, 'free', 'free')
  on conflict (user_id) do nothing;
  return new;
end;
$$;

create trigger on_auth_user_created_billing
  after insert on auth.users
  for each row execute function public.handle_new_user_billing();

-- ---------------------------------------------------------------------------------------------------------------------
-- Profiles and their members.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.profiles (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(name) between 1 and 100),
  description text check (char_length(description) <= 1000),
  timezone text not null default 'UTC',
  created_by uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index profiles_created_by_idx on public.profiles (created_by);

create table public.profile_members (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member')),
  invited_by uuid references auth.users (id) on delete set null,
  invitation_status text not null default 'active' check (invitation_status in ('active', 'pending')),
  permissions jsonb not null default '{}'::jsonb,
  joined_at timestamptz not null default now(),
  unique (profile_id, user_id)
);
create index profile_members_user_id_idx on public.profile_members (user_id);

alter table public.profiles enable row level security;
alter table public.profile_members enable row level security;

-- The profile an API-key request is confined to, or null for a browser session.
create function public.request_profile_scope() returns uuid
language sql stable set search_path = '' as $$
  select nullif((select auth.jwt()) ->> 'profile_id', '')::uuid
$$;

-- The profiles the caller may act on: those where they are an active member (with one of the given roles, any role
-- when null), and for an API-key request only the key's own profile. Policies compare against it as
-- `profile_id = any ((select public.accessible_profile_ids(...))::uuid[])`: the sub-select makes Postgres evaluate it once per
-- statement (an InitPlan), not once per row, and the comparison can use the profile_id indexes.
create function public.accessible_profile_ids(p_roles text[] default null) returns uuid[]
language sql stable security definer set search_path = '' as $$
  select coalesce(array_agg(m.profile_id), '{}'::uuid[])
  from public.profile_members m
  where m.user_id = (select auth.uid())
    and m.invitation_status = 'active'
    and (p_roles is null or m.role = any (p_roles))
    and (public.request_profile_scope() is null or m.profile_id = public.request_profile_scope())
$$;

-- The same question for one profile, for code that asks it once (not for policies: called per row it would run
-- once per row).
create function public.has_profile_role(p_profile_id uuid, p_roles text[] default null) returns boolean
language sql stable security definer set search_path = '' as $$
  select p_profile_id = any (public.accessible_profile_ids(p_roles))
$$;

create policy "Members can view their profiles"
  on public.profiles for select to authenticated
  using (id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Owners and admins can update their profiles"
  on public.profiles for update to authenticated
  using (id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]))
  with check (id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

create policy "Owners can delete their profiles"
  on public.profiles for delete to authenticated
  using (id = any ((select public.accessible_profile_ids(array['owner']))::uuid[]));

create policy "Members can view the members of their profiles"
  on public.profile_members for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Owners can add members to their profiles"
  on public.profile_members for insert to authenticated
  with check (profile_id = any ((select public.accessible_profile_ids(array['owner']))::uuid[]));

create policy "Owners can change members of their profiles"
  on public.profile_members for update to authenticated
  using (profile_id = any ((select public.accessible_profile_ids(array['owner']))::uuid[]))
  with check (profile_id = any ((select public.accessible_profile_ids(array['owner']))::uuid[]));

create policy "Owners can remove members and members can leave"
  on public.profile_members for delete to authenticated
  using (profile_id = any ((select public.accessible_profile_ids(array['owner']))::uuid[]) or user_id = (select auth.uid()));

-- Creating a profile makes its creator the owner in the same statement. Profiles are created by browser sessions
-- only: an API key is scoped to one existing profile.
create function public.create_profile(p_name text, p_description text default null, p_timezone text default 'UTC')
returns public.profiles
language plpgsql security definer set search_path = '' as $$
declare
  created public.profiles;
begin
  if (select auth.uid()) is null then
    raise exception 'not authenticated' using errcode = '42501';
  end if;
  if public.request_profile_scope() is not null then
    raise exception 'API keys cannot create profiles' using errcode = '42501';
  end if;
  insert into public.profiles (name, description, timezone, created_by)
  values (p_name, p_description, coalesce(p_timezone, 'UTC'), (select auth.uid()))
  returning * into created;
  insert into public.profile_members (profile_id, user_id, role) values (created.id, (select auth.uid()), 'owner');
  return created;
end;
$$;

revoke execute on function public.create_profile(text, text, text) from public, anon;
grant execute on function public.create_profile(text, text, text) to authenticated;

-- ---------------------------------------------------------------------------------------------------------------------
-- API keys: only a SHA-256 hash and a display suffix are stored. Verification runs with the service connection
-- (the caller is not yet known); listing, creating and revoking run as the user.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.api_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 100),
  key_hash text not null unique,
  key_suffix text not null,
  status text not null default 'active' check (status in ('active', 'revoked')),
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_keys_user_id_profile_id_idx on public.api_keys (user_id, profile_id, created_at desc);
create index api_keys_profile_id_idx on public.api_keys (profile_id);

alter table public.api_keys enable row level security;

create policy "Users can view their own keys for profiles they belong to"
  on public.api_keys for select to authenticated
  using (user_id = (select auth.uid()) and profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Users can create keys for profiles they belong to"
  on public.api_keys for insert to authenticated
  with check (user_id = (select auth.uid()) and profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Users can revoke their own keys"
  on public.api_keys for update to authenticated
  using (user_id = (select auth.uid()) and profile_id = any ((select public.accessible_profile_ids())::uuid[]))
  with check (user_id = (select auth.uid()));

-- The hash never leaves the database through a user's session: users read every column but it.
revoke select on public.api_keys from anon, authenticated;
grant select (id, user_id, profile_id, name, key_suffix, status, created_at, last_used_at, revoked_at)
  on public.api_keys to authenticated;

-- Timestamps.
create function public.touch_updated_at() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

create trigger profiles_touch_updated_at before update on public.profiles
  for each row execute function public.touch_updated_at();
create trigger billing_subscriptions_touch_updated_at before update on public.billing_subscriptions
  for each row execute function public.touch_updated_at();
