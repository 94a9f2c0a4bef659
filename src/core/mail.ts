import type { Env } from "./env.js";
import { log } from "./log.js";

/**
 * Outgoing mail (`services().mail`). One interface, three transports chosen by the environment, never by the feature:
 *
 * - the local home hands in its mailbox (src/local/mailbox.ts) through `configureServices({ mail })`: every message is
 *   kept and listed at `/_local/mailbox`, so flows that mail someone work offline;
 * - in the cloud, a transactional provider when `RESEND_API_KEY` and `MAIL_FROM` are set (Resend's HTTP API);
 * - and, for addresses without an account, Supabase Auth's own invite mail (`inviteNewUser`, needs
 *   `SUPABASE_SERVICE_ROLE_KEY`), which also creates the user so the link signs them in.
 *
 * Without any of them nothing is sent and the result says so (`sent: false` with a reason): callers that hand out a
 * link (invitations) still answer it, so the person can pass it on themselves. Sending never throws.
 */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The sender's display name (a white-labelled account's name); the address stays MAIL_FROM's. */
  fromName?: string;
}

/** MAIL_FROM with the message's sender name: `"Name" <address>` (MAIL_FROM may itself be `Name <address>`). */
export function senderOf(mailFrom: string, fromName: string | undefined): string {
  if (!fromName) return mailFrom;
  const address = /<([^>]+)>\s*$/.exec(mailFrom)?.[1] ?? mailFrom.trim();
  const name = fromName.replace(/[\r\n"\\<>]/g, "").trim();
  return name ? `"${name}" <${address}>` : mailFrom;
}

export interface MailResult {
  sent: boolean;
  /** Which transport took it; null when none did. */
  via: "local_mailbox" | "resend" | "supabase_invite" | null;
  /** Why it was not sent, when it was not. */
  reason: string | null;
}

/** Something that delivers a message, or throws. */
export interface MailTransport {
  readonly name: "local_mailbox" | "resend";
  deliver(message: MailMessage): Promise<void>;
}

export interface Mail {
  send(message: MailMessage): Promise<MailResult>;
  /**
   * Supabase Auth's invite mail for an address that has no account yet (it creates the user; the mail's link signs
   * them in and lands on `redirectTo`). Undefined where it is not available (the local home, or no service key): use
   * `send` then.
   */
  inviteNewUser?: (input: { email: string; redirectTo: string; data?: Record<string, unknown> }) => Promise<MailResult>;
}

const RESEND_URL = "https://api.resend.com/emails";

/** Resend's HTTP API (https://resend.com/docs/api-reference/emails/send-email). */
export function resendTransport(apiKey: string, from: string, url = RESEND_URL): MailTransport {
  return {
    name: "resend",
    async deliver(message) {
      const res = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ from: senderOf(from, message.fromName), to: [message.to], subject: message.subject, text: message.text, html: message.html }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`Resend answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    },
  };
}

/** The mail service for an environment; `local` is the local home's mailbox when it configured one. */
export function createMail(e: Env, local?: MailTransport): Mail {
  const transport = local ?? (e.RESEND_API_KEY && e.MAIL_FROM ? resendTransport(e.RESEND_API_KEY, e.MAIL_FROM) : undefined);
  const mail: Mail = {
    async send(message) {
      if (!transport) {
        return {
          sent: false,
          via: null,
          reason: "No mail provider is configured (set RESEND_API_KEY and MAIL_FROM); share the link yourself",
        };
      }
      try {
        await transport.deliver(message);
        return { sent: true, via: transport.name, reason: null };
      } catch (error) {
        log.error("mail not sent", { error, transport: transport.name });
        return { sent: false, via: null, reason: "The mail provider refused the message; share the link yourself" };
      }
    },
  };
  const serviceKey = e.SUPABASE_SERVICE_ROLE_KEY;
  if (!local && serviceKey && e.MAIL_SUPABASE_INVITES) {
    mail.inviteNewUser = async ({ email, redirectTo, data }) => {
      try {
        const url = new URL(`${e.SUPABASE_URL.replace(/\/$/, "")}/auth/v1/invite`);
        url.searchParams.set("redirect_to", redirectTo);
        const res = await fetch(url, {
          method: "POST",
          headers: { apikey: serviceKey, authorization: `Bearer ${serviceKey}`, "content-type": "application/json" },
          body: JSON.stringify({ email, data: data ?? {} }),
          signal: AbortSignal.timeout(10_000),
        });
        if (!res.ok) throw new Error(`Supabase Auth answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
        return { sent: true, via: "supabase_invite", reason: null };
      } catch (error) {
        log.error("Supabase invite mail not sent", { error });
        return { sent: false, via: null, reason: "Supabase Auth did not send the invite mail; share the link yourself" };
      }
    };
  }
  return mail;
}
