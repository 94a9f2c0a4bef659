import type { Tx } from "../core/pg.js";
import { env } from "../core/env.js";
import { AppError } from "../core/errors.js";
import { assertProfileRole } from "../core/profile-scope.js";

/**
 * Where a connect flow may send the user back. A `returnUrl` is accepted only when its origin
 * is APP_URL's origin or one the profile's owner registered (`public.connect_return_origins`, at most 20 a profile),
 * so the `connectionId` a finished flow carries only ever reaches the app itself or the integrator's own site.
 */

/** Longest origin accepted (the table's check says the same). */
export const MAX_ORIGIN_LENGTH = 200;
/** Longest returnUrl accepted at connect/init. */
export const MAX_RETURN_URL_LENGTH = 2048;
/** How many origins a profile may register (the table's trigger says the same). */
export const MAX_RETURN_ORIGINS = 20;

export const RETURN_ORIGINS_PATH = "/api/v1/connect/return-origins";

const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]"]);
const isLoopbackHost = (hostname: string) => loopbackHosts.has(hostname) || hostname.endsWith(".localhost");
const hostPattern = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])$/;

/** APP_URL's origin: always a valid return origin, never stored. */
export function appOrigin(): string {
  return new URL(env().APP_URL).origin;
}

/** Whether plain-http loopback origins may be registered: only when the app itself runs on a loopback http URL. */
function loopbackHttpAllowed(): boolean {
  const app = new URL(env().APP_URL);
  return app.protocol === "http:" && isLoopbackHost(app.hostname);
}

function invalidOrigin(message: string): AppError {
  return new AppError("validation_error", `Invalid field 'origin': ${message}`, { details: [{ field: "origin", message }] });
}

/**
 * Validates and normalises an origin to register: `https://host[:port]` (or `http://` for a loopback host, only when
 * APP_URL is itself a loopback http URL), nothing after the host but an optional single `/`, no userinfo. Returns it
 * with the host in lowercase (IDNs as punycode) and a default port dropped; throws a 400 naming `origin` otherwise.
 */
export function normaliseOrigin(raw: string): string {
  const given = raw.trim();
  if (given.length > MAX_ORIGIN_LENGTH) throw invalidOrigin(`must be at most ${MAX_ORIGIN_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw invalidOrigin("must be an origin such as https://app.example.com");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw invalidOrigin("must use https");
  if (url.protocol === "http:" && !(isLoopbackHost(url.hostname) && loopbackHttpAllowed())) {
    throw invalidOrigin("must use https (plain http only for localhost when the app itself runs on localhost)");
  }
  if (url.username || url.password || given.slice(url.protocol.length + 2).split("/")[0]!.includes("@")) {
    throw invalidOrigin("must not contain a user name or password");
  }
  if (/[?#]/.test(given) || url.search || url.hash) throw invalidOrigin("must not contain a query or fragment");
  if (url.pathname !== "/" || !/^https?:\/\/[^/]+\/?$/i.test(given)) {
    throw invalidOrigin("must be an origin only (scheme, host and port), without a path");
  }
  if (!hostPattern.test(url.hostname)) throw invalidOrigin("has a host name that is not valid");
  if (url.origin.length > MAX_ORIGIN_LENGTH) throw invalidOrigin(`must be at most ${MAX_ORIGIN_LENGTH} characters`);
  return url.origin;
}

/** The origin of a returnUrl, or undefined when it is not an absolute http(s) URL without userinfo. */
export function originOfReturnUrl(returnUrl: string): string | undefined {
  try {
    const url = new URL(returnUrl);
    if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
    if (url.username || url.password) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

function returnUrlError(message: string): AppError {
  return new AppError("validation_error", `Invalid field 'returnUrl': ${message}`, { details: [{ field: "returnUrl", message }] });
}

/**
 * connect/init's check, run as the caller after the profile is known to be visible: the returnUrl's origin must be
 * APP_URL's or one registered for the profile; otherwise a 400 naming `returnUrl` and how to register it.
 */
export async function assertReturnUrlAllowed(tx: Tx, profileId: string, returnUrl: string): Promise<void> {
  if (returnUrl.length > MAX_RETURN_URL_LENGTH) throw returnUrlError(`must be at most ${MAX_RETURN_URL_LENGTH} characters`);
  const origin = originOfReturnUrl(returnUrl);
  if (!origin) throw returnUrlError("must be an absolute http(s) URL without a user name or password");
  if (origin === appOrigin()) return;
  const [row] = await tx`
    select 1 from public.connect_return_origins where profile_id = ${profileId} and origin = ${origin}`;
  if (row) return;
  throw returnUrlError(
    `the origin ${origin} is not registered for this profile: the profile's owner registers it with ` +
      `POST ${RETURN_ORIGINS_PATH} {"origin":"${origin}"} (or use a URL on ${appOrigin()})`,
  );
}

