import type { Tx } from "../core/db.js";
import { randomToken, sha256Hex } from "../core/crypto.js";
import { AppError, notFound } from "../core/errors.js";
import type { Mail, MailMessage, MailResult } from "../core/mail.js";
import { defaultBrand, type Brand } from "../white-label/branding.js";
import { keysetPage, type Page, type PageSpec } from "../core/pagination.js";
import { callerRole } from "./members.js";
import { invitationTokenPattern } from "./schemas.js";
import type { InvitationRow, IssuedInvitation } from "./serialize.js";

export type { IssuedInvitation } from "./serialize.js";

/**
 * Invitations. The token is 32 random bytes (43 base64url characters), returned once inside `inviteUrl` and stored only
 * as its SHA-256 digest. It is looked up by that digest (as API keys are): no comparison ever runs on the secret
 * itself, and an attacker cannot steer which digest bytes a guess compares against, so response timing says nothing
 * about any valid token. Creating, re-sending and accepting happen only inside definer functions
 * (supabase/migrations/20261206030000_teams.sql); revoking is an update as the caller under RLS.
 */
export const INVITATION_DAYS = 7;


function newToken(appUrl: string) {
  const token = randomToken(32);
  return { hash: sha256Hex(token), url: `${appUrl.replace(/\/+$/, "")}/invite/${token}` };
}

async function profileName(tx: Tx, profileId: string): Promise<string> {
  const [row] = await tx<{ name: string }[]>`select name from public.profiles where id = ${profileId}`;
  if (!row) throw notFound("Profile");
  return row.name;
}

interface IssueOutcome {
  outcome: string;
  invitation_id: string | null;
  email: string | null;
  role: "admin" | "member" | null;
  expires_at: Date | null;
  has_account: boolean | null;
}

/** Owners invite admins and members; admins invite members. Inviting a pending address again re-issues that one. */
export async function createInvitation(
  tx: Tx,
  appUrl: string,
  profileId: string,
  input: { email: string; role: "admin" | "member" },
): Promise<IssuedInvitation> {
  const role = await callerRole(tx, profileId);
  if (role === "member") throw new AppError("forbidden", "Only the profile's owner or an admin can invite people");
  const token = newToken(appUrl);
  const [r] = await tx<IssueOutcome[]>`
    select * from public.create_profile_invitation(${profileId}, ${input.email}, ${input.role}, ${token.hash})`;
  if (r?.outcome === "forbidden") throw new AppError("forbidden", "Admins invite members; only the owner invites admins");
  if (r?.outcome === "already_member") throw new AppError("conflict", `${input.email.toLowerCase()} is already a member of this profile`);
  if (r?.outcome !== "created" && r?.outcome !== "reissued") throw notFound("Profile");
  return {
    id: r.invitation_id!,
    email: r.email!,
    role: r.role!,
    expiresAt: r.expires_at!.toISOString(),
    inviteUrl: token.url,
    existing: r.outcome === "reissued",
    hasAccount: r.has_account === true,
    profileName: await profileName(tx, profileId),
  };
}

/** A new link and 7 more days for a pending invitation (the previous link stops working). */
export async function resendInvitation(tx: Tx, appUrl: string, profileId: string, invitationId: string): Promise<IssuedInvitation> {
  await callerRole(tx, profileId);
  const token = newToken(appUrl);
  const [r] = await tx<(Omit<IssueOutcome, "invitation_id">)[]>`
    select * from public.resend_profile_invitation(${profileId}, ${invitationId}, ${token.hash})`;
  if (r?.outcome === "forbidden") {
    throw new AppError("forbidden", "Only the owner can re-send an admin's invitation; members cannot manage invitations");
  }
  if (r?.outcome !== "resent") throw notFound("Pending invitation");
  return {
    id: invitationId,
    email: r.email!,
    role: r.role!,
    expiresAt: r.expires_at!.toISOString(),
    inviteUrl: token.url,
    existing: true,
    hasAccount: r.has_account === true,
    profileName: await profileName(tx, profileId),
  };
}

/** Pending invitations (expired ones included, flagged), newest first: owners and admins only. */
export async function listInvitations(tx: Tx, profileId: string, page: PageSpec): Promise<Page<InvitationRow>> {
  if ((await callerRole(tx, profileId)) === "member") {
    throw new AppError("forbidden", "Only the profile's owner or an admin can see its invitations");
  }
  return keysetPage(
    tx,
    page,
    (after, take) => tx<InvitationRow[]>`
      select id, email, role, status, invited_by, expires_at, send_count, last_sent_at, created_at,
             (expires_at <= now()) as expired
      from public.profile_invitations
      where profile_id = ${profileId} and status = 'pending' and ${after}
      order by created_at desc, id desc
      limit ${take}`,
  );
}

