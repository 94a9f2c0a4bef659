-- Connection health before it fails (issue 18, second half).
--
-- Every expiry a network gives is stored: the access token's (token_expires_at, as before) and now the refresh
-- token's (LinkedIn: 365 days from the first consent, not extended by refreshing; TikTok: `refresh_expires_in`;
-- Pinterest: `refresh_token_expires_in`; Meta: the long-lived token's 60 days; Bluesky: the refresh JWT's `exp`).
-- `usable_until` is when the connection stops working unless the user reconnects (null: no known end, e.g. Google,
-- Reddit and X refresh tokens, or a Meta long-lived token the refresh-ahead job keeps renewing). The refresh-ahead
-- job (src/connections/refresh-job.ts) writes `tokens_refreshed_at` and the warning columns; the API reads only the
-- two expiries it shows (tokenHealth on connection answers, the warning on a scheduled post's target).
--
-- Existing rows keep their data: their refresh-token expiry is unknown until the next refresh or reconnect stores it,
-- and their usable_until is the access token's expiry where there is no refresh token (nothing can renew those).

alter table public.connections
  add column refresh_token_expires_at timestamptz,
  add column usable_until timestamptz,
  add column tokens_refreshed_at timestamptz,
  -- The usable_until each `connection.expiring` warning was sent for: a warning is sent once per threshold and
  -- expiry; reconnecting (a new usable_until) arms both again.
  add column expiry_warned_7d_for timestamptz,
  add column expiry_warned_1d_for timestamptz;

update public.connections
  set usable_until = token_expires_at,
      tokens_refreshed_at = coalesce(last_synced_at, created_at)
  where refresh_token_enc is null;
update public.connections set tokens_refreshed_at = coalesce(last_synced_at, created_at) where tokens_refreshed_at is null;

-- The refresh-ahead job's warning scan: connections whose usable life ends within a week.
create index connections_usable_until_idx on public.connections (usable_until)
  where status = 'connected' and usable_until is not null;

-- Requests read the expiries they show; the tokens and the job's bookkeeping stay with the service connection.
grant select (refresh_token_expires_at, usable_until) on public.connections to amplify_api;
