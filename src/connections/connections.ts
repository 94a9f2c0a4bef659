import { randomToken } from "../core/crypto.js";
import { withService, type Tx } from "../core/db.js";
import { env } from "../core/env.js";
import { AppError, notFound, type FieldIssue } from "../core/errors.js";
import { log } from "../core/log.js";
import { assertProfileVisible } from "../profiles/profiles.js";
import { catalog, type Platform } from "../platforms/catalog.js";
import { createPkcePair } from "../platforms/oauth.js";
import { getAdapter } from "../platforms/registry.js";
import { PlatformError, type AccountCredentials, type AccountInfo, type OAuthTokens, type PlatformAdapter } from "../platforms/types.js";
import { connectionColumns, type ConnectionRow } from "./serialize.js";
import { liveCredentials, sealTokens } from "./tokens.js";

/** How long a connect/init link stays usable. */
const STATE_TTL_MINUTES = 15;

export function callbackUrl(platform: Platform): string {
  return `${env().APP_URL.replace(/\/$/, "")}/api/connect/callback/${platform}`;
}

/** Starts the OAuth flow: state and PKCE verifier stored server-side, short-lived and single use. */
export async function startConnect(
  tx: Tx,
  input: { userId: string; profileId: string; platform: Platform; returnUrl: string },
): Promise<string> {
  const adapter = getAdapter(input.platform);
  await assertProfileVisible(tx, input.profileId);
  const state = randomToken(24);
  const { verifier, challenge } = createPkcePair();
  const redirectUri = callbackUrl(input.platform);
  await tx`
    insert into public.oauth_states (state, profile_id, user_id, platform, code_verifier, redirect_uri, return_url, expires_at)
    values (${state}, ${input.profileId}, ${input.userId}, ${input.platform}, ${verifier}, ${redirectUri}, ${input.returnUrl},
            now() + make_interval(mins => ${STATE_TTL_MINUTES}))`;
  return adapter.authorizeUrl({ state, codeChallenge: challenge, redirectUri, scopes: catalog[input.platform].scopes });
}

