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
