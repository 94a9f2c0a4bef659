import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnv } from "../../src/core/env.js";
import { createMail, resendTransport, senderOf } from "../../src/core/mail.js";
import { mailInvitation, type IssuedInvitation } from "../../src/team/invitations.js";
import type { Brand } from "../../src/white-label/branding.js";

/**
 * Invitation mails of a white-labelled account through the cloud transports (a local stand-in for Resend and Supabase
 * Auth): the sender's display name and the text are the customer's, and an address without an account gets the
 * provider's mail rather than Supabase Auth's invite (which speaks in the project's name) whenever the provider sends.
 */
interface Seen {
  url: string;
  body: any;
}

let server: http.Server;
let base: string;
const seen: Seen[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let text = "";
    req.on("data", (c) => (text += c));
    req.on("end", () => {
      seen.push({ url: req.url!, body: text ? JSON.parse(text) : null });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "x" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const cloud = parseEnv({
  DATABASE_URL: "postgres://u:p@db.example:6543/postgres",
  SUPABASE_URL: "http://127.0.0.1:9",
  SUPABASE_ANON_KEY: "anon",
  SUPABASE_SERVICE_ROLE_KEY: "service-key",
  ENCRYPTION_KEY: "a".repeat(64),
  APP_URL: "https://app.example",
});

const brand: Brand = { whiteLabel: true, displayName: "Acme Social", logoUrl: null, accentColor: "#0a7c55", supportUrl: "https://help.acme.example/" };

const invitation: IssuedInvitation = {
  id: "00000000-0000-4000-8000-000000000001",
  email: "sam@example.com",
  role: "member",
  expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
  inviteUrl: `https://app.example/invite/${"A".repeat(43)}`,
  existing: false,
  hasAccount: false,
  profileName: "Launch",
};

describe("white-label invitation mails", () => {
  it("go out in the customer's name, through the provider even for an address without an account", async () => {
    seen.length = 0;
    const mail = createMail(cloud, resendTransport("re_live", "Amplify <team@mail.example>", `${base}/emails`));
    const sent = await mailInvitation(mail, invitation, "olive@example.com", brand);
    expect(sent).toEqual({ sent: true, via: "resend", reason: null });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body).toMatchObject({ from: '"Acme Social" <team@mail.example>', subject: "Join Launch on Acme Social" });
    expect(seen[0]!.body.text).toContain("https://help.acme.example/");
    expect(JSON.stringify(seen[0]!.body).replace("team@mail.example", "")).not.toMatch(/amplify/i);
  });

  it("builds the sender from MAIL_FROM's address and the display name, safely", () => {
    expect(senderOf("team@mail.example", "Acme")).toBe('"Acme" <team@mail.example>');
    expect(senderOf("Amplify <team@mail.example>", 'A "quoted"\r\nBcc: x')).toBe('"A quotedBcc: x" <team@mail.example>');
    expect(senderOf("team@mail.example", undefined)).toBe("team@mail.example");
  });
});
