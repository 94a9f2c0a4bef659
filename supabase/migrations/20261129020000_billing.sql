-- =====================================================================================================================
-- Billing: Stripe webhook bookkeeping.
--
-- billing_subscriptions (foundation) is a cache of the user's Stripe subscription, written only by the service role:
-- the Stripe webhook and the checkout step that links a new Stripe customer. Each Stripe event is processed exactly
-- once: its id goes into stripe_events in the same transaction as the change it causes, so a repeated delivery finds
-- it there and changes nothing, and a failed one leaves no trace and is retried by Stripe.
-- =====================================================================================================================

-- ---------------------------------------------------------------------------------------------------------------------
-- When the row last took its state from Stripe (the webhook re-reads the subscription from Stripe on every event, so
-- the newest sync is the truth whatever order events arrive in).
-- ---------------------------------------------------------------------------------------------------------------------
alter table public.billing_subscriptions add column stripe_synced_at timestamptz;

-- ---------------------------------------------------------------------------------------------------------------------
-- Processed Stripe events. The primary key on Stripe's event id is the idempotency guarantee.
-- ---------------------------------------------------------------------------------------------------------------------
create table public.stripe_events (
  id text primary key,
  type text not null,
  -- The event's own `created` time at Stripe (for diagnosis; ordering comes from re-reading the subscription).
  stripe_created_at timestamptz not null,
  livemode boolean not null default false,
  processed_at timestamptz not null default now()
);

create index stripe_events_processed_at_idx on public.stripe_events (processed_at);

alter table public.stripe_events enable row level security;

-- Only the service role (which bypasses RLS) reads or writes processed events; no user session ever sees them.
create policy "Users cannot read processed payment events"
  on public.stripe_events for select to authenticated
  using (false);

revoke all on public.stripe_events from anon, authenticated;
