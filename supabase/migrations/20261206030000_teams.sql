-- =====================================================================================================================
-- Teams: invitations, exactly one owner per profile, ownership transfer, member events, and the members' user records.
--
-- - Invitations live in their own table. The token is random, shown once (in the invite URL) and stored only as its
--   SHA-256 digest; it expires after 7 days, is used once, and is bound to the invited email. Invitations are created,
--   re-sent and accepted only through the definer functions below (amplify_api has no insert on the table and no
--   insert on profile_members at all); owners and admins read them (never the digest) and revoke them.
-- - Exactly one owner per profile, and it is the profile's billing owner (`profiles.created_by`): at most one by a
--   partial unique index, exactly one (and the right one) by a deferred constraint trigger checked at commit.
-- - `profiles.created_by` stays immutable for every role, with one sanctioned path: transfer_profile_ownership, which
--   also swaps the two members' roles (the old owner becomes admin) after checking the new owner's plan has room.
-- - member.joined is written by accept_profile_invitation; member.removed by a trigger on every removal (by the owner,
--   by leaving, or by the service connection), in the same transaction.
-- - The members list reads name, email and avatar from auth.users through profile_member_users, which exposes only
--   those fields and only for members of a profile the caller belongs to.
-- =====================================================================================================================

-- ---------------------------------------------------------------------------------------------------------------------
-- 1. Exactly one owner per profile, the billing owner.
-- ---------------------------------------------------------------------------------------------------------------------

-- Repair first (rows that could only come from the data API before the trust boundary): an owner row that is not the
-- billing owner becomes admin, and a billing owner without an active owner row gets one.
update public.profile_members m set role = 'admin'
from public.profiles p
where p.id = m.profile_id and m.role = 'owner' and m.user_id <> p.created_by;

insert into public.profile_members (profile_id, user_id, role, invitation_status)
select p.id, p.created_by, 'owner', 'active' from public.profiles p
on conflict (profile_id, user_id) do update set role = 'owner', invitation_status = 'active';

create unique index profile_members_one_owner_idx on public.profile_members (profile_id) where role = 'owner';

-- Checked at commit, so a transfer may swap roles and the billing owner within its transaction.
create function public.check_single_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  pid uuid;
  billing_owner uuid;
begin
  if tg_table_name = 'profiles' then
    pid := old.id;
  elsif tg_op = 'DELETE' then
    pid := old.profile_id;
  else
    pid := new.profile_id;
  end if;
  select p.created_by into billing_owner from public.profiles p where p.id = pid;
  if billing_owner is null then
    return null; -- the profile is gone (deleted with its members)
  end if;
  if not exists (select from public.profile_members m
                 where m.profile_id = pid and m.role = 'owner' and m.user_id = billing_owner
                   and m.invitation_status = 'active') then
    raise exception 'a profile has exactly one owner, its billing owner' using errcode = '23514';
  end if;
  return null;
end;
$$;
revoke all on function public.check_single_owner() from public;

create constraint trigger profile_members_single_owner after insert or update or delete on public.profile_members
  deferrable initially deferred for each row execute function public.check_single_owner();
create constraint trigger profiles_single_owner after update of created_by on public.profiles
  deferrable initially deferred for each row execute function public.check_single_owner();

-- ---------------------------------------------------------------------------------------------------------------------
-- 2. Invitations.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.profile_invitations (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  email text not null check (char_length(email) between 3 and 320 and email = lower(email)),
  role text not null check (role in ('admin', 'member')),
  -- SHA-256 (hex) of the token; the token itself is never stored.
  token_hash text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
  status text not null default 'pending' check (status in ('pending', 'accepted', 'revoked')),
  invited_by uuid references auth.users (id) on delete set null,
  expires_at timestamptz not null,
  send_count integer not null default 1 check (send_count >= 1),
  last_sent_at timestamptz not null default now(),
  accepted_at timestamptz,
  accepted_by uuid references auth.users (id) on delete set null,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint profile_invitations_id_profile_id_key unique (id, profile_id)
);
-- One pending invitation per address and profile: inviting again returns (and re-sends) that one.
create unique index profile_invitations_one_pending_idx on public.profile_invitations (profile_id, email)
  where status = 'pending';
create index profile_invitations_profile_id_created_at_idx on public.profile_invitations (profile_id, created_at desc);

alter table public.profile_invitations enable row level security;

create trigger profile_invitations_touch_updated_at before update on public.profile_invitations
  for each row execute function public.touch_updated_at();