/** The callback's re-check (service connection): is the stored returnUrl still an allowed target for the profile? */
export async function returnUrlStillAllowed(tx: Tx, profileId: string, returnUrl: string): Promise<boolean> {
  const origin = originOfReturnUrl(returnUrl);
  if (!origin) return false;
  if (origin === appOrigin()) return true;
  const [row] = await tx`
    select 1 from public.connect_return_origins where profile_id = ${profileId} and origin = ${origin}`;
  return Boolean(row);
}

export interface ReturnOriginRow {
  profile_id: string;
  origin: string;
  created_by: string;
  created_at: Date;
}

export function serializeReturnOrigin(row: ReturnOriginRow) {
  return { origin: row.origin, profileId: row.profile_id, createdBy: row.created_by, createdAt: row.created_at.toISOString() };
}

/** 404 unless the caller sees the profile; 403 naming the caller's role unless they are its owner. */
const assertOwner = (tx: Tx, profileId: string) =>
  assertProfileRole(tx, profileId, ["owner"], "change its return origins (signed in, or with an API key the owner created)");

/** The origins registered for a profile the caller can see (any member). */
export async function listReturnOrigins(tx: Tx, profileId: string): Promise<ReturnOriginRow[]> {
  return tx<ReturnOriginRow[]>`
    select profile_id, origin, created_by, created_at from public.connect_return_origins
    where profile_id = ${profileId} order by created_at, origin`;
}

/** Registers an origin for a profile the caller can see (owner only; idempotent). Answers the row and whether it was new. */
export async function addReturnOrigin(
  tx: Tx,
  input: { profileId: string; userId: string; origin: string },
): Promise<{ row: ReturnOriginRow; created: boolean }> {
  await assertOwner(tx, input.profileId);
  const origin = normaliseOrigin(input.origin);
  if (origin === appOrigin()) throw invalidOrigin(`${origin} is the app's own origin, which is always allowed: nothing to register`);
  const [existing] = await tx<ReturnOriginRow[]>`
    select profile_id, origin, created_by, created_at from public.connect_return_origins
    where profile_id = ${input.profileId} and origin = ${origin}`;
  if (existing) return { row: existing, created: false };
  try {
    const [row] = await tx<ReturnOriginRow[]>`
      insert into public.connect_return_origins (profile_id, origin, created_by)
      values (${input.profileId}, ${origin}, ${input.userId})
      returning profile_id, origin, created_by, created_at`;
    return { row: row!, created: true };
  } catch (error) {
    if ((error as { hint?: string }).hint === "connect_return_origins_cap") {
      throw new AppError("conflict", `A profile can register at most ${MAX_RETURN_ORIGINS} return origins: remove one first`);
    }
    throw error;
  }
}

/** Removes a registered origin (owner only). Flows already started towards it are refused at the callback. */
export async function removeReturnOrigin(tx: Tx, profileId: string, rawOrigin: string): Promise<void> {
  await assertOwner(tx, profileId);
  let origin: string;
  try {
    origin = normaliseOrigin(rawOrigin);
  } catch {
    throw new AppError("not_found", "This origin is not registered for the profile");
  }
  const rows = await tx`
    delete from public.connect_return_origins where profile_id = ${profileId} and origin = ${origin} returning origin`;
  if (!rows.length) throw new AppError("not_found", "This origin is not registered for the profile");
}
