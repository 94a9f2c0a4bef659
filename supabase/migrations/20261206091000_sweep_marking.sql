-- The sweep marks up to 500 post targets per statement as sent (src/core/jobs/outbox.ts), and workers claim, lease
-- and settle them one at a time: all through the service connection, for which guard_post_target_transition
-- (20261206000000, section 8) returns at once. As a plain row trigger it still called that plpgsql function for every
-- row only to find this out, which was a visible share of marking a sweep batch. With the same test as the trigger's
-- WHEN condition, the function runs only for amplify_api (the role our API's requests use), where it checks exactly
-- what it checked before; rows written by any other role go through unchanged, as they did, without the call.
-- Same name, so the BEFORE triggers of post_targets keep firing in the same (alphabetical) order.
drop trigger post_targets_guard_transition on public.post_targets;
create trigger post_targets_guard_transition before insert or update on public.post_targets
  for each row when (current_user = 'amplify_api') execute function public.guard_post_target_transition();
