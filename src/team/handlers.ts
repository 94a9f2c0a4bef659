import { route } from "../core/api.js";
import { Reply } from "../core/http.js";
import { brandForProfile } from "../white-label/branding.js";
import { pageOf } from "../core/pagination.js";
import {
  acceptInvitation,
  createInvitation,
  listInvitations,
  mailInvitation,
  resendInvitation,
  revokeInvitation,
} from "./invitations.js";
import { leaveProfile, listMembers, removeMember, transferOwnership, updateMemberRole } from "./members.js";
import {
  createInvitationSchema,
  invitationAcceptedResponse,
  invitationIssuedResponse,
  invitationListResponse,
  listInvitationsQuerySchema,
  listMembersQuerySchema,
  memberChangedResponse,
  memberListResponse,
  ownershipTransferredResponse,
  successResponse,
  transferOwnershipSchema,
  updateMemberSchema,
} from "./schemas.js";
import { serializeInvitation, serializeIssuedInvitation as issued, serializeMember } from "./serialize.js";

// The members of a profile with their name, email and avatar (any member; an API key: its own profile)
export const listMembersRoute = route("GET /api/v1/profiles/:profileId/members", {
  auth: "any",
  query: listMembersQuerySchema,
  response: memberListResponse,
  handle: async ({ db, params, query }) => {
    const page = await db((tx) => listMembers(tx, params.profileId, pageOf(query)));
    return { members: page.rows.map(serializeMember), nextCursor: page.nextCursor };
  },
});

// Change a member's role to admin or member (owner only)
export const updateMemberRoute = route("PATCH /api/v1/profiles/:profileId/members/:memberId", {
  auth: "session",
  body: updateMemberSchema,
  response: memberChangedResponse,
  handle: async ({ db, params, body }) => {
    const member = await db((tx) => updateMemberRole(tx, params.profileId, params.memberId, body.role));
    return { success: true as const, member: serializeMember(member) };
  },
});

// Remove a member (owner only); their API keys for the profile are revoked, what they authored stays
export const removeMemberRoute = route("DELETE /api/v1/profiles/:profileId/members/:memberId", {
  auth: "session",
  response: successResponse,
  handle: async ({ db, params }) => {
    await db((tx) => removeMember(tx, params.profileId, params.memberId));
    return { success: true as const };
  },
});

// Leave a profile (anyone but its owner); your API keys for it are revoked
export const leaveProfileRoute = route("DELETE /api/v1/profiles/:profileId/leave", {
  auth: "session",
  response: successResponse,
  handle: async ({ db, params }) => {
    await db((tx) => leaveProfile(tx, params.profileId));
    return { success: true as const };
  },
});

// Make another member the owner and billing owner (owner only; their plan needs room for the profile, else 402)
export const transferOwnershipRoute = route("POST /api/v1/profiles/:profileId/transfer-ownership", {
  auth: "session",
  body: transferOwnershipSchema,
  response: ownershipTransferredResponse,
  handle: async ({ db, params, body }) => {
    const { previousOwner } = await db((tx) => transferOwnership(tx, params.profileId, body.userId));
    return {
      success: true as const,
      profileId: params.profileId,
      owner: { userId: body.userId },
      previousOwner: { userId: previousOwner, role: "admin" as const },
    };
  },
});

// Pending invitations of a profile (owners and admins)
export const listInvitationsRoute = route("GET /api/v1/profiles/:profileId/invitations", {
  auth: "session",
  query: listInvitationsQuerySchema,
  response: invitationListResponse,
  handle: async ({ db, params, query }) => {
    const page = await db((tx) => listInvitations(tx, params.profileId, pageOf(query)));
    return { invitations: page.rows.map(serializeInvitation), nextCursor: page.nextCursor };
  },
});

// Invite someone by email (owners invite admins and members, admins invite members); the link is in this answer only
export const createInvitationRoute = route("POST /api/v1/profiles/:profileId/invitations", {
  auth: "session",
  body: createInvitationSchema,
  response: invitationIssuedResponse,
  status: [200, 201],
  handle: async ({ db, params, body, services, caller }) => {
    const inv = await db((tx) => createInvitation(tx, services.env.APP_URL, params.profileId, body));
    const mail = await mailInvitation(services.mail, inv, caller.email, await brandForProfile(params.profileId));
    // 201 for a new invitation; 200 when the address's pending one was re-issued (the same id, a fresh link).
    return new Reply(!inv.existing ? 201 : 200, issued(inv, mail));
  },
});

// Send a pending invitation again, with a new link (the previous one stops working) and 7 more days
export const resendInvitationRoute = route("POST /api/v1/profiles/:profileId/invitations/:invitationId/resend", {
  auth: "session",
  response: invitationIssuedResponse,
  handle: async ({ db, params, services, caller }) => {
    const inv = await db((tx) => resendInvitation(tx, services.env.APP_URL, params.profileId, params.invitationId));
    return issued(inv, await mailInvitation(services.mail, inv, caller.email, await brandForProfile(params.profileId)));
  },
});

// Revoke a pending invitation (owners any, admins those for members)
export const revokeInvitationRoute = route("DELETE /api/v1/profiles/:profileId/invitations/:invitationId", {
  auth: "session",
  response: successResponse,
  handle: async ({ db, params }) => {
    await db((tx) => revokeInvitation(tx, params.profileId, params.invitationId));
    return { success: true as const };
  },
});

/** Served by netlify/functions/profiles.ts (the `/api/v1/profiles/*` family). */
export const teamRoutes = [
  listMembersRoute,
  updateMemberRoute,
  removeMemberRoute,
  leaveProfileRoute,
  transferOwnershipRoute,
  listInvitationsRoute,
  createInvitationRoute,
  resendInvitationRoute,
  revokeInvitationRoute,
];

// Accept an invitation as the signed-in user it was sent to
export const acceptInvitationRoute = route("POST /api/v1/invitations/:token/accept", {
  auth: "session",
  response: invitationAcceptedResponse,
  handle: async ({ db, params }) => {
    const accepted = await db((tx) => acceptInvitation(tx, params.token));
    return { success: true as const, profileId: accepted.profileId, role: accepted.role };
  },
});

/** Served by netlify/functions/invitations.ts. */
export const invitationRoutes = [acceptInvitationRoute];