-- Owners see every invitation of their profiles; admins too (they invite members).
create policy "Owners and admins can view the invitations of their profiles"
  on public.profile_invitations for select to amplify_api
  using (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

-- Revoking is the only change made as the caller: owners revoke any pending invitation, admins those for members.
create policy "Owners revoke invitations and admins revoke member invitations"
  on public.profile_invitations for update to amplify_api
  using (status = 'pending'
         and (profile_id = any ((select public.accessible_profile_ids(array['owner']))::uuid[])
              or (role = 'member' and profile_id = any ((select public.accessible_profile_ids(array['admin']))::uuid[]))))
  with check (status = 'revoked');

grant select (id, profile_id, email, role, status, invited_by, expires_at, send_count, last_sent_at, accepted_at,
              accepted_by, revoked_at, created_at, updated_at)
  on public.profile_invitations to amplify_api;
grant update (status, revoked_at) on public.profile_invitations to amplify_api;

-- Creates an invitation, or re-issues the pending one for the same address (new token, role as asked, 7 more days).
-- Owners invite admins and members; admins invite members. Outcomes instead of exceptions, so the API can answer each
-- clearly: created | reissued | forbidden | already_member. `has_account` says whether the address has a user (the
-- mail channel depends on it; it is never shown to the caller).
create function public.create_profile_invitation(
  p_profile_id uuid,
  p_email text,
  p_role text,
  p_token_hash text,
  out outcome text,
  out invitation_id uuid,
  out email text,
  out role text,
  out expires_at timestamptz,
  out has_account boolean
)
language plpgsql volatile security definer set search_path = '' as $$
declare
  me uuid := (select auth.uid());
  my_role text;
  normalized text := lower(trim(p_email));
begin
  if me is null or public.request_profile_scope() is not null then
    raise exception 'invitations are made from a signed-in session' using errcode = '42501';
  end if;
  if p_role not in ('admin', 'member') then
    raise exception 'role must be admin or member' using errcode = '22023';
  end if;
  select m.role into my_role from public.profile_members m
  where m.profile_id = p_profile_id and m.user_id = me and m.invitation_status = 'active';
  if my_role is null then
    raise exception 'not a member of this profile' using errcode = '42501';
  end if;
  if my_role = 'member' or (my_role = 'admin' and p_role <> 'member') then
    outcome := 'forbidden';
    return;
  end if;
  email := normalized;
  role := p_role;
  has_account := exists (select from auth.users u where lower(u.email) = normalized);
  if exists (select from public.profile_members m join auth.users u on u.id = m.user_id
             where m.profile_id = p_profile_id and lower(u.email) = normalized) then
    outcome := 'already_member';
    return;
  end if;
  -- Serialises invitations to one address of one profile.
  perform pg_advisory_xact_lock(hashtextextended('invitation:' || p_profile_id::text || ':' || normalized, 0));
  -- An admin cannot touch (re-issue, re-role) the owner's pending invitation of an admin.
  if my_role = 'admin' and exists (select from public.profile_invitations i
                                   where i.profile_id = p_profile_id and i.email = normalized and i.status = 'pending'
                                     and i.role = 'admin') then
    outcome := 'forbidden';
    return;
  end if;
  update public.profile_invitations i
  set token_hash = p_token_hash, role = p_role, expires_at = now() + interval '7 days',
      send_count = i.send_count + 1, last_sent_at = now(), invited_by = me
  where i.profile_id = p_profile_id and i.email = normalized and i.status = 'pending'
  returning i.id, i.expires_at into invitation_id, expires_at;
  if invitation_id is not null then
    outcome := 'reissued';
    return;
  end if;
  insert into public.profile_invitations (profile_id, email, role, token_hash, invited_by, expires_at)
  values (p_profile_id, normalized, p_role, p_token_hash, me, now() + interval '7 days')
  returning id, profile_invitations.expires_at into invitation_id, expires_at;
  outcome := 'created';
end;
$$;

-- Re-sends a pending invitation: a new token (the old link stops working) and 7 more days. Owners any, admins
-- invitations for members. Outcomes: resent | not_found | forbidden.
create function public.resend_profile_invitation(
  p_profile_id uuid,
  p_invitation_id uuid,
  p_token_hash text,
  out outcome text,
  out email text,
  out role text,
  out expires_at timestamptz,
  out has_account boolean
)
language plpgsql volatile security definer set search_path = '' as $$
declare
  me uuid := (select auth.uid());
  my_role text;
  inv public.profile_invitations;
begin
  if me is null or public.request_profile_scope() is not null then
    raise exception 'invitations are made from a signed-in session' using errcode = '42501';
  end if;
  select m.role into my_role from public.profile_members m
  where m.profile_id = p_profile_id and m.user_id = me and m.invitation_status = 'active';
  select * into inv from public.profile_invitations i
  where i.id = p_invitation_id and i.profile_id = p_profile_id and i.status = 'pending' for update;
  if my_role is null or my_role = 'member' or inv.id is null then
    outcome := case when my_role = 'member' then 'forbidden' else 'not_found' end;
    return;
  end if;
  if my_role = 'admin' and inv.role <> 'member' then
    outcome := 'forbidden';
    return;
  end if;
  update public.profile_invitations i
  set token_hash = p_token_hash, expires_at = now() + interval '7 days', send_count = i.send_count + 1,
      last_sent_at = now()
  where i.id = inv.id
  returning i.email, i.role, i.expires_at into email, role, expires_at;
  has_account := exists (select from auth.users u where lower(u.email) = inv.email);
  outcome := 'resent';
end;
$$;

-- Accepts an invitation by its token's digest, as the signed-in user whose confirmed email it was sent to.
-- Outcomes: accepted | not_found | wrong_email | expired | used | revoked | already_member.
create function public.accept_profile_invitation(
  p_token_hash text,
  out outcome text,
  out profile_id uuid,
  out role text,
  out member_id uuid
)
language plpgsql volatile security definer set search_path = '' as $$
declare
  me uuid := (select auth.uid());
  my_email text;
  inv public.profile_invitations;
begin
  if me is null or public.request_profile_scope() is not null then
    raise exception 'invitations are accepted from a signed-in session' using errcode = '42501';
  end if;
  select * into inv from public.profile_invitations i where i.token_hash = p_token_hash for update;
  if inv.id is null then
    outcome := 'not_found';
    return;
  end if;
  -- Only a confirmed address proves the invitee holds it.
  select lower(u.email) into my_email from auth.users u where u.id = me and u.email_confirmed_at is not null;
  if my_email is distinct from inv.email then
    outcome := 'wrong_email';
    return;
  end if;
  profile_id := inv.profile_id;
  role := inv.role;
  if inv.status = 'accepted' then
    outcome := 'used';
    return;
  end if;
  if inv.status = 'revoked' then
    outcome := 'revoked';
    return;
  end if;
  if inv.expires_at <= now() then
    outcome := 'expired';
    return;
  end if;
  if exists (select from public.profile_members m where m.profile_id = inv.profile_id and m.user_id = me) then
    outcome := 'already_member';
    return;
  end if;
  insert into public.profile_members (profile_id, user_id, role, invited_by, invitation_status)
  values (inv.profile_id, me, inv.role, inv.invited_by, 'active')
  returning id into member_id;
  update public.profile_invitations i set status = 'accepted', accepted_at = now(), accepted_by = me where i.id = inv.id;
  insert into public.events (profile_id, event_type, payload)
  values (inv.profile_id, 'member.joined', jsonb_build_object(
    'event_type', 'member.joined',
    'timestamp', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'profile_id', inv.profile_id,
    'data', jsonb_build_object('member_id', member_id, 'user_id', me, 'email', inv.email, 'role', inv.role,
                               'invited_by', inv.invited_by, 'invitation_id', inv.id)));
  outcome := 'accepted';
end;
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- 3. member.removed, whoever removes the member (the owner, the member leaving, the service connection).
-- ---------------------------------------------------------------------------------------------------------------------
create function public.record_member_removed() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  -- Deleted together with its profile: nobody left to tell.
  if not exists (select from public.profiles p where p.id = old.profile_id) then
    return null;
  end if;
  insert into public.events (profile_id, event_type, payload)
  values (old.profile_id, 'member.removed', jsonb_build_object(
    'event_type', 'member.removed',
    'timestamp', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'profile_id', old.profile_id,
    'data', jsonb_build_object('member_id', old.id, 'user_id', old.user_id, 'role', old.role,
                               'reason', case when old.user_id = (select auth.uid()) then 'left' else 'removed' end)));
  return null;
end;
$$;
revoke all on function public.record_member_removed() from public;

create trigger profile_members_record_removed after delete on public.profile_members
  for each row execute function public.record_member_removed();

-- ---------------------------------------------------------------------------------------------------------------------
-- 4. The members' user records: id, name, email and avatar only, only for members of a profile the caller belongs to.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.profile_member_users(p_profile_id uuid)
returns table (id uuid, name text, email text, avatar_url text)
language sql stable security definer set search_path = '' as $$
  select u.id,
         coalesce(u.raw_user_meta_data ->> 'full_name', u.raw_user_meta_data ->> 'name')::text,
         u.email::text,
         coalesce(u.raw_user_meta_data ->> 'avatar_url', u.raw_user_meta_data ->> 'picture')::text
  from public.profile_members m
  join auth.users u on u.id = m.user_id
  where m.profile_id = p_profile_id
    and p_profile_id = any (public.accessible_profile_ids())
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- 5. Ownership transfer: the one path by which profiles.created_by (the billing owner) changes.
-- ---------------------------------------------------------------------------------------------------------------------

-- The immutability trigger, now with one exception: inside transfer_profile_ownership (a definer function, so
-- current_user is not amplify_api) which marks the profile it moves in a transaction-local setting. amplify_api can
-- set the setting itself but is refused anyway, and the data API's roles reach nothing in public.
create or replace function public.refuse_created_by_change() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.created_by is distinct from old.created_by
     and not (current_user <> 'amplify_api'
              and coalesce(current_setting('amplify.transfer_ownership', true), '') = new.id::text) then
    raise exception 'a profile''s creator (its billing owner) cannot change' using errcode = '42501';
  end if;
  return new;
end;
$$;

-- Makes an active member the owner and billing owner, the old owner an admin. Only the owner, from a session. The new
-- owner's plan must have room for one more profile: p_profile_limits maps '<status>:<plan>' to the plan's profile
-- allowance (JSON null: unlimited), built from the plan table in code; each extra profile pack adds p_pack_size.
-- Outcomes: transferred | forbidden | not_found | same_user | no_room (with plan, max_profiles, owned).
create function public.transfer_profile_ownership(
  p_profile_id uuid,
  p_new_owner uuid,
  p_profile_limits jsonb,
  p_pack_size integer,
  out outcome text,
  out plan text,
  out max_profiles integer,
  out owned integer
)
language plpgsql volatile security definer set search_path = '' as $$
declare
  me uuid := (select auth.uid());
  my_role text;
  sub record;
  entry jsonb;
begin
  if me is null or public.request_profile_scope() is not null then
    raise exception 'ownership is transferred from a signed-in session' using errcode = '42501';
  end if;
  select m.role into my_role from public.profile_members m
  where m.profile_id = p_profile_id and m.user_id = me and m.invitation_status = 'active';
  if my_role is null then
    outcome := 'not_found';
    return;
  end if;
  if my_role <> 'owner' then
    outcome := 'forbidden';
    return;
  end if;
  if p_new_owner = me then
    outcome := 'same_user';
    return;
  end if;
  if not exists (select from public.profile_members m where m.profile_id = p_profile_id and m.user_id = p_new_owner
                 and m.invitation_status = 'active') then
    outcome := 'not_found';
    return;
  end if;
  -- The same lock profile creation takes for a user: a concurrent creation cannot take the slot counted here.
  perform pg_advisory_xact_lock(hashtextextended('profiles:' || p_new_owner::text, 0));
  select coalesce(b.status, 'free') as status, coalesce(b.plan, 'free') as plan, coalesce(b.extra_profiles, 0) as extra
  into sub
  from (select p_new_owner as user_id) u left join public.billing_subscriptions b on b.user_id = u.user_id;
  entry := p_profile_limits -> (sub.status || ':' || sub.plan);
  plan := sub.plan;
  max_profiles := case when entry is null then 0
                       when jsonb_typeof(entry) = 'null' then null
                       else (entry #>> '{}')::integer + sub.extra * coalesce(p_pack_size, 0) end;
  select count(*)::integer into owned from public.profiles p where p.created_by = p_new_owner;
  if entry is null or (max_profiles is not null and owned >= max_profiles) then
    outcome := 'no_room';
    return;
  end if;
  perform set_config('amplify.transfer_ownership', p_profile_id::text, true);
  update public.profile_members m set role = 'admin' where m.profile_id = p_profile_id and m.user_id = me;
  update public.profile_members m set role = 'owner' where m.profile_id = p_profile_id and m.user_id = p_new_owner;
  update public.profiles p set created_by = p_new_owner where p.id = p_profile_id;
  perform set_config('amplify.transfer_ownership', '', true);
  outcome := 'transferred';
end;
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- 6. Who may call what.
-- ---------------------------------------------------------------------------------------------------------------------
revoke all on function public.create_profile_invitation(uuid, text, text, text) from public, anon, authenticated;
revoke all on function public.resend_profile_invitation(uuid, uuid, text) from public, anon, authenticated;
revoke all on function public.accept_profile_invitation(text) from public, anon, authenticated;
revoke all on function public.profile_member_users(uuid) from public, anon, authenticated;
revoke all on function public.transfer_profile_ownership(uuid, uuid, jsonb, integer) from public, anon, authenticated;
grant execute on function public.create_profile_invitation(uuid, text, text, text) to amplify_api;
grant execute on function public.resend_profile_invitation(uuid, uuid, text) to amplify_api;
grant execute on function public.accept_profile_invitation(text) to amplify_api;
grant execute on function public.profile_member_users(uuid) to amplify_api;
grant execute on function public.transfer_profile_ownership(uuid, uuid, jsonb, integer) to amplify_api;
