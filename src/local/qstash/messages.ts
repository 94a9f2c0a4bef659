import { isUtf8 } from "node:buffer";
import type postgres from "postgres";
import { json } from "../emulator.js";
import { type MessageState, qstashError } from "./settings.js";

/** `GET|DELETE /v2/messages/:id` and `DELETE /v2/messages?messageIds=…`. */

export interface MessageRow {
  id: string;
  url: string;
  method: string;
  header: Record<string, string[]>;
  body: Buffer;
  max_retries: number;
  retried: number;
  state: MessageState;
  not_before: Date;
  created_at: Date;
  response_status: number | null;
  response_body: string | null;
  last_error: string | null;
}

/**
 * `GET /v2/messages/:id`: QStash's `Message` shape. QStash forgets a message once it is delivered or moved to the DLQ;
 * the emulator keeps it and adds its `state` and `retried` count, plus the last response as a DLQ entry would show it.
 */
export async function getMessage(sql: postgres.Sql, id: string): Promise<Response> {
  const [m] = await sql<MessageRow[]>`
    select id, url, method, header, body, max_retries, retried, state, not_before, created_at,
           response_status, response_body, last_error
    from local_qstash.messages where id = ${id}`;
  if (!m) throw qstashError(404, "message not found");
  const utf8 = isUtf8(m.body);
  return json(200, {
    messageId: m.id,
    url: m.url,
    method: m.method,
    header: m.header,
    ...(utf8 ? { body: m.body.toString("utf8") } : { bodyBase64: m.body.toString("base64") }),
    maxRetries: m.max_retries,
    notBefore: m.not_before.getTime(),
    createdAt: m.created_at.getTime(),
    state: m.state,
    retried: m.retried,
    ...(m.response_status !== null ? { responseStatus: m.response_status } : {}),
    ...(m.response_body !== null ? { responseBody: m.response_body } : {}),
    ...(m.last_error !== null ? { error: m.last_error } : {}),
  });
}

/** Cancels messages not delivered yet; one being delivered right now gets no further attempt. */
export async function cancelIds(sql: postgres.Sql, ids: string[]): Promise<number> {
  const rows = await sql`
    update local_qstash.messages set state = 'CANCELED', lease_until = null, updated_at = now()
    where id in ${sql(ids)} and state in ('CREATED', 'RETRY', 'ACTIVE')
    returning id`;
  return rows.length;
}

/** `DELETE /v2/messages/:id`: `{ cancelled: 1 }`, or 404 when QStash no longer holds it (unknown or finished). */
export async function cancelOne(sql: postgres.Sql, id: string): Promise<Response> {
  if ((await cancelIds(sql, [id])) === 0) throw qstashError(404, "message not found");
  return json(200, { cancelled: 1 });
}

/** `DELETE /v2/messages?messageIds=…`; filters and `all` are not emulated. */
export async function cancelMany(sql: postgres.Sql, search: URLSearchParams): Promise<Response> {
  const ids = search.getAll("messageIds");
  if (ids.length === 0) throw qstashError(400, "only cancelling by messageIds is supported by the local QStash emulator");
  return json(200, { cancelled: await cancelIds(sql, ids) });
}
