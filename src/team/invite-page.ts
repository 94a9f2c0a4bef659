import type { FetchHandler } from "../local/server.js";
import { invitationTokenPattern } from "./schemas.js";

/**
 * Where an invitation link (`APP_URL/invite/<token>`) lands in the local home until the dashboard serves it: a page
 * saying how to accept. It never looks the token up (accepting needs the invitee's session) and never puts it in
 * anything but this page's own text, escaped.
 */
const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

export function invitePage(origin: string, token: string | undefined): string {
  const valid = token !== undefined && invitationTokenPattern.test(token);
  const accept = valid ? `${origin}/api/v1/invitations/${token}/accept` : "";
  const body = valid
    ? `<p>You have been invited to a profile on Amplify Scheduler. To accept:</p>
<ol>
<li>Sign in (or sign up) with <strong>the email address the invitation was sent to</strong>; another address is refused.</li>
<li>Accept with your session's access token:
<pre>curl -X POST ${escapeHtml(accept)} \\
  -H "Authorization: Bearer $ACCESS_TOKEN"</pre></li>
</ol>
<p>The link works once and expires 7 days after it was sent. Already a member? Accepting answers 409 and changes nothing.</p>`
    : `<p>This is not a valid invitation link. Ask the person who invited you to send it again.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Invitation · Amplify Scheduler</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f}
pre{background:#f3f3f6;padding:.75rem;border-radius:6px;overflow-x:auto}</style></head>
<body><h1>Join a team on Amplify Scheduler</h1>
${body}
</body></html>`;
}

/** The local home's `/invite/<token>` page. */
export const invitePageHandler: FetchHandler = async (req) => {
  const url = new URL(req.url);
  const token = /^\/invite\/([^/]+)\/?$/.exec(url.pathname)?.[1];
  const ok = token !== undefined && invitationTokenPattern.test(token);
  return new Response(req.method === "HEAD" ? null : invitePage(url.origin, token), {
    status: ok ? 200 : 404,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "referrer-policy": "no-referrer" },
  });
};
