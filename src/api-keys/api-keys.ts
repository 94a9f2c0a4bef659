import { effectivePlan, isPaidActive, plans } from "../core/plans.js";
import { API_KEY_PREFIX } from "../core/auth.js";
import { randomToken, sha256Hex } from "../core/crypto.js";
import type { Tx } from "../core/db.js";
import { AppError, notFound } from "../core/errors.js";
import { keysetPage, type Page, type PageSpec } from "../core/pagination.js";

export interface ApiKeyRow {
  id: string;
  name: string;
  profile_id: string;
  key_suffix: string;
  status: string;
  created_at: Date;
  last_used_at: Date | null;
}

export const SUFFIX_LENGTH = 8;

/** A key as lists show it: the key itself is only ever shown as `...<suffix>`. */
export function serializeApiKey(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    key: `...${k.key_suffix}`,
    profile_id: k.profile_id,
    status: k.status,
    created_at: k.created_at.toISOString(),
    last_used_at: k.last_used_at?.toISOString() ?? null,
  };
}

/** A new key: `ak_` + 32 random bytes, URL-safe. Only its SHA-256 and last characters are ever stored. */
export function generateApiKey() {
  const key = `${API_KEY_PREFIX}${randomToken(32)}`;
  return { key, hash: sha256Hex(key), suffix: key.slice(-SUFFIX_LENGTH) };
}

export async function listApiKeys(tx: Tx, filter: { profileId?: string }, page: PageSpec): Promise<Page<ApiKeyRow>> {
  return keysetPage(tx, page, (after, take) => tx<ApiKeyRow[]>`
    select id, name, profile_id, key_suffix, status, created_at, last_used_at
    from public.api_keys
    where user_id = (select auth.uid())
      and ${filter.profileId ? tx`profile_id = ${filter.profileId}` : tx`true`}
      and ${after}
    order by created_at desc, id desc
    limit ${take}`);
}

/** Creating a key needs an active paid subscription ; 402 otherwise. */
async function assertKeysAllowed(tx: Tx, userId: string): Promise<void> {
  const [billing] = await tx<{ status: string; plan: string }[]>`
    select status, plan from public.billing_subscriptions where user_id = ${userId}`;
  const status = billing?.status ?? "free";
  const plan = billing?.plan ?? "free";
  if (!isPaidActive(status, plan) || !plans[effectivePlan(status, plan)].apiKeys) {
    throw new AppError("subscription_required", "API keys need an active paid subscription; upgrade in the dashboard first");
  }
}

export async function createApiKey(tx: Tx, userId: string, input: { name: string; profileId: string }) {
  await assertKeysAllowed(tx, userId);
  const [profile] = await tx`select id from public.profiles where id = ${input.profileId}`;
  if (!profile) throw notFound("Profile");
  const generated = generateApiKey();
  const [row] = await tx<ApiKeyRow[]>`
    insert into public.api_keys (user_id, profile_id, name, key_hash, key_suffix)
    values (${userId}, ${input.profileId}, ${input.name}, ${generated.hash}, ${generated.suffix})
    returning id, name, profile_id, key_suffix, status, created_at, last_used_at`;
  return { row: row!, key: generated.key };
}

/** Revokes one of the caller's keys; the next request with it gets 401. Revoking twice is harmless. */
export async function revokeApiKey(tx: Tx, keyId: string): Promise<void> {
  const [row] = await tx<{ id: string }[]>`
    update public.api_keys
    set status = 'revoked', revoked_at = coalesce(revoked_at, now())
    where id = ${keyId} and user_id = (select auth.uid())
    returning id`;
  if (!row) throw notFound("API key");
}
