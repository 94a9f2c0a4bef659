/**
 * The body of a delivery: the event's payload exactly as the contract's "Webhook Payload Format" has it
 * (`event_type`, `timestamp`, `profile_id`, `data`), serialised as compact `JSON.stringify` output. Postgres' jsonb
 * keeps keys sorted by length; here they are put back in the contract's reading order, then the rest. Because the
 * body is `JSON.stringify` of a plain object, `JSON.stringify(JSON.parse(body)) === body`, which is what lets the
 * contract's receiver (it signs the re-serialised parsed body) verify our signature.
 */
const topOrder = ["event_type", "timestamp", "profile_id", "data"];
const dataOrder = [
  "post_id",
  "target_id",
  "platform",
  "content",
  "published_at",
  "external_post_id",
  "url",
  "scheduled_at",
  "error_message",
  "error_category",
  "attempts",
  "targets",
  "connection_id",
  "username",
  "external_account_id",
  "reason",
  "webhook_id",
];

function ordered(value: Record<string, unknown>, order: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of order) if (key in value) out[key] = value[key];
  for (const key of Object.keys(value)) if (!(key in out)) out[key] = value[key];
  return out;
}

export function serializeEventBody(payload: Record<string, unknown>): string {
  const top = ordered(payload, topOrder);
  if (top.data && typeof top.data === "object" && !Array.isArray(top.data)) {
    top.data = ordered(top.data as Record<string, unknown>, dataOrder);
  }
  return JSON.stringify(top);
}
