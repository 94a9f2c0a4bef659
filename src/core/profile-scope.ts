import type { Caller } from "./auth.js";
import { AppError, notFound } from "./errors.js";
import type { Tx } from "./pg.js";

/**
 * The profile a request acts on. An API key acts on its own profile (a `profileId` it sends must be that one:
 * anything else answers 404, as for any resource it cannot see); a browser session must say which profile.
 */
export function resolveProfileId(caller: Caller, given: string | undefined): string {
  if (caller.kind === "apiKey") {
    if (given !== undefined && given !== caller.profileId) throw new AppError("not_found", "Profile not found");
    return caller.profileId;
  }
  if (!given) {
    throw new AppError("validation_error", "Invalid field 'profileId': required when signed in with a session", {
      details: [{ field: "profileId", message: "Required when signed in with a session" }],
    });
  }
  return given;
}

/** 404 unless the caller can see the profile (RLS decides: membership, and a key's own profile only). */
export async function assertProfileVisible(tx: Tx, profileId: string): Promise<void> {
  const [profile] = await tx`select id from public.profiles where id = ${profileId}`;
  if (!profile) throw notFound("Profile");
}

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
