import { expect } from "vitest";
import type { TestHome } from "../helpers/home.js";
import { signUp, type TestUser } from "../helpers/users.js";

export interface Mail {
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  receivedAt: string;
}

/** The local mailbox's messages for an address, newest first (GET /_local/mailbox/messages?to=). */
export async function mailsTo(t: TestHome, email: string): Promise<Mail[]> {
  const res = await t.call("GET", `/_local/mailbox/messages?to=${encodeURIComponent(email)}`);
  expect(res.status).toBe(200);
  return res.body.messages as Mail[];
}

/** The invitation token in an invite URL. */
export const tokenOf = (inviteUrl: string) => new URL(inviteUrl).pathname.split("/").at(-1)!;

export async function invite(t: TestHome, by: TestUser, profileId: string, email: string, role: "admin" | "member" = "member") {
  return t.call("POST", `/api/v1/profiles/${profileId}/invitations`, { token: by.token, body: { email, role } });
}

/** Invites a new user and has them accept: returns the user and their member id. */
export async function addMember(
  t: TestHome,
  owner: TestUser,
  profileId: string,
  role: "admin" | "member" = "member",
): Promise<{ user: TestUser; memberId: string }> {
  const user = await signUp(t);
  const invited = await invite(t, owner, profileId, user.email, role);
  expect(invited.status, JSON.stringify(invited.body)).toBe(201);
  const accepted = await t.call("POST", `/api/v1/invitations/${tokenOf(invited.body.invitation.inviteUrl)}/accept`, { token: user.token });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
  const [row] = await t.sql<{ id: string }[]>`
    select id from public.profile_members where profile_id = ${profileId} and user_id = ${user.id}`;
  return { user, memberId: row!.id };
}
