-- Issue 15: the sweep never re-reads queued work, and new webhook deliveries go to the queue right after their
-- transaction commits instead of waiting for the next sweep.

-- ---------------------------------------------------------------------------------------------------------------------
-- Webhook deliveries get the outbox's two partial indexes (as post_targets has since the start): pending deliveries
-- with no message for their due time yet, and messages sent long ago that never arrived. The old index covered every
-- pending delivery, queued or not, so the sweep's due read walked the whole queued backlog on every batch.
-- ---------------------------------------------------------------------------------------------------------------------
create index webhook_deliveries_unqueued_due_idx on public.webhook_deliveries (next_attempt_at)
  where status = 'pending' and queued_for is distinct from next_attempt_at;
create index webhook_deliveries_queued_idx on public.webhook_deliveries (queued_at)
  where status = 'pending' and queued_for = next_attempt_at;
drop index public.webhook_deliveries_due_idx;

-- ---------------------------------------------------------------------------------------------------------------------
-- After-commit hand-off. A statement that creates outbox rows records `<job>:<id>` for each of them in the
-- transaction-local setting `amplify.hand_off` and raises the notice `amplify:hand-off`. The application's
-- transaction runner (src/core/pg.ts) sees the notice, reads the setting before it commits, and after the commit
-- puts those rows on the queue (src/core/jobs/hand-off.ts). A rolled-back transaction (or savepoint) takes its
-- entries with it, so only committed rows are handed off; anything the hand-off misses is sent by the sweep.
-- The job name is the trigger's argument.
-- ---------------------------------------------------------------------------------------------------------------------
create function public.hand_off_after_commit() returns trigger
language plpgsql set search_path = '' as $$
declare
  added text;
begin
  select string_agg(tg_argv[0] || ':' || r.id::text, ' ') into added from new_rows r;
  if added is null then
    return null;
  end if;
  perform set_config('amplify.hand_off',
    concat_ws(' ', nullif(coalesce(current_setting('amplify.hand_off', true), ''), ''), added), true);
  raise notice 'amplify:hand-off';
  return null;
end;
$$;
revoke execute on function public.hand_off_after_commit() from public;

create trigger webhook_deliveries_hand_off after insert on public.webhook_deliveries
  referencing new table as new_rows
  for each statement execute function public.hand_off_after_commit('webhook');
