import type { Tx } from "../core/db.js";
import { AppError, notFound } from "../core/errors.js";
import { keysetPage, type Page, type PageSpec } from "../core/pagination.js";
import { billingStatuses, EXTRA_PROFILE_PACK_SIZE, effectivePlan, plans, profileLimit } from "../core/plans.js";
import type { MemberRow } from "./serialize.js";

/**
 * Members of a profile, as the caller (RLS: only profiles they belong to). Names, emails and avatars come from
 * Supabase Auth's user records through `public.profile_member_users`, which exposes those four fields only, and only
 * for members of a profile the caller belongs to.
 */
const selectMembers = (tx: Tx, profileId: string) => tx`
  select m.id, m.user_id, m.role, m.invited_by, m.invitation_status, m.permissions, m.joined_at,
         m.joined_at as created_at, u.name, u.email, u.avatar_url
  from public.profile_members m
  left join public.profile_member_users(${profileId}) u on u.id = m.user_id
  where m.profile_id = ${profileId}`;

/** The caller's role in a profile; 404 when they cannot see it (not a member, or an API key of another profile). */
export async function callerRole(tx: Tx, profileId: string): Promise<MemberRow["role"]> {
  const [row] = await tx<{ role: MemberRow["role"] }[]>`
    select m.role from public.profile_members m
    where m.profile_id = ${profileId} and m.user_id = (select auth.uid()) and m.invitation_status = 'active'`;
  if (!row) throw notFound("Profile");
  return row.role;
}

export async function listMembers(tx: Tx, profileId: string, page: PageSpec): Promise<Page<MemberRow>> {
  await callerRole(tx, profileId);
  return keysetPage(
    tx,
    page,
    (after, take) => tx<MemberRow[]>`
      ${selectMembers(tx, profileId)} and ${after}
      order by m.joined_at desc, m.id desc
      limit ${take}`,
    { createdAt: "m.joined_at", id: "m.id" },
  );
}

async function memberOrThrow(tx: Tx, profileId: string, memberId: string): Promise<MemberRow> {
  const [row] = await tx<MemberRow[]>`${selectMembers(tx, profileId)} and m.id = ${memberId}`;
  if (!row) throw notFound("Member");
  return row;
}

const ownerOnly = (what: string) => new AppError("forbidden", `Only the profile's owner can ${what}`);
const ownerRowRefused = () =>
  new AppError("bad_request", "The owner's membership changes only by transferring ownership (POST …/transfer-ownership)");

/** Owner only: change another member's role to admin or member (RLS: owners, never the owner row). */
export async function updateMemberRole(tx: Tx, profileId: string, memberId: string, role: "admin" | "member"): Promise<MemberRow> {
  if ((await callerRole(tx, profileId)) !== "owner") throw ownerOnly("change members' roles");
  const target = await memberOrThrow(tx, profileId, memberId);
  if (target.role === "owner") throw ownerRowRefused();
  const updated = await tx`
    update public.profile_members set role = ${role} where id = ${memberId} and profile_id = ${profileId} returning id`;
  if (!updated.length) throw notFound("Member");
  return memberOrThrow(tx, profileId, memberId);
}

/**
 * Owner only: remove another member. Their API keys for the profile are revoked and `member.removed` is written by
 * triggers in this transaction; what they authored (posts, media, webhooks) stays.
 */
export async function removeMember(tx: Tx, profileId: string, memberId: string): Promise<void> {
  if ((await callerRole(tx, profileId)) !== "owner") throw ownerOnly("remove members");
  const target = await memberOrThrow(tx, profileId, memberId);
  if (target.role === "owner") throw ownerRowRefused();
  const deleted = await tx`delete from public.profile_members where id = ${memberId} and profile_id = ${profileId} returning id`;
  if (!deleted.length) throw notFound("Member");
}

/** Anyone but the owner leaves (the owner transfers ownership first, or deletes the profile). */
export async function leaveProfile(tx: Tx, profileId: string): Promise<void> {
  if ((await callerRole(tx, profileId)) === "owner") {
    throw new AppError("bad_request", "The owner cannot leave; transfer ownership first (POST …/transfer-ownership) or delete the profile");
  }
  const deleted = await tx`
    delete from public.profile_members where profile_id = ${profileId} and user_id = (select auth.uid()) returning id`;
  if (!deleted.length) throw notFound("Profile");
}

let limitsByState: Record<string, number | null> | undefined;

/** Each subscription state's profile allowance before packs ('<status>:<plan>' → count, null unlimited), from the plan table. */
function profileAllowances(): Record<string, number | null> {
  if (limitsByState) return limitsByState;
  const entries: [string, number | null][] = [];
  for (const status of billingStatuses) {
    for (const plan of Object.keys(plans)) entries.push([`${status}:${plan}`, profileLimit(effectivePlan(status, plan), 0)]);
  }
  return (limitsByState = Object.fromEntries(entries));
}

/**
 * Owner only: make an active member the owner and billing owner (profiles.created_by); the old owner becomes admin.
 * The new owner's plan must have room for one more profile (402 otherwise), checked in the same database function
 * that moves it, under the per-user lock profile creation takes.
 */
export async function transferOwnership(tx: Tx, profileId: string, newOwnerId: string): Promise<{ previousOwner: string }> {
  await callerRole(tx, profileId);
  const [me] = await tx<{ id: string }[]>`select (select auth.uid())::text as id`;
  const [r] = await tx<{ outcome: string; plan: string | null; max_profiles: number | null; owned: number | null }[]>`
    select * from public.transfer_profile_ownership(${profileId}, ${newOwnerId}, ${tx.json(profileAllowances())}, ${EXTRA_PROFILE_PACK_SIZE})`;
  switch (r?.outcome) {
    case "transferred":
      return { previousOwner: me!.id };
    case "forbidden":
      throw ownerOnly("transfer ownership");
    case "same_user":
      throw new AppError("bad_request", "You already own this profile; name another member's userId");
    case "no_room":
      throw new AppError(
        "plan_limit_reached",
        `The new owner's plan has no room for another profile (${r.owned ?? 0} of ${r.max_profiles ?? 0}); they need to upgrade or add a profile pack first`,
        { details: { limit: "profiles", max: r.max_profiles ?? 0, current: r.owned ?? 0, plan: r.plan ?? "free" } },
      );
    default:
      throw notFound("Member");
  }
}
