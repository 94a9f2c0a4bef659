import { AppError, notFound } from "../core/errors.js";
import type { Tx } from "../core/pg.js";

/**
 * 404 unless the caller can see the profile (RLS decides: membership, and a key's own profile only); 403 naming the
 * roles that may, and the caller's own, when they can see it but their role may not (README "Team and roles").
 */
export async function assertProfileRole(tx: Tx, profileId: string, roles: Array<"owner" | "admin">, what: string): Promise<void> {
  const [row] = await tx<{ role: string | null; allowed: boolean }[]>`
    select (select m.role from public.profile_members m
            where m.profile_id = ${profileId} and m.user_id = (select auth.uid()) and m.invitation_status = 'active') as role,
           public.has_profile_role(${profileId}, ${roles}::text[]) as allowed
    where public.has_profile_role(${profileId})`;
  if (!row) throw notFound("Profile");
  if (row.allowed) return;
  const who = roles.length === 1 ? "the profile's owner" : "the profile's owner or an admin";
  const yours = row.role ? `; your role on this profile is ${row.role}` : "";
  throw new AppError("forbidden", `Only ${who} can ${what}${yours}`, { details: { role: row.role, allowedRoles: roles } });
}
