import { randomUUID } from "node:crypto";
import { connectScopes } from "../analytics/model.js";
import { randomToken } from "../core/crypto.js";
import { env } from "../core/env.js";
import { AppError, notFound, type FieldIssue } from "../core/errors.js";
import { log } from "../core/log.js";
import type { CallerDb, ServiceDb, Tx } from "../core/pg.js";
import { services, type Services } from "../core/services.js";
import { catalog, type Platform } from "../platforms/catalog.js";
import { createPkcePair } from "../platforms/oauth.js";
import { signsIn } from "../platforms/registry.js";
import { PlatformError, type AccountCredentials, type AccountInfo, type OAuthTokens, type PlatformAdapter } from "../platforms/types.js";
import { browserMatches, callbackPath, clearBindingCookie, newBrowserBinding } from "./browser-binding.js";
import { assertReturnUrlAllowed, returnUrlStillAllowed } from "./return-origins.js";
import { assertProfileRole } from "../core/profile-scope.js";
import { connectionColumns, type ConnectionRow } from "./serialize.js";
import { liveCredentials, sealTokens } from "./tokens.js";
import { adapterForCredentials, adapterForFlow, adapterForNewConnection } from "../white-label/apps.js";

/** The adapters, one per network (`services.platforms`). */
type Platforms = Services["platforms"];

/** How long a connect/init link stays usable (and its browser-binding cookie lives). */
const STATE_TTL_MINUTES = 15;

export function callbackUrl(platform: Platform): string {
  return `${env().APP_URL.replace(/\/$/, "")}${callbackPath(platform)}`;
}

/**
 * Starts the OAuth flow for a profile the caller can see: state and PKCE verifier stored server-side, short-lived and
 * single use (the oauth_states policy admits owners and admins only). The returnUrl must be on APP_URL's origin or one
 * the profile's owner registered (400 otherwise). A flow started by a signed-in browser session is bound to that
 * browser: the answer's `setCookie` must reach it (see browser-binding.ts). A flow started with an API key has no
 * browser to bind to and stays unbound (the README's "Connecting accounts safely").
 */
export async function startConnect(
  tx: Tx,
  platforms: Platforms,
  input: { userId: string; profileId: string; platform: Platform; returnUrl: string; bindToBrowser: boolean },
  // The client the consent is asked for: the profile's white-label app (src/white-label/apps.ts) or ours.
  chosen?: { adapter: PlatformAdapter; appId: string | null },
): Promise<{ url: string; setCookie?: string }> {
  const client = chosen ?? { adapter: await platforms.get(input.platform), appId: null };
  const { adapter } = client;
  // The oauth_states policy would refuse a member's row too; checked first so the answer is a 403 naming the role.
  await assertCanConnect(tx, input.profileId);
  await assertReturnUrlAllowed(tx, input.profileId, input.returnUrl);
  const state = randomToken(24);
  const binding = input.bindToBrowser ? newBrowserBinding(state, input.platform, STATE_TTL_MINUTES * 60) : undefined;
  const { verifier, challenge } = createPkcePair();
  const redirectUri = callbackUrl(input.platform);
  await tx`
    insert into public.oauth_states (state, profile_id, user_id, platform, code_verifier, redirect_uri, return_url,
      browser_nonce_hash, oauth_app_id, expires_at)
    values (${state}, ${input.profileId}, ${input.userId}, ${input.platform}, ${verifier}, ${redirectUri}, ${input.returnUrl},
            ${binding?.nonceHash ?? null}, ${client.appId}, now() + make_interval(mins => ${STATE_TTL_MINUTES}))`;
  const url = adapter.authorizeUrl({ state, codeChallenge: challenge, redirectUri, scopes: connectScopes(input.platform) });
  return { url, setCookie: binding?.setCookie };
}

