import { randomUUID } from "node:crypto";
import type { MailMessage, MailTransport } from "../core/mail.js";
import type { FetchHandler } from "./server.js";

/**
 * The local home's mailbox, as the Supabase CLI's local mail viewer: every mail the app "sends" is kept here (in
 * memory, newest first, at most 500) instead of leaving the machine.
 *
 * - `GET /_local/mailbox`: a page listing them, links clickable;
 * - `GET /_local/mailbox/messages[?to=address]`: the same as JSON (`{ messages: [...] }`), for tests and scripts;
 * - `DELETE /_local/mailbox/messages`: empties it.
 */
export interface StoredMail extends MailMessage {
  id: string;
  receivedAt: string;
}

export interface LocalMailbox {
  transport: MailTransport;
  messages(): readonly StoredMail[];
  handler: FetchHandler;
}

const MAX_MESSAGES = 500;

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const linkify = (escaped: string) => escaped.replace(/https?:\/\/[^\s<&]+/g, (url) => `<a href="${url}">${url}</a>`);

function page(messages: readonly StoredMail[]): string {
  const items = messages
    .map(
      (m) => `<article>
  <h2>${escapeHtml(m.subject)}</h2>
  <p class="meta">To <strong>${escapeHtml(m.to)}</strong> · ${escapeHtml(m.receivedAt)}</p>
  <pre>${linkify(escapeHtml(m.text))}</pre>
</article>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local mailbox · Amplify Scheduler</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f}
article{border:1px solid #d0d0d7;border-radius:8px;padding:1rem;margin:1rem 0}
h2{margin:0;font-size:1.1rem}.meta{color:#55555f;margin:.25rem 0 .75rem}
pre{white-space:pre-wrap;font:inherit;margin:0}a{color:#1f4fd1}
</style></head>
<body><h1>Local mailbox</h1>
<p>Every mail the local home sends lands here instead of leaving this machine (newest first). The same list as JSON:
<a href="/_local/mailbox/messages">/_local/mailbox/messages</a>.</p>
${items || "<p>No mail yet.</p>"}
</body></html>`;
}

export function createMailbox(): LocalMailbox {
  const stored: StoredMail[] = [];
  const transport: MailTransport = {
    name: "local_mailbox",
    async deliver(message) {
      stored.unshift({ id: randomUUID(), receivedAt: new Date().toISOString(), ...message });
      stored.length = Math.min(stored.length, MAX_MESSAGES);
    },
  };
  const handler: FetchHandler = async (req) => {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/$/, "");
    if (path === "/_local/mailbox" && (req.method === "GET" || req.method === "HEAD")) {
      return new Response(page(stored), {
        headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
      });
    }
    if (path === "/_local/mailbox/messages" && req.method === "GET") {
      const to = url.searchParams.get("to")?.toLowerCase();
      const messages = to ? stored.filter((m) => m.to.toLowerCase() === to) : stored;
      return Response.json({ messages }, { headers: { "cache-control": "no-store" } });
    }
    if (path === "/_local/mailbox/messages" && req.method === "DELETE") {
      stored.length = 0;
      return Response.json({ success: true });
    }
    return Response.json({ success: false, error: `Not found: ${url.pathname}`, code: "not_found" }, { status: 404 });
  };
  return { transport, messages: () => stored, handler };
}
