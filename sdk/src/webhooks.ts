import { createHmac, timingSafeEqual } from "node:crypto";
import type { webhooks } from "./schema.js";
import { AmplifyError } from "./errors.js";

/** Every webhook event body, as the OpenAPI document's `webhooks` section describes it. */
export type WebhookEvent = {
  [K in keyof webhooks]: webhooks[K] extends { post: { requestBody?: { content: { "application/json": infer B } } } } ? B : never;
}[keyof webhooks];

export type WebhookEventType = WebhookEvent["event_type"];

const SECRET_PREFIX = "whsec_";

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The `X-Webhook-Signature` scheme: hex HMAC-SHA256 of the raw body, keyed with the secret string. */
export function verifyContractSignature(body: string, signature: string | null | undefined, secret: string): boolean {
  if (!signature) return false;
  return sameText(createHmac("sha256", secret).update(body).digest("hex"), signature.trim().toLowerCase());
}

/** The key Standard Webhooks derives from a secret: the base64 after `whsec_`, or the secret's UTF-8 bytes. */
function standardKey(secret: string): Buffer {
  if (secret.startsWith(SECRET_PREFIX)) {
    const encoded = secret.slice(SECRET_PREFIX.length);
    if (/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded) && encoded.length > 0) return Buffer.from(encoded, "base64");
  }
  return Buffer.from(secret, "utf8");
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The Standard Webhooks scheme: `webhook-signature` holds one or more `v1,<base64>` signatures of
 * `{webhook-id}.{webhook-timestamp}.{body}`; `webhook-timestamp` must be within `toleranceSeconds` of now (replays of a
 * captured delivery are refused).
 */
export function verifyStandardSignature(
  body: string,
  headers: HeaderSource,
  secret: string,
  options: { toleranceSeconds?: number; now?: Date } = {},
): boolean {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures || !/^\d+$/.test(timestamp)) return false;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? 300)) return false;
  const expected = createHmac("sha256", standardKey(secret)).update(`${id}.${timestamp}.${body}`).digest("base64");
  return signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",", 2);
    return version === "v1" && value !== undefined && sameText(value, expected);
  });
}

/**
 * Verifies a delivery (the raw body as received, and its headers) and returns the parsed event. Checks the Standard
 * Webhooks signature when its headers are present (it also refuses replays), else `X-Webhook-Signature`; with
 * `scheme: "both"` both must hold. Throws AmplifyError (`code: "invalid_signature"`) when it does not verify.
 */
export function verifyWebhook(
  body: string | Buffer,
  headers: HeaderSource,
  secret: string,
  options: { scheme?: "auto" | "standard" | "contract" | "both"; toleranceSeconds?: number; now?: Date } = {},
): WebhookEvent {
  const text = typeof body === "string" ? body : body.toString("utf8");
  const scheme = options.scheme ?? "auto";
  const hasStandard = header(headers, "webhook-signature") !== undefined;
  const standard = () => verifyStandardSignature(text, headers, secret, options);
  const contract = () => verifyContractSignature(text, header(headers, "x-webhook-signature"), secret);
  const ok =
    scheme === "standard" ? standard()
    : scheme === "contract" ? contract()
    : scheme === "both" ? standard() && contract()
    : hasStandard ? standard()
    : contract();
  if (!ok) {
    throw new AmplifyError({ status: 0, code: "invalid_signature", message: "The webhook signature does not verify (wrong secret, altered body, or a stale timestamp)" });
  }
  return JSON.parse(text) as WebhookEvent;
}
