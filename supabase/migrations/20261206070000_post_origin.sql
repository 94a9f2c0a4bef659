-- ---------------------------------------------------------------------------------------------------------------------
-- Where a post came from: the template it was made from (alongside the recurring schedule and occurrence that the
-- recurring_schedules migration added). Deleting a template keeps its posts (history), unlinked: the composite FK sets
-- only template_id to null, never profile_id.
-- ---------------------------------------------------------------------------------------------------------------------
alter table public.posts
  add column template_id uuid,
  add constraint posts_template_fkey foreign key (template_id, profile_id)
    references public.templates (id, profile_id) on delete set null (template_id);

create index posts_template_id_idx on public.posts (template_id) where template_id is not null;

grant insert (template_id) on public.posts to amplify_api;
