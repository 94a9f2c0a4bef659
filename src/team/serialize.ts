import type { MailResult } from "../core/mail.js";

/** The API shapes of members and invitations. */

export interface MemberRow {
  id: string;
  user_id: string;
  role: "owner" | "admin" | "member";
  invited_by: string | null;
  invitation_status: "active" | "pending";
  permissions: Record<string, unknown>;
  joined_at: Date;
  /** For keyset pages: the same instant as joined_at. */
  created_at: Date;
  name: string | null;
  email: string | null;
  avatar_url: string | null;
}

export function serializeMember(m: MemberRow) {
  return {
    id: m.id,
    user_id: m.user_id,
    role: m.role,
    invited_by: m.invited_by,
    invitation_status: m.invitation_status,
    permissions: m.permissions ?? {},
    joined_at: m.joined_at.toISOString(),
    user: { id: m.user_id, name: m.name, email: m.email, avatar_url: m.avatar_url },
  };
}

export interface InvitationRow {
  id: string;
  email: string;
  role: "admin" | "member";
  status: "pending" | "accepted" | "revoked";
  invited_by: string | null;
  expires_at: Date;
  send_count: number;
  last_sent_at: Date;
  created_at: Date;
  /** Pending and past its expiry (by the database's clock, the one acceptance checks). */
  expired: boolean;
}

export function serializeInvitation(i: InvitationRow) {
  return {
    id: i.id,
    email: i.email,
    role: i.role,
    status: i.status,
    expired: i.expired,
    invited_by: i.invited_by,
    expires_at: i.expires_at.toISOString(),
    send_count: i.send_count,
    last_sent_at: i.last_sent_at.toISOString(),
    created_at: i.created_at.toISOString(),
  };
}

export interface IssuedInvitation {
  id: string;
  email: string;
  role: "admin" | "member";
  expiresAt: string;
  inviteUrl: string;
  /** The address already had a pending invitation: this is it, with a fresh link (the previous one no longer works). */
  existing: boolean;
  /** Whether the address has an account (decides the mail channel; never shown to the caller). */
  hasAccount: boolean;
  profileName: string;
}

/** A created or re-sent invitation: the one answer that carries its link, and whether the mail went. */
export function serializeIssuedInvitation(inv: IssuedInvitation, mail: MailResult) {
  return {
    success: true as const,
    invitation: { id: inv.id, email: inv.email, role: inv.role, expiresAt: inv.expiresAt, inviteUrl: inv.inviteUrl },
    existing: inv.existing,
    mail: { sent: mail.sent, reason: mail.reason },
  };
}