function withParams(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

interface StateRow {
  profile_id: string;
  user_id: string;
  platform: Platform;
  code_verifier: string;
  redirect_uri: string;
  return_url: string;
}

/**
 * The OAuth callback: consumes the state once, exchanges the code, stores the tokens encrypted and sends the user
 * back to their returnUrl with the outcome in the query (`connected` + `connectionId`, or `error`).
 */
export async function completeConnect(platform: Platform, query: URLSearchParams): Promise<string> {
  const stateValue = query.get("state") ?? "";
  const [state] = await withService(
    (tx) => tx<StateRow[]>`
      update public.oauth_states set used_at = now()
      where state = ${stateValue} and platform = ${platform} and used_at is null and expires_at > now()
      returning profile_id, user_id, platform, code_verifier, redirect_uri, return_url`,
  );
  if (!state) throw new AppError("bad_request", "This connection link has expired or was already used; start again from connect/init");
  const denied = query.get("error");
  if (denied) return withParams(state.return_url, { error: denied, platform });
  const code = query.get("code");
  if (!code) return withParams(state.return_url, { error: "missing_code", platform });
  try {
    const adapter = getAdapter(platform);
    const tokens = await adapter.exchangeCode({ code, codeVerifier: state.code_verifier, redirectUri: state.redirect_uri });
    const account = await adapter.getAccount(tokens.accessToken);
    const connectionId = await saveConnection({ profileId: state.profile_id, userId: state.user_id, platform }, tokens, account);
    return withParams(state.return_url, { connected: platform, connectionId });
  } catch (error) {
    const category = error instanceof PlatformError ? error.category : "unknown";
    log.warn("oauth callback failed", { platform, category, error });
    return withParams(state.return_url, { error: category, platform });
  }
}

/**
 * Stores a connected account with its tokens encrypted (service connection: users cannot write tokens). Connecting
 * the same account to the same profile again updates the existing connection and keeps its settings.
 */
async function saveConnection(
  owner: { profileId: string; userId: string; platform: Platform },
  tokens: OAuthTokens,
  account: AccountInfo,
): Promise<string> {
  const sealed = sealTokens(tokens);
  const [row] = await withService(
    (tx) => tx<{ id: string }[]>`
      insert into public.connections (profile_id, platform, external_account_id, username, display_name, avatar_url,
        access_token_enc, refresh_token_enc, token_expires_at, scopes, metadata, created_by, last_synced_at)
      values (${owner.profileId}, ${owner.platform}, ${account.externalAccountId}, ${account.username},
        ${account.displayName ?? null}, ${account.avatarUrl ?? null}, ${sealed.access_token_enc}, ${sealed.refresh_token_enc},
        ${sealed.token_expires_at}, ${sealed.scopes}, ${tx.json((account.metadata ?? {}) as never)}, ${owner.userId}, now())
      on conflict (profile_id, platform, external_account_id) do update set
        username = excluded.username, display_name = excluded.display_name, avatar_url = excluded.avatar_url,
        access_token_enc = excluded.access_token_enc, refresh_token_enc = excluded.refresh_token_enc,
        token_expires_at = excluded.token_expires_at, scopes = excluded.scopes, metadata = excluded.metadata,
        status = 'connected', last_error = null, last_synced_at = now()
      returning id`,
  );
  return row!.id;
}

/** Whether the caller is an owner or admin of the profile (who may connect, change and remove its accounts). */
async function canManageConnections(tx: Tx, profileId: string): Promise<boolean> {
  const [row] = await tx<{ allowed: boolean }[]>`select public.has_profile_role(${profileId}, array['owner', 'admin']) as allowed`;
  return row?.allowed === true;
}

/** Before connecting without a consent page: the profile is visible and the caller may add accounts to it. */
export async function assertCanConnect(tx: Tx, profileId: string): Promise<void> {
  await assertProfileVisible(tx, profileId);
  // The same answer a member gets from connect/init for a consent flow (the oauth_states policy refuses the row).
  if (!(await canManageConnections(tx, profileId))) throw new AppError("not_found", "Resource not found or not accessible with these credentials");
}

/**
 * Connects a network whose users sign in with an app password (Bluesky), after `assertCanConnect`: no consent page,
 * the connection is created at once and the answer is the returnUrl with the same `connected` + `connectionId` a
 * consent flow ends with. Credentials the network refuses are a 400 naming `credentials` and nothing is stored; the
 * password itself is never stored, only the session the network returns.
 */
export async function connectWithCredentials(input: {
  userId: string;
  profileId: string;
  platform: Platform;
  returnUrl: string;
  credentials: AccountCredentials;
}): Promise<string> {
  const adapter = getAdapter(input.platform);
  const name = catalog[input.platform].displayName;
  if (!adapter.signIn) throw new AppError("bad_request", `${name} connects through its consent page: leave out credentials`);
  try {
    const tokens = await adapter.signIn(input.credentials);
    const account = await adapter.getAccount(tokens.accessToken);
    const connectionId = await saveConnection(input, tokens, account);
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
  const rows = await tx`delete from public.connections where id = ${connectionId} returning id`;
  if (!rows.length) {
    await getConnectionOrThrow(tx, connectionId);
    throw new AppError("forbidden", "Only the profile's owner or an admin can remove a connection");
  }
}

/**
 * Changes a connection's network-specific settings (owner or admin, like removing it). The given keys are merged into
 * the current settings (a key set to null is removed); the result must pass `validSettingsOrThrow`, else a 400 names
 * the field and nothing changes.
 */
export async function updateConnectionSettings(tx: Tx, connectionId: string, changes: Record<string, unknown>): Promise<ConnectionRow> {
  const current = await getConnectionOrThrow(tx, connectionId);
  if (!(await canManageConnections(tx, current.profile_id))) {
    throw new AppError("forbidden", "Only the profile's owner or an admin can change a connection's settings");
  }
  const merged: Record<string, unknown> = { ...current.settings };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  const settings = validSettingsOrThrow(getAdapter(current.platform as Platform), merged, current.metadata);
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
 * Refreshes the token and the account's metadata. A refresh the network rejects marks the connection as needing
 * reconnection (and is reported in its readiness); a transient failure leaves it as it was and answers 503.
 */
export async function syncConnection(connectionId: string): Promise<void> {
  try {
    const credentials = await liveCredentials(connectionId, { force: true });
    const account = await getAdapter(credentials.platform).getAccount(credentials.accessToken);
    await withService(
      (tx) => tx`
        update public.connections set username = ${account.username}, display_name = ${account.displayName ?? null},
          avatar_url = ${account.avatarUrl ?? null}, metadata = ${tx.json((account.metadata ?? {}) as never)},
          last_synced_at = now(), last_error = null
        where id = ${connectionId}`,
    );
  } catch (error) {
    if (error instanceof PlatformError && error.category === "auth_error") return;
    if (error instanceof PlatformError) {
      throw new AppError("service_unavailable", `The network did not answer the sync (${error.category}); try again shortly`);
    }
    throw error;
  }
}