/** Revokes a pending invitation: owners any, admins those for members (RLS says the same). */
export async function revokeInvitation(tx: Tx, profileId: string, invitationId: string): Promise<void> {
  const role = await callerRole(tx, profileId);
  if (role === "member") throw new AppError("forbidden", "Only the profile's owner or an admin can revoke invitations");
  const [inv] = await tx<{ role: string }[]>`
    select role from public.profile_invitations where id = ${invitationId} and profile_id = ${profileId} and status = 'pending'`;
  if (!inv) throw notFound("Pending invitation");
  if (role === "admin" && inv.role !== "member") throw new AppError("forbidden", "Only the owner can revoke an admin's invitation");
  const updated = await tx`
    update public.profile_invitations set status = 'revoked', revoked_at = now()
    where id = ${invitationId} and profile_id = ${profileId} and status = 'pending'
    returning id`;
  if (!updated.length) throw notFound("Pending invitation");
}

/**
 * Accepts an invitation as the signed-in user: their confirmed email must be the invited one (403), the invitation
 * pending and unexpired (410 Gone, `details.reason` used, revoked or expired), and they not a member already (409).
 */
export async function acceptInvitation(tx: Tx, token: string): Promise<{ profileId: string; role: "admin" | "member" }> {
  if (!invitationTokenPattern.test(token)) throw notFound("Invitation");
  const [r] = await tx<{ outcome: string; profile_id: string | null; role: "admin" | "member" | null }[]>`
    select * from public.accept_profile_invitation(${sha256Hex(token)})`;
  switch (r?.outcome) {
    case "accepted":
      return { profileId: r.profile_id!, role: r.role! };
    case "wrong_email":
      throw new AppError("forbidden", "This invitation was sent to another email address; sign in with that address to accept it");
    case "used":
      throw new AppError("gone", "This invitation has already been used", { details: { reason: "used" } });
    case "revoked":
      throw new AppError("gone", "This invitation was revoked; ask for a new one", { details: { reason: "revoked" } });
    case "expired":
      throw new AppError("gone", `This invitation expired (invitations are valid for ${INVITATION_DAYS} days); ask for a new one`, {
        details: { reason: "expired" },
      });
    case "already_member":
      throw new AppError("conflict", "You are already a member of this profile");
    default:
      throw notFound("Invitation");
  }
}

/**
 * Mails the link: through Supabase Auth's invite mail for an address without an account when available (it creates
 * the user, whose link signs them in and lands on the invite page), otherwise through the mail service (the local
 * mailbox, or the configured provider). Never throws: the result says whether it went.
 */
export async function mailInvitation(
  mail: Mail,
  inv: IssuedInvitation,
  inviter: string | undefined,
  // The profile's branding (src/white-label/branding.ts): a white-labelled account's name, never ours, in its mails.
  brand: Brand = defaultBrand,
): Promise<MailResult> {
  const product = brand.displayName;
  const message = invitationMessage(inv, inviter, brand);
  // Supabase Auth's invite mail speaks in the project's own name: a white-labelled account's invitations go through
  // the mail service first, and use it only when nothing else can send.
  if (brand.whiteLabel) {
    const sent = await mail.send(message);
    if (sent.sent || inv.hasAccount || !mail.inviteNewUser) return sent;
  }
  if (!inv.hasAccount && mail.inviteNewUser) {
    const viaAuth = await mail.inviteNewUser({
      email: inv.email,
      redirectTo: inv.inviteUrl,
      data: { invited_to_profile: inv.profileName, invited_role: inv.role, ...(brand.whiteLabel ? { product } : {}) },
    });
    if (viaAuth.sent || brand.whiteLabel) return viaAuth;
  }
  return mail.send(message);
}

/** The invitation mail, in the profile's branding (sender name, product name, support link). */
function invitationMessage(inv: IssuedInvitation, inviter: string | undefined, brand: Brand): MailMessage {
  const product = brand.displayName;
  const who = inviter ? `${inviter} invited you` : "You are invited";
  const expires = new Date(inv.expiresAt).toUTCString();
  const text = [
    `${who} to join "${inv.profileName}" on ${product} as ${inv.role === "admin" ? "an admin" : "a member"}.`,
    "",
    `Accept the invitation: ${inv.inviteUrl}`,
    "",
    `Sign in (or sign up) with ${inv.email} to accept. The link works once and expires on ${expires}.`,
    "If you did not expect this, ignore this mail.",
    ...(brand.supportUrl ? ["", `Help: ${brand.supportUrl}`] : []),
  ].join("\n");
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const html = `<p>${esc(who)} to join <strong>${esc(inv.profileName)}</strong> on ${esc(product)} as ${
    inv.role === "admin" ? "an admin" : "a member"
  }.</p><p><a href="${esc(inv.inviteUrl)}">Accept the invitation</a></p><p>Sign in (or sign up) with ${esc(
    inv.email,
  )} to accept. The link works once and expires on ${esc(expires)}.</p><p>If you did not expect this, ignore this mail.</p>${
    brand.supportUrl ? `<p><a href="${esc(brand.supportUrl)}">Help</a></p>` : ""
  }`;
  return { to: inv.email, subject: `Join ${inv.profileName} on ${product}`, text, html, fromName: product };
}
