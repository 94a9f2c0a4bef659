-- =====================================================================================================================
-- Outbound webhooks: the endpoints a profile registers, one delivery per (event, endpoint), and every attempt.
--
-- Every lifecycle event is written to public.events in the same transaction as the change it describes (see the
-- publishing migration). A trigger on that table fans each new event out, in that same transaction, to a delivery row
-- for every active endpoint of the profile subscribed to its type (or to '*'): an event that happened has its
-- deliveries, one per endpoint (unique (event_id, endpoint_id)), or neither exists. The sweep and the webhook worker
-- (service connection) put due deliveries on the queue, send them, and record each attempt here.
--
-- Members read their profiles' endpoints (never the secret: its column is not readable by `authenticated`), their
-- deliveries and attempts; owners and admins add, change and remove endpoints and retry deliveries.
-- =====================================================================================================================

-- ---------------------------------------------------------------------------------------------------------------------
-- Endpoints. The signing secret is AES-256-GCM ciphertext (src/core/crypto.ts).
-- ---------------------------------------------------------------------------------------------------------------------
create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  profile_id uuid not null references public.profiles (id) on delete cascade,
  url text not null check (char_length(url) between 1 and 2048),
  secret_enc text not null,
  events text[] not null check (cardinality(events) between 1 and 20),
  is_active boolean not null default true,
  max_retries integer not null default 5 check (max_retries between 0 and 10),
  -- Why an inactive endpoint is inactive: turned off by a user, answered 410 Gone, or failed for too long.
  disabled_reason text check (disabled_reason in ('manual', 'gone', 'failing')),
  disabled_at timestamptz,
  -- Start of the current run of failed attempts (null after a success); a long enough run disables the endpoint.
  failing_since timestamptz,
  last_delivery_at timestamptz,
  last_delivery_status text check (last_delivery_status in ('success', 'failed')),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- One endpoint per URL and profile, so one event never reaches the same receiver twice through two endpoints.
  unique (profile_id, url)
);

alter table public.webhook_endpoints enable row level security;

create policy "Members can view the webhook endpoints of their profiles"
  on public.webhook_endpoints for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Owners and admins can add webhook endpoints to their profiles"
  on public.webhook_endpoints for insert to authenticated
  with check (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

create policy "Owners and admins can change the webhook endpoints of their profiles"
  on public.webhook_endpoints for update to authenticated
  using (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]))
  with check (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

create policy "Owners and admins can remove the webhook endpoints of their profiles"
  on public.webhook_endpoints for delete to authenticated
  using (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

revoke select, insert, update on public.webhook_endpoints from anon, authenticated;
grant select (id, profile_id, url, events, is_active, max_retries, disabled_reason, disabled_at, failing_since,
              last_delivery_at, last_delivery_status, created_by, created_at, updated_at)
  on public.webhook_endpoints to authenticated;
grant insert (profile_id, url, secret_enc, events, max_retries, created_by) on public.webhook_endpoints to authenticated;
grant update (url, secret_enc, events, is_active, max_retries, disabled_reason, disabled_at, failing_since)
  on public.webhook_endpoints to authenticated;

-- ---------------------------------------------------------------------------------------------------------------------
-- Deliveries: one per (event, endpoint). `attempt_number` counts the attempts made; `max_attempts` is 1 + the
-- endpoint's max_retries when the event fanned out (a manual retry grants one more). A `final_notice` delivery is the
-- webhook.endpoint_disabled event sent once to the endpoint it disabled.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  event_id uuid not null references public.events (id) on delete cascade,
  event_type text not null,
  status text not null default 'pending' check (status in ('pending', 'delivering', 'delivered', 'failed')),
  attempt_number integer not null default 0 check (attempt_number >= 0),
  max_attempts integer not null check (max_attempts >= 1),
  final_notice boolean not null default false,
  -- Set by a manual retry until the attempt it asked for is made (the attempt is recorded as manual).
  manual_retry boolean not null default false,
  -- When the next attempt is due (pending only).
  next_attempt_at timestamptz default now(),
  -- A claim by a worker; a crashed worker's lease expires and the sweep makes the delivery pending again.
  lease_until timestamptz,
  -- The next_attempt_at a queue message was last sent for, so the same attempt is not put on the queue twice.
  queued_for timestamptz,
  queued_at timestamptz,
  response_status integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (event_id, endpoint_id)
);
create index webhook_deliveries_endpoint_id_created_at_idx on public.webhook_deliveries (endpoint_id, created_at desc, id desc);
create index webhook_deliveries_profile_id_idx on public.webhook_deliveries (profile_id);
create index webhook_deliveries_due_idx on public.webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_lease_idx on public.webhook_deliveries (lease_until) where status = 'delivering';

alter table public.webhook_deliveries enable row level security;

create policy "Members can view the webhook deliveries of their profiles"
  on public.webhook_deliveries for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

create policy "Owners and admins can retry the webhook deliveries of their profiles"
  on public.webhook_deliveries for update to authenticated
  using (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]))
  with check (profile_id = any ((select public.accessible_profile_ids(array['owner', 'admin']))::uuid[]));

