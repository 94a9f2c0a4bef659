import { z } from "zod";
import { nextCursorSchema, pageQuerySchema } from "../core/pagination.js";

/** Roles a member can be given; `owner` changes hands only through transfer-ownership. */
export const assignableRoles = ["admin", "member"] as const;
export const memberRoles = ["owner", ...assignableRoles] as const;

const roleSchema = z.enum(assignableRoles, {
  error: "Role must be 'admin' or 'member' (ownership moves with POST …/transfer-ownership)",
});

// GET /api/v1/profiles/{profileId}/members (and …/invitations): keyset pages like every list.
export const listMembersQuerySchema = pageQuerySchema;
export const listInvitationsQuerySchema = pageQuerySchema;

// POST /api/v1/profiles/{profileId}/invitations
export const createInvitationSchema = z.strictObject({
  email: z.string().trim().max(320).pipe(z.email("Not an email address")),
  role: roleSchema,
});

// PATCH /api/v1/profiles/{profileId}/members/{memberId}
export const updateMemberSchema = z.strictObject({ role: roleSchema });

// POST /api/v1/profiles/{profileId}/transfer-ownership
export const transferOwnershipSchema = z.strictObject({ userId: z.uuid() });

/** The accept path's token: what inviteUrl carries (43 base64url characters), nothing else reaches the database. */
export const invitationTokenPattern = /^[A-Za-z0-9_-]{43}$/;

export const memberUserSchema = z.strictObject({
  id: z.uuid(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  avatar_url: z.string().nullable(),
});

export const memberSchema = z.strictObject({
  id: z.uuid(),
  user_id: z.uuid(),
  role: z.enum(memberRoles),
  invited_by: z.uuid().nullable(),
  invitation_status: z.enum(["active", "pending"]),
  permissions: z.record(z.string(), z.unknown()),
  joined_at: z.iso.datetime(),
  user: memberUserSchema,
});

export const memberListResponse = z.strictObject({ members: z.array(memberSchema), nextCursor: nextCursorSchema });
export const memberChangedResponse = z.strictObject({ success: z.literal(true), member: memberSchema });
export const successResponse = z.strictObject({ success: z.literal(true) });

/** What happened to the invitation mail: `sent: false` (with the reason) when no provider took it. */
export const mailResultSchema = z.strictObject({
  sent: z.boolean(),
  reason: z.string().nullable(),
});

/** An invitation as created or re-sent: the only answers that carry the token (inside inviteUrl). */
export const issuedInvitationSchema = z.strictObject({
  id: z.uuid(),
  email: z.string(),
  role: z.enum(assignableRoles),
  expiresAt: z.iso.datetime(),
  inviteUrl: z.url(),
});

export const invitationIssuedResponse = z.strictObject({
  success: z.literal(true),
  invitation: issuedInvitationSchema,
  /** True when the address already had a pending invitation: the same one is returned with a fresh link. */
  existing: z.boolean(),
  mail: mailResultSchema,
});

/** An invitation as listed: never the token. */
export const invitationSchema = z.strictObject({
  id: z.uuid(),
  email: z.string(),
  role: z.enum(assignableRoles),
  status: z.enum(["pending", "accepted", "revoked"]),
  expired: z.boolean(),
  invited_by: z.uuid().nullable(),
  expires_at: z.iso.datetime(),
  send_count: z.number().int(),
  last_sent_at: z.iso.datetime(),
  created_at: z.iso.datetime(),
});

export const invitationListResponse = z.strictObject({ invitations: z.array(invitationSchema), nextCursor: nextCursorSchema });

export const invitationAcceptedResponse = z.strictObject({
  success: z.literal(true),
  profileId: z.uuid(),
  role: z.enum(assignableRoles),
});

export const ownershipTransferredResponse = z.strictObject({
  success: z.literal(true),
  profileId: z.uuid(),
  owner: z.strictObject({ userId: z.uuid() }),
  previousOwner: z.strictObject({ userId: z.uuid(), role: z.literal("admin") }),
});
