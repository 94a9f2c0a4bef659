import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv } from "../../src/core/env.js";
import { createMail, resendTransport } from "../../src/core/mail.js";
import { mailInvitation, type IssuedInvitation } from "../../src/team/invitations.js";

/**
 * The mail service's cloud transports, against a local stand-in for Resend and Supabase Auth: what they send, and
 * that a missing or failing provider never fails the invitation (the answer says the mail was not sent).
 */
interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

let server: http.Server;
let base: string;
const seen: Seen[] = [];
let answerStatus = 200;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let text = "";
    req.on("data", (c) => (text += c));
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: text ? JSON.parse(text) : null });
      res.writeHead(answerStatus, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "x" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const cloud = (extra: Record<string, string> = {}) =>
  parseEnv({
    DATABASE_URL: "postgres://u:p@db.example:6543/postgres",
    SUPABASE_URL: base,
    SUPABASE_ANON_KEY: "anon",
    ENCRYPTION_KEY: "a".repeat(64),
    APP_URL: "https://app.example",
    ...extra,
  });

const invitation = (hasAccount: boolean): IssuedInvitation => ({
  id: "00000000-0000-4000-8000-000000000001",
  email: "sam@example.com",
  role: "member",
  expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
  inviteUrl: `https://app.example/invite/${"A".repeat(43)}`,
  existing: false,
  hasAccount,
  profileName: "Acme <Ltd>",
});

describe("the mail service", () => {
  it("without a provider nothing is sent and the result says why; no Supabase invite without the service key", async () => {
    const mail = createMail(cloud());
    expect(mail.inviteNewUser).toBeUndefined();
    const result = await mailInvitation(mail, invitation(false), "olive@example.com");
    expect(result).toEqual({ sent: false, via: null, reason: expect.stringMatching(/RESEND_API_KEY/) });
  });

  it("sends through Resend's API with the key, the sender and the link in text and escaped HTML", async () => {
    seen.length = 0;
    const transport = resendTransport("re_test", "Amplify <team@mail.example>", `${base}/emails`);
    await transport.deliver({ to: "sam@example.com", subject: "s", text: "t", html: "<p>h</p>" });
    expect(seen[0]).toMatchObject({
      method: "POST",
      url: "/emails",
      headers: { authorization: "Bearer re_test", "content-type": "application/json" },
      body: { from: "Amplify <team@mail.example>", to: ["sam@example.com"], subject: "s", text: "t", html: "<p>h</p>" },
    });

    // The invitation's own mail through the service (the transport pointed at the stand-in instead of Resend).
    seen.length = 0;
    const mail = createMail(cloud(), resendTransport("re_live", "team@mail.example", `${base}/emails`));
    const sent = await mailInvitation(mail, invitation(true), "olive@example.com");
    expect(sent).toEqual({ sent: true, via: "resend", reason: null });
    expect(seen[0]!.body.subject).toBe("Join Acme <Ltd> on Amplify Scheduler");
    expect(seen[0]!.body.text).toContain(invitation(true).inviteUrl);
    expect(seen[0]!.body.text).toContain("olive@example.com invited you");
    expect(seen[0]!.body.html).toContain("Acme &#60;Ltd&#62;");
    expect(seen[0]!.body.html).not.toContain("<Ltd>");
  });

  it("a provider error is logged and answered as not sent, never thrown", async () => {
    answerStatus = 500;
    const failing = createMail(cloud(), resendTransport("re_x", "team@mail.example", `${base}/emails`));
    expect(await mailInvitation(failing, invitation(true), undefined)).toEqual({
      sent: false,
      via: null,
      reason: expect.stringMatching(/refused/),
    });
    answerStatus = 200;
  });

  it("invites an address without an account through Supabase Auth's invite, landing on the invite URL", async () => {
    seen.length = 0;
    const mail = createMail(cloud({ SUPABASE_SERVICE_ROLE_KEY: "service-key" }));
    expect(mail.inviteNewUser).toBeTypeOf("function");
    const result = await mailInvitation(mail, invitation(false), "olive@example.com");
    expect(result).toEqual({ sent: true, via: "supabase_invite", reason: null });
    const call = seen[0]!;
    expect(call.method).toBe("POST");
    const url = new URL(call.url, base);
    expect(url.pathname).toBe("/auth/v1/invite");
    expect(url.searchParams.get("redirect_to")).toBe(invitation(false).inviteUrl);
    expect(call.headers).toMatchObject({ apikey: "service-key", authorization: "Bearer service-key" });
    expect(call.body).toEqual({ email: "sam@example.com", data: { invited_to_profile: "Acme <Ltd>", invited_role: "member" } });

    // An address with an account gets the provider's mail instead (none here: not sent, and said so).
    seen.length = 0;
    expect((await mailInvitation(mail, invitation(true), undefined)).sent).toBe(false);
    expect(seen).toHaveLength(0);
    // Turned off, Supabase's invite is not used.
    expect(createMail(cloud({ SUPABASE_SERVICE_ROLE_KEY: "k", MAIL_SUPABASE_INVITES: "false" })).inviteNewUser).toBeUndefined();
  });

  it("when Supabase's invite fails, the provider is tried", async () => {
    answerStatus = 422;
    const mail = createMail(cloud({ SUPABASE_SERVICE_ROLE_KEY: "service-key" }));
    const result = await mailInvitation(mail, invitation(false), undefined);
    expect(result.sent).toBe(false);
    expect(result.reason).toMatch(/RESEND_API_KEY/);
    answerStatus = 200;
  });
});
