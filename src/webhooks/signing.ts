import { createHmac, randomBytes } from "node:crypto";

/**
 * Webhook signing. Each delivery carries two signatures over the exact body sent:
 *
 * - `X-Webhook-Signature`: hex HMAC-SHA256 of the body, keyed with the secret string as the customer holds it (the
 *   contract's receiver example: `createHmac('sha256', secret).update(JSON.stringify(req.body))`; the body is compact
 *   `JSON.stringify` output, so re-serialising the parsed body gives the same bytes).
 * - Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`): HMAC-SHA256 of
 *   `${id}.${timestamp}.${body}`, keyed with the secret's bytes: for a `whsec_<base64>` secret the decoded base64
 *   (what the Standard Webhooks libraries do), for any other secret its UTF-8 bytes. The timestamp makes a captured
 *   delivery useless for a replay outside the receiver's tolerance window.
 */

export const SECRET_PREFIX = "whsec_";

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks: 24 to 64 bytes). */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString("base64")}`;
}

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The key bytes Standard Webhooks verifiers derive from the secret. */
export function standardWebhooksKey(secret: string): Buffer {
  if (secret.startsWith(SECRET_PREFIX)) {
    const encoded = secret.slice(SECRET_PREFIX.length);
    if (encoded.length > 0 && base64Pattern.test(encoded)) return Buffer.from(encoded, "base64");
  }
  return Buffer.from(secret, "utf8");
}

/** The contract's signature: hex HMAC-SHA256 of the body with the secret string as the key. */
export function contractSignature(secret: string, body: string): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/** The Standard Webhooks `v1` signature (base64, without the `v1,` prefix). */
export function standardSignature(secret: string, id: string, timestampSeconds: number, body: string): string {
  return createHmac("sha256", standardWebhooksKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest("base64");
}

/** Every signature header for one attempt of one delivery. */
export function signatureHeaders(secret: string, id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    "x-webhook-signature": contractSignature(secret, body),
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": `v1,${standardSignature(secret, id, timestampSeconds, body)}`,
  };
}