function withParams(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** An `error` a network sent back, passed on only when it is a plain OAuth error code. */
function networkErrorCode(value: string): string {
  return /^[a-z0-9_.-]{1,64}$/i.test(value) ? value : "authorization_failed";
}

interface StateRow {
  profile_id: string;
  user_id: string;
  platform: Platform;
  code_verifier: string;
  redirect_uri: string;
  return_url: string;
  browser_nonce_hash: string | null;
  oauth_app_id: string | null;
  profile_exists: boolean;
  starter_may_connect: boolean;
}

/** What the callback answers: a redirect, plus the Set-Cookie that clears the browser binding when there was one. */
export interface CallbackOutcome {
  location: string;
  setCookie?: string;
}

/** The callback's refusal when there is no safe returnUrl to send the browser to: a 400, nothing consumed. */
const expiredLink = () =>
  new AppError("bad_request", "This connection link has expired or was already used; start again from connect/init");

type ClaimedState = { kind: "refused"; location: string } | { kind: "consumed"; state: StateRow };

/**
 * Claims a callback's state (service connection, the row locked). It must be unused and unexpired, and:
 *
 * - its returnUrl's origin must still be allowed for the profile (else a 400, no redirect, nothing consumed);
 * - a browser-bound state must come back with its cookie (else back to the returnUrl with `error=browser_mismatch`,
 *   nothing consumed: the person who started the flow can still finish it);
 * - the profile must still exist and the user who started the flow must still be an active owner or admin of it
 *   (else `error=not_authorized`, nothing consumed).
 *
 * Only then is it consumed, once.
 */
async function claimState(serviceDb: ServiceDb, platform: Platform, stateValue: string, cookieHeader: string | null): Promise<ClaimedState> {
  return serviceDb(async (tx): Promise<ClaimedState> => {
    const [state] = await tx<StateRow[]>`
      select s.profile_id, s.user_id, s.platform, s.code_verifier, s.redirect_uri, s.return_url, s.browser_nonce_hash, s.oauth_app_id,
             exists (select 1 from public.profiles p where p.id = s.profile_id) as profile_exists,
             exists (select 1 from public.profile_members m
                     where m.profile_id = s.profile_id and m.user_id = s.user_id
                       and m.invitation_status = 'active' and m.role in ('owner', 'admin')) as starter_may_connect
      from public.oauth_states s
      where s.state = ${stateValue} and s.platform = ${platform} and s.used_at is null and s.expires_at > now()
      for update of s`;
    if (!state) throw expiredLink();
    if (!(await returnUrlStillAllowed(tx, state.profile_id, state.return_url))) {
      throw new AppError("bad_request", "This connection link's return address is no longer allowed for its profile; start again from connect/init");
    }
    const refuse = (error: string, description: string): ClaimedState => ({
      kind: "refused",
      location: withParams(state.return_url, { error, error_description: description, platform }),
    });
    if (state.browser_nonce_hash !== null && !browserMatches(cookieHeader, stateValue, state.browser_nonce_hash)) {
      return refuse(
        "browser_mismatch",
        "This connection was started in another browser: only the person who started it, in the browser they started it in, can finish it",
      );
    }
    if (!state.profile_exists || !state.starter_may_connect) {
      return refuse("not_authorized", "The user who started this connection can no longer connect accounts to this profile");
    }
    await tx`update public.oauth_states set used_at = now() where state = ${stateValue}`;
    return { kind: "consumed", state };
  });
}

/**
 * The OAuth callback: claims the state (`claimState`), exchanges the code, stores the tokens encrypted and sends the
 * browser back to the returnUrl with the outcome in the query (`connected` + `connectionId`, or `error`), clearing the
 * browser-binding cookie when there was one.
 */
export async function completeConnect(
  serviceDb: ServiceDb,
  platforms: Platforms,
  platform: Platform,
  query: URLSearchParams,
  cookieHeader: string | null,
): Promise<CallbackOutcome> {
  const stateValue = query.get("state") ?? "";
  if (!stateValue) throw expiredLink();
  const checked = await claimState(serviceDb, platform, stateValue, cookieHeader);
  if (checked.kind === "refused") return { location: checked.location };
  const { state } = checked;
  const setCookie = state.browser_nonce_hash !== null ? clearBindingCookie(stateValue, platform) : undefined;
  const back = (params: Record<string, string>): CallbackOutcome => ({ location: withParams(state.return_url, params), setCookie });
  const denied = query.get("error");
  if (denied) return back({ error: networkErrorCode(denied), platform });
  const code = query.get("code");
  if (!code) return back({ error: "missing_code", platform });
  try {
    // The client the consent was given to (the flow's white-label app, or ours): the code is bound to it.
    const flow = { profileId: state.profile_id, platform, appId: state.oauth_app_id };
    const adapter = await serviceDb((tx) => adapterForFlow(tx, platforms, flow));
    const tokens = await adapter.exchangeCode({ code, codeVerifier: state.code_verifier, redirectUri: state.redirect_uri });
    const account = await adapter.getAccount(tokens.accessToken);
    const owner = { profileId: state.profile_id, userId: state.user_id, platform, appId: state.oauth_app_id };
    const connectionId = await saveConnection(serviceDb, owner, tokens, account);
    return back({ connected: platform, connectionId });
  } catch (error) {
    if (error instanceof AppError && error.code === "forbidden") return back({ error: "not_authorized", platform });
    const category = error instanceof PlatformError ? error.category : "unknown";
    log.warn("oauth callback failed", { platform, category, error });
    return back({ error: category, platform });
  }
}

/**
 * The last check before a connection is written (service connection, so explicit): the profile exists and the user
 * connecting is an active owner or admin of it. The membership row is locked (FOR SHARE) until the write commits, so
 * removing that member cannot slip in between.
 */
async function assertStarterMayConnect(tx: Tx, owner: { profileId: string; userId: string }): Promise<void> {
  const [row] = await tx`
    select 1 from public.profile_members m join public.profiles p on p.id = m.profile_id
    where m.profile_id = ${owner.profileId} and m.user_id = ${owner.userId}
      and m.invitation_status = 'active' and m.role in ('owner', 'admin')
    for share of m`;
  if (!row) throw new AppError("forbidden", "Only an owner or admin of the profile can connect accounts to it");
}

/**
 * Stores a connected account with its tokens encrypted (service connection: users cannot write tokens). Connecting
 * the same account to the same profile again updates the existing connection and keeps its settings.
 */
async function saveConnection(
  serviceDb: ServiceDb,
  owner: { profileId: string; userId: string; platform: Platform; appId?: string | null },
  tokens: OAuthTokens,
  account: AccountInfo,
): Promise<string> {
  // Tokens are sealed for their row's id (src/core/crypto.ts), so a new row's id is chosen here. Reconnecting an
  // account already in the profile keeps that row's id: its tokens are sealed again for it in the same transaction.
  const newId = randomUUID();
  const sealed = sealTokens(tokens, newId, owner.platform);
  const connectionId = await serviceDb(async (tx) => {
    await assertStarterMayConnect(tx, owner);
    const [row] = await tx<{ id: string }[]>`
      insert into public.connections (id, profile_id, platform, external_account_id, username, display_name, avatar_url,
        access_token_enc, refresh_token_enc, token_expires_at, refresh_token_expires_at, usable_until, tokens_refreshed_at,
        scopes, metadata, created_by, last_synced_at, oauth_app_id)
      values (${newId}, ${owner.profileId}, ${owner.platform}, ${account.externalAccountId}, ${account.username},
        ${account.displayName ?? null}, ${account.avatarUrl ?? null}, ${sealed.access_token_enc}, ${sealed.refresh_token_enc},
        ${sealed.token_expires_at}, ${sealed.refresh_token_expires_at}, ${sealed.usable_until}, ${services().clock.now()},
        ${sealed.scopes}, ${tx.json((account.metadata ?? {}) as never)}, ${owner.userId}, now(),
        ${owner.appId ?? null})
      on conflict (profile_id, platform, external_account_id) do update set
        username = excluded.username, display_name = excluded.display_name, avatar_url = excluded.avatar_url,
        access_token_enc = excluded.access_token_enc, refresh_token_enc = excluded.refresh_token_enc,
        token_expires_at = excluded.token_expires_at, refresh_token_expires_at = excluded.refresh_token_expires_at,
        usable_until = excluded.usable_until, tokens_refreshed_at = excluded.tokens_refreshed_at,
        expiry_warned_7d_for = null, expiry_warned_1d_for = null, scopes = excluded.scopes, metadata = excluded.metadata,
        status = 'connected', last_error = null, last_synced_at = now(), oauth_app_id = excluded.oauth_app_id
      returning id`;
    if (row!.id !== newId) {
      const resealed = sealTokens(tokens, row!.id, owner.platform);
      await tx`
        update public.connections set access_token_enc = ${resealed.access_token_enc}, refresh_token_enc = ${resealed.refresh_token_enc}
        where id = ${row!.id}`;
    }
    return row!.id;
  });
  return connectionId;
}

/** Before connecting (either kind of flow): 404 unless the caller sees the profile, 403 unless owner or admin. */
export async function assertCanConnect(tx: Tx, profileId: string): Promise<void> {
  await assertProfileRole(tx, profileId, ["owner", "admin"], "connect accounts to it");
}

/**
 * Connects a network whose users sign in with an app password (Bluesky), after `assertCanConnect`: no consent page,
 * the connection is created at once and the answer is the returnUrl with the same `connected` + `connectionId` a
 * consent flow ends with. Credentials the network refuses are a 400 naming `credentials` and nothing is stored; the
 * password itself is never stored, only the session the network returns.
 */
export async function connectWithCredentials(serviceDb: ServiceDb, platforms: Platforms, input: {
  userId: string;
  profileId: string;
  platform: Platform;
  returnUrl: string;
  credentials: AccountCredentials;
}): Promise<string> {
  const adapter = await platforms.get(input.platform);
  const name = catalog[input.platform].displayName;
  if (!adapter.signIn) throw new AppError("bad_request", `${name} connects through its consent page: leave out credentials`);
  try {
    const tokens = await adapter.signIn(input.credentials);
    const account = await adapter.getAccount(tokens.accessToken);
    const connectionId = await saveConnection(serviceDb, input, tokens, account);
    return withParams(input.returnUrl, { connected: input.platform, connectionId });
  } catch (error) {
    if (!(error instanceof PlatformError)) throw error;
    log.warn("credentials connect failed", { platform: input.platform, category: error.category, error });
    if (error.category === "auth_error") {
      throw new AppError("validation_error", `${name} did not accept these credentials: ${error.message}`, {
        details: [{ field: "credentials", message: `${name} refused the identifier or app password` }],
      });
    }
    throw new AppError("service_unavailable", `${name} did not answer the sign-in (${error.category}); try again shortly`);
  }
}

function fieldError(field: string, message: string): AppError {
  return new AppError("validation_error", `Invalid field '${field}': ${message}`, { details: [{ field, message }] });
}

/**
 * connect/init, for a profile the caller can see. For a network with a consent page it starts the flow
 * (`startConnect`) and answers its URL, bound to the browser when a signed-in session started it; for a network that
 * signs in with an app password it connects at once (`connectWithCredentials`, on the service connection) and answers
 * the returnUrl with the outcome. Credentials sent to the one kind, or none to the other, are a 400 naming them.
 */
export async function initConnect(
  db: CallerDb,
  serviceDb: ServiceDb,
  platforms: Platforms,
  input: {
    userId: string;
    profileId: string;
    platform: Platform;
    returnUrl: string;
    credentials?: AccountCredentials;
    bindToBrowser: boolean;
  },
): Promise<{ url: string; setCookie?: string }> {
  const contract = catalog[input.platform];
  if (!contract.publish.supported) throw new AppError("bad_request", `${contract.displayName} is not supported: ${contract.notes.join(" ")}`);
  const { credentials, bindToBrowser, ...flow } = input;
  // Answered from the registry's static table: the adapter is loaded only on the path that uses it.
  if (!signsIn(input.platform)) {
    if (credentials) throw fieldError("credentials", `${contract.displayName} connects through its consent page: leave out credentials`);
    // New connections of a white-label account's profiles go through its own app (service connection: its secret).
    const client = await serviceDb((tx) => adapterForNewConnection(tx, platforms, flow.profileId, input.platform));
    return db((tx) => startConnect(tx, platforms, { ...flow, bindToBrowser }, client));
  }
  if (!credentials) throw fieldError("credentials", `${contract.displayName} connects with a handle and an app password: send { identifier, appPassword }`);
  await db(async (tx) => {
    await assertCanConnect(tx, flow.profileId);
    await assertReturnUrlAllowed(tx, flow.profileId, flow.returnUrl);
  });
  return { url: await connectWithCredentials(serviceDb, platforms, { ...flow, credentials }) };
}

/** The profile's connections, newest first. */
export async function listConnections(tx: Tx, profileId: string, platform?: string): Promise<ConnectionRow[]> {
  return tx<ConnectionRow[]>`
    select ${tx.unsafe(connectionColumns)}
    from public.connections
    where profile_id = ${profileId} and ${platform ? tx`platform = ${platform}` : tx`true`}
    order by created_at desc, id desc`;
}

export async function getConnectionOrThrow(tx: Tx, connectionId: string): Promise<ConnectionRow> {
  const [row] = await tx<ConnectionRow[]>`select ${tx.unsafe(connectionColumns)} from public.connections where id = ${connectionId}`;
  if (!row) throw notFound("Connection");
  return row;
}

export async function deleteConnection(tx: Tx, connectionId: string): Promise<void> {
  const current = await getConnectionOrThrow(tx, connectionId);
  await assertProfileRole(tx, current.profile_id, ["owner", "admin"], "remove a connection");
  const rows = await tx`delete from public.connections where id = ${connectionId} returning id`;
  if (!rows.length) throw new AppError("forbidden", "Only the profile's owner or an admin can remove a connection");
}

/**
 * Changes a connection's network-specific settings (owner or admin, like removing it). The given keys are merged into
 * the current settings (a key set to null is removed); the result must pass `validSettingsOrThrow`, else a 400 names
 * the field and nothing changes.
 */
export async function updateConnectionSettings(
  tx: Tx,
  platforms: Platforms,
  connectionId: string,
  changes: Record<string, unknown>,
): Promise<ConnectionRow> {
  const current = await getConnectionOrThrow(tx, connectionId);
  await assertProfileRole(tx, current.profile_id, ["owner", "admin"], "change a connection's settings");
  const merged: Record<string, unknown> = { ...current.settings };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  const settings = validSettingsOrThrow(await platforms.get(current.platform as Platform), merged, current.metadata);
  const [row] = await tx<ConnectionRow[]>`
    update public.connections set settings = ${tx.json(settings as never)} where id = ${connectionId}
    returning ${tx.unsafe(connectionColumns)}`;
  if (!row) throw new AppError("forbidden", "Only the profile's owner or an admin can change a connection's settings");
  return row;
}

/**
 * Settings as the adapter's `settingsSchema` parses them, checked against the account (`checkSettings`, e.g. a
 * Pinterest board the account has). A key the schema does not keep is refused as unknown, never silently dropped.
 * Throws a validation error naming each wrong field as `settings.<key>`.
 */
function validSettingsOrThrow(adapter: PlatformAdapter, settings: Record<string, unknown>, metadata: Record<string, unknown>) {
  const field = (path: PropertyKey[]) => ["settings", ...path.map(String)].join(".");
  const parsed = adapter.settingsSchema.safeParse(settings);
  const issues: FieldIssue[] = parsed.success
    ? [
        ...Object.keys(settings)
          .filter((key) => !Object.hasOwn(parsed.data, key))
          .map((key) => ({ field: field([key]), message: "Unknown setting" })),
        ...(adapter.checkSettings?.(parsed.data, { metadata }) ?? []).map((i) => ({ field: field([i.field]), message: i.message })),
      ]
    : parsed.error.issues.flatMap((i) =>
        i.code === "unrecognized_keys"
          ? i.keys.map((key) => ({ field: field([...i.path, key]), message: "Unknown setting" }))
          : [{ field: field(i.path), message: i.message }],
      );
  if (!parsed.success || issues.length) {
    const first = issues[0]!;
    throw new AppError("validation_error", `Invalid field '${first.field}': ${first.message}`, { details: issues });
  }
  return parsed.data;
}

/**
 * Refreshes the token and the account's metadata of a connection the caller can see, and answers it as it is then. A
 * refresh the network rejects marks the connection as needing reconnection (and is reported in its readiness); a
 * transient failure leaves it as it was and answers 503.
 */
export async function syncConnection(db: CallerDb, serviceDb: ServiceDb, platforms: Platforms, connectionId: string): Promise<ConnectionRow> {
  const visible = await db(async (tx) => {
    const row = await getConnectionOrThrow(tx, connectionId);
    await assertProfileRole(tx, row.profile_id, ["owner", "admin"], "sync a connection");
    return row;
  });
  await refreshAccount(serviceDb, platforms, visible.id, visible.profile_id);
  return db((tx) => getConnectionOrThrow(tx, connectionId));
}

/** The network's side of a sync (service connection: tokens are not readable as the caller). */
async function refreshAccount(serviceDb: ServiceDb, platforms: Platforms, connectionId: string, profileId: string): Promise<void> {
  try {
    const credentials = await liveCredentials(serviceDb, connectionId, { force: true, profileId });
    const adapter = await adapterForCredentials(serviceDb, credentials, platforms);
    const account = await adapter.getAccount(credentials.accessToken);
    await serviceDb(
      (tx) => tx`
        update public.connections set username = ${account.username}, display_name = ${account.displayName ?? null},
          avatar_url = ${account.avatarUrl ?? null}, metadata = ${tx.json((account.metadata ?? {}) as never)},
          last_synced_at = now(), last_error = null
        where id = ${connectionId} and profile_id = ${profileId}`,
    );
  } catch (error) {
    if (error instanceof PlatformError && error.category === "auth_error") return;
    if (error instanceof PlatformError) {
      throw new AppError("service_unavailable", `The network did not answer the sync (${error.category}); try again shortly`);
    }
    throw error;
  }
}
