import type { Tx } from "../core/db.js";
import { AppError } from "../core/errors.js";

/** What a replayed request gets back: the first request's status and body. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

/** Who a key belongs to: keys are unique per profile and user. */
export interface IdempotencyScope {
  profileId: string;
  userId: string;
}

const idempotencyKeyPattern = /^[\x21-\x7e]{1,255}$/;

/** The request's `Idempotency-Key` header, checked (400 naming it when malformed), or null when absent. */
export function idempotencyKeyOf(req: Request): string | null {
  const key = req.headers.get("idempotency-key");
  if (key !== null && !idempotencyKeyPattern.test(key)) {
    throw new AppError("validation_error", "Invalid header 'Idempotency-Key': 1 to 255 printable ASCII characters", {
      details: [{ field: "Idempotency-Key", message: "1 to 255 printable ASCII characters" }],
    });
  }
  return key;
}

/**
 * Claims an Idempotency-Key inside the creating transaction. A repeat with the same body gets the first response
 * back (and creates nothing); the same key with a different body, or while the first request is still running, is
 * a 409.
 */
export async function claimIdempotencyKey(tx: Tx, scope: IdempotencyScope, key: string, hash: string): Promise<StoredResponse | null> {
  const inserted = await tx`
    insert into public.idempotency_keys (profile_id, user_id, idempotency_key, request_hash)
    values (${scope.profileId}, ${scope.userId}, ${key}, ${hash})
    on conflict (profile_id, user_id, idempotency_key) do nothing
    returning id`;
  if (inserted.length) return null;
  const [existing] = await tx<{ request_hash: string; response_status: number | null; response_body: unknown }[]>`
    select request_hash, response_status, response_body from public.idempotency_keys
    where profile_id = ${scope.profileId} and user_id = ${scope.userId} and idempotency_key = ${key}`;
  if (!existing || existing.request_hash !== hash) {
    throw new AppError("conflict", "This Idempotency-Key was already used with a different request body");
  }
  if (existing.response_status === null) throw new AppError("conflict", "A request with this Idempotency-Key is still being processed");
  return { status: existing.response_status, body: existing.response_body };
}

/** Stores the answer a claimed key replays from now on. */
export async function storeIdempotentResponse(tx: Tx, scope: IdempotencyScope, key: string, response: StoredResponse): Promise<void> {
  await tx`
    update public.idempotency_keys set response_status = ${response.status}, response_body = ${tx.json(response.body as never)}
    where profile_id = ${scope.profileId} and user_id = ${scope.userId} and idempotency_key = ${key}`;
}
