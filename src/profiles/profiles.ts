import type { Tx } from "../core/db.js";
import { literal } from "../core/pg.js";
import { AppError, notFound } from "../core/errors.js";
import { keysetSql, pageOfRows, type Page, type PageSpec } from "../core/pagination.js";
import { effectivePlan, plans, profileLimit } from "../core/plans.js";

export interface ProfileRow {
  id: string;
  name: string;
  description: string | null;
  timezone: string;
  role: string;
  created_at: Date;
  updated_at: Date;
}

/** The API shape of a profile, with the caller's own role in it. */
export function serializeProfile(p: ProfileRow) {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    timezone: p.timezone,
    role: p.role,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
  };
}

/** Every profile read: the columns, and the caller's own membership (its role) joined in. */
const selectProfilesSql = `
  select p.id, p.name, p.description, p.timezone, p.created_at, p.updated_at, m.role
  from public.profiles p
  join public.profile_members m on m.profile_id = p.id and m.user_id = (select auth.uid())`;

/**
 * The list's one statement, as text (it has no parameters): a page of the profiles the caller can see (RLS decides: a
 * key sees its one profile), newest first. `listProfiles` runs it in the caller's transaction; an API key's request
 * sends it in one message with the key lookup (the route's `apiKeyRead`). Its rows make the page with `pageOfRows`.
 */
export function listProfilesSql(page: PageSpec): string {
  const { where, take } = keysetSql(page, { createdAt: "p.created_at", id: "p.id" });
  return `${selectProfilesSql}
    where ${where}
    order by p.created_at desc, p.id desc
    limit ${take}`;
}

/** Profiles the caller can see, newest first, keyset-paginated. */
export async function listProfiles(tx: Tx, page: PageSpec): Promise<Page<ProfileRow>> {
  return pageOfRows(await tx.unsafe<ProfileRow[]>(listProfilesSql(page)), page);
}

export async function getProfileOrThrow(tx: Tx, profileId: string): Promise<ProfileRow> {
  return profileOrThrow(await tx.unsafe<ProfileRow[]>(getProfileSql(profileId)));
}

/** One profile the caller can see, as text (its id a literal: one round trip), for `runAs` or a one-message read. */
export function getProfileSql(profileId: string): string {
  return `${selectProfilesSql} where p.id = ${literal(profileId)}::uuid`;
}

/** The profile `getProfileSql` read, or 404 when the caller cannot see it (or it does not exist). */
export function profileOrThrow(rows: readonly ProfileRow[]): ProfileRow {
  const [row] = rows;
  if (!row) throw notFound("Profile");
  return row;
}

/**
 * Creates a profile owned by the caller, refusing when the plan's profile allowance is used up. A transaction-scoped
 * advisory lock on the user serialises concurrent creations, so two requests cannot both take the last slot.
 */
export async function createProfile(tx: Tx, userId: string, input: { name: string; description?: string | null; timezone?: string }) {
  await tx`select pg_advisory_xact_lock(hashtextextended(${"profiles:" + userId}, 0))`;
  const [billing] = await tx<{ status: string; plan: string; extra_profiles: number }[]>`
    select status, plan, extra_profiles from public.billing_subscriptions where user_id = ${userId}`;
  const plan = effectivePlan(billing?.status ?? "free", billing?.plan ?? "free");
  const limit = profileLimit(plan, billing?.extra_profiles ?? 0);
  if (limit !== null) {
    const [{ owned } = { owned: 0 }] = await tx<{ owned: number }[]>`
      select count(*)::int as owned from public.profiles where created_by = ${userId}`;
    if (owned >= limit) {
      throw new AppError(
        "plan_limit_reached",
        `The ${plans[plan].name} plan allows ${limit} profile${limit === 1 ? "" : "s"}; upgrade or add a profile pack to create more`,
        { details: { limit: "profiles", max: limit, current: owned, plan } },
      );
    }
  }
  const [createdRow] = await tx<{ id: string }[]>`
    select id from public.create_profile(${input.name}, ${input.description ?? null}, ${input.timezone ?? "UTC"})`;
  return getProfileOrThrow(tx, createdRow!.id);
}

export async function updateProfile(
  tx: Tx,
  profileId: string,
  patch: { name?: string; description?: string | null; timezone?: string },
): Promise<ProfileRow> {
  const current = await getProfileOrThrow(tx, profileId);
  if (current.role === "member") throw new AppError("forbidden", "Only the profile's owner or an admin can change it");
  const [updated] = await tx`
    update public.profiles set
      name = ${patch.name ?? current.name},
      description = ${patch.description === undefined ? current.description : patch.description},
      timezone = ${patch.timezone ?? current.timezone}
    where id = ${profileId}
    returning id`;
  if (!updated) throw notFound("Profile");
  return getProfileOrThrow(tx, profileId);
}

export async function deleteProfile(tx: Tx, profileId: string): Promise<void> {
  const current = await getProfileOrThrow(tx, profileId);
  if (current.role !== "owner") throw new AppError("forbidden", "Only the profile's owner can delete it");
  const deleted = await tx`delete from public.profiles where id = ${profileId} returning id`;
  if (!deleted.length) throw notFound("Profile");
}
