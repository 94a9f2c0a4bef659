// Amplify Scheduler webhook receiver, TypeScript edition: a copy-paste example with no dependencies (Node 18+,
// @types/node). Run it with any TypeScript runtime, e.g.
//
//   WEBHOOK_SECRET=your_webhook_secret npx tsx webhook-receiver.example.ts
//
// Listens on PORT (default 3000) for POST /webhook, verifies the X-Webhook-Signature header (hex HMAC-SHA256 of the
// body with your endpoint's secret) and, when present, the Standard Webhooks headers (webhook-id, webhook-timestamp,
// webhook-signature) that protect against replays. Accepts post.published, post.failed and post.scheduled, answers
// 200 OK and logs the event. Other event types are acknowledged (200) and skipped.
//
// Point a webhook endpoint at the public URL of /webhook (e.g. through a tunnel such as ngrok), or, against the local
// home (`npm start`), at http://localhost:3000/webhook directly.

import crypto from 'node:crypto';
import http from 'node:http';

/** The body Amplify Scheduler sends (contract: "Webhook Payload Format"). */
interface WebhookEvent {
  event_type: string;
  timestamp: string;
  profile_id: string;
  data: { post_id?: string; platform?: string; content?: string; published_at?: string | null; external_post_id?: string; [field: string]: unknown };
}

const WEBHOOK_SECRET: string = process.env.WEBHOOK_SECRET ?? '';
const PORT = Number(process.env.PORT || 3000);
/** Deliveries whose webhook-timestamp is further than this from now are refused (Standard Webhooks: 5 minutes). */
const TOLERANCE_SECONDS = 5 * 60;
const HANDLED_EVENTS = new Set(['post.published', 'post.failed', 'post.scheduled']);

if (!WEBHOOK_SECRET) {
  console.error('Set WEBHOOK_SECRET to your webhook endpoint\'s signing secret.');
  process.exit(1);
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}

// X-Webhook-Signature: hex HMAC-SHA256 of the body. Amplify Scheduler sends compact JSON, so the raw body and
// JSON.stringify(JSON.parse(body)) are the same bytes; verifying the raw body is the robust choice.
function verifyWebhook(rawBody: string, signature: string | string[] | undefined, secret: string): boolean {
  if (typeof signature !== 'string') return false;
  const expected = crypto.createHmac('sha256', secret).update(rawBody).digest('hex');
  return safeEqual(signature, expected);
}

// Standard Webhooks: base64 HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${body}`, keyed with the secret's
// bytes (a whsec_ secret is base64 after the prefix). A stale or future timestamp is refused, so a captured delivery
// cannot be replayed later.
const WHSEC = /^whsec_(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$/;
function verifyStandardWebhook(rawBody: string, headers: http.IncomingHttpHeaders, secret: string): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const key = WHSEC.test(secret) ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret);
  const expected = crypto.createHmac('sha256', key).update(`${id}.${timestamp}.${rawBody}`).digest('base64');
  return signatures.split(' ').some((s) => s.startsWith('v1,') && safeEqual(s.slice(3), expected));
}

// webhook-id is the same on every retry of one event: remember recent ones to process each event once.
const seen = new Set<string>();
function firstTime(id: string | undefined): boolean {
  if (!id) return true;
  if (seen.has(id)) return false;
  seen.add(id);
  if (seen.size > 10000) seen.delete(seen.values().next().value!);
  return true;
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/webhook') {
    res.writeHead(404).end('Not found');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const rawBody = Buffer.concat(chunks).toString('utf8');
    if (!verifyWebhook(rawBody, req.headers['x-webhook-signature'], WEBHOOK_SECRET)) {
      console.warn('Rejected: invalid X-Webhook-Signature');
      res.writeHead(401).end('Invalid signature');
      return;
    }
    if (req.headers['webhook-signature'] && !verifyStandardWebhook(rawBody, req.headers, WEBHOOK_SECRET)) {
      console.warn('Rejected: invalid or stale webhook-signature');
      res.writeHead(401).end('Invalid signature');
      return;
    }
    let event: WebhookEvent;
    try {
      event = JSON.parse(rawBody) as WebhookEvent;
    } catch {
      res.writeHead(400).end('Invalid JSON');
      return;
    }
    const id = typeof req.headers['webhook-id'] === 'string' ? req.headers['webhook-id'] : undefined;
    if (!firstTime(id)) {
      console.log(`Duplicate ${event.event_type} (webhook-id ${id}), already processed`);
    } else if (HANDLED_EVENTS.has(event.event_type)) {
      // Process the webhook here: look up event.data.post_id in your system, notify someone, and so on.
      console.log(`Received ${event.event_type} (webhook-id ${id}) for post ${event.data?.post_id}`);
      console.log(JSON.stringify(event, null, 2));
    } else {
      console.log(`Ignored ${event.event_type} (webhook-id ${id})`);
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
  });
});

server.listen(PORT, () => {
  console.log(`Webhook receiver listening on http://localhost:${PORT}/webhook`);
});