revoke insert, update on public.webhook_deliveries from anon, authenticated;
grant update (status, next_attempt_at, max_attempts, manual_retry) on public.webhook_deliveries to authenticated;

-- ---------------------------------------------------------------------------------------------------------------------
-- Attempts: one row per HTTP attempt, written by the webhook worker. The response excerpt is capped (1 KiB).
-- ---------------------------------------------------------------------------------------------------------------------
create table public.webhook_delivery_attempts (
  id uuid primary key default gen_random_uuid(),
  delivery_id uuid not null references public.webhook_deliveries (id) on delete cascade,
  profile_id uuid not null references public.profiles (id) on delete cascade,
  attempt_number integer not null,
  trigger text not null default 'automatic' check (trigger in ('automatic', 'manual')),
  status text not null check (status in ('success', 'failed')),
  response_status integer,
  latency_ms integer not null,
  response_excerpt text,
  error_message text,
  -- When the next attempt is due after this one (null: none will follow).
  next_attempt_at timestamptz,
  started_at timestamptz not null,
  completed_at timestamptz not null,
  created_at timestamptz not null default now()
);
create index webhook_delivery_attempts_delivery_id_idx on public.webhook_delivery_attempts (delivery_id, attempt_number);
create index webhook_delivery_attempts_profile_id_idx on public.webhook_delivery_attempts (profile_id);

alter table public.webhook_delivery_attempts enable row level security;

create policy "Members can view the webhook delivery attempts of their profiles"
  on public.webhook_delivery_attempts for select to authenticated
  using (profile_id = any ((select public.accessible_profile_ids())::uuid[]));

revoke insert, update on public.webhook_delivery_attempts from anon, authenticated;

-- ---------------------------------------------------------------------------------------------------------------------
-- Fan-out: each new event gets a delivery for every active endpoint of its profile subscribed to it, in the event's
-- own transaction. Definer rights because events are also written by members' requests, which may not write
-- deliveries themselves.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.fan_out_event_to_webhook_endpoints() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.webhook_deliveries (endpoint_id, profile_id, event_id, event_type, max_attempts)
  select e.id, new.profile_id, new.id, new.event_type, e.max_retries + 1
  from public.webhook_endpoints e
  where e.profile_id = new.profile_id
    and e.is_active
    and (new.event_type = any (e.events) or '*' = any (e.events))
  on conflict (event_id, endpoint_id) do nothing;
  return null;
end;
$$;

create trigger events_fan_out_to_webhook_endpoints after insert on public.events
  for each row execute function public.fan_out_event_to_webhook_endpoints();

-- ---------------------------------------------------------------------------------------------------------------------
-- The subscription that pays for a profile (its owner's), for members checking that webhooks are included: a member
-- may not read another user's billing row, but may learn whether the profile's plan includes webhooks.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.profile_owner_subscription(p_profile_id uuid, out status text, out plan text)
language sql stable security definer set search_path = '' as $$
  select coalesce(b.status, 'free'), coalesce(b.plan, 'free')
  from public.profiles p
  left join public.billing_subscriptions b on b.user_id = p.created_by
  where p.id = p_profile_id and public.has_profile_role(p_profile_id)
$$;

revoke execute on function public.profile_owner_subscription(uuid) from public, anon;
grant execute on function public.profile_owner_subscription(uuid) to authenticated;

-- Timestamps.
create trigger webhook_endpoints_touch_updated_at before update on public.webhook_endpoints
  for each row execute function public.touch_updated_at();
create trigger webhook_deliveries_touch_updated_at before update on public.webhook_deliveries
  for each row execute function public.touch_updated_at();
