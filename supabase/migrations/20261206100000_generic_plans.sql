-- Hot PL/pgSQL functions keep one generic plan per statement instead of planning each call again.
--
-- PL/pgSQL caches each statement's plan per connection, but a statement that reads the function's parameters or
-- variables goes through Postgres' plan cache, which plans it afresh with the call's values (a "custom plan") for
-- the first five calls and then keeps doing so for as long as that custom plan is estimated cheaper than the generic
-- one. For these lookups by key, id or hash it always is, by a hair, so every call paid for planning: measured on the
-- 2-vCPU development VM, accessible_profile_ids() cost 117 µs a call, 28 µs with a generic plan. Every RLS policy calls
-- it once per table a statement reads, and every API-key request calls verify_api_key. The statements below all
-- select by primary key, unique key or an indexed equality, where the generic plan is the plan the custom one would
-- choose. Bodies, volatility, SECURITY DEFINER, search_path, owners and grants are unchanged.

alter function public.accessible_profile_ids(text[]) set plan_cache_mode = force_generic_plan;
alter function public.verify_api_key(text, text, bigint) set plan_cache_mode = force_generic_plan;
alter function public.profile_owner_subscription(uuid) set plan_cache_mode = force_generic_plan;
alter function public.count_template_use(uuid) set plan_cache_mode = force_generic_plan;
alter function public.profile_member_users(uuid) set plan_cache_mode = force_generic_plan;
alter function public.rate_limit_hit(text, bigint, integer) set plan_cache_mode = force_generic_plan;
alter function public.usage_add(uuid, text, integer, integer, timestamptz, timestamptz) set plan_cache_mode = force_generic_plan;
alter function public.claim_publish_target(uuid, boolean, integer) set plan_cache_mode = force_generic_plan;
alter function public.settle_published_target(uuid, uuid, uuid, timestamptz, text, text, jsonb) set plan_cache_mode = force_generic_plan;
alter function public.post_targets_to_hourly_on_update() set plan_cache_mode = force_generic_plan;
