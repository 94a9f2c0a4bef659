import { AppError, notFound } from "../core/errors.js";
import type { ServiceDb, Tx } from "../core/pg.js";
import { callbackUrl } from "../connections/connections.js";
import { appOptionSchemas, newAppId, sealAppSecret, validateApp, type AppPlatform } from "./apps.js";
import type { AppBody, BrandingBody } from "./schemas.js";

/**
 * The white-label settings of a billing account, managed by its owner only (a browser session; RLS lets amplify_api
 * read and write only the caller's own rows, and write them only while the add-on is held).
 */

export interface BrandingRow {
  display_name: string;
  logo_media_id: string | null;
  logo_url: string | null;
  accent_color: string | null;
  support_url: string | null;
  updated_at: Date;
}

export interface AppListRow {
  id: string;
  platform: AppPlatform;
  client_id: string;
  options: Record<string, unknown>;
  validated_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface Account {
  userId: string;
  active: boolean;
}

/**
 * The account a request manages: the caller's own, or, with `profileId`, that profile's billing owner's, which must be
 * the caller (404 when the profile is not visible, 403 for every other member, admins included). Then 402 unless the
 * account holds the white-label add-on (`requireAddOn`).
 */
export async function managedAccount(tx: Tx, callerId: string, profileId: string | undefined, requireAddOn = true): Promise<Account> {
  if (profileId) {
    const [profile] = await tx<{ created_by: string }[]>`select created_by from public.profiles where id = ${profileId}`;
    if (!profile) throw notFound("Profile");
    if (profile.created_by !== callerId) {
      throw new AppError("forbidden", "Only the profile's billing owner (the subscription holder) can manage its white-label settings", {
        details: { reason: "not_billing_owner" },
      });
    }
  }
  const [row] = await tx<{ white_label: boolean; white_label_apps_until: Date | null }[]>`
    select white_label, white_label_apps_until from public.billing_subscriptions where user_id = ${callerId}`;
  const active = row?.white_label ?? false;
  if (requireAddOn && !active) {
    throw new AppError(
      "subscription_required",
      "White-label is an add-on (£49/workspace/month): add it to your subscription in billing to manage branding and apps",
      {
        details: {
          addOn: "white_label",
          appsUsableUntil: row?.white_label_apps_until && row.white_label_apps_until > new Date() ? row.white_label_apps_until.toISOString() : null,
        },
      },
    );
  }
  return { userId: callerId, active };
}

export async function getBranding(tx: Tx, userId: string): Promise<BrandingRow | undefined> {
  const [row] = await tx<BrandingRow[]>`
    select display_name, logo_media_id, logo_url, accent_color, support_url, updated_at
    from public.white_label_brands where user_id = ${userId}`;
  return row;
}

export async function listApps(tx: Tx, userId: string): Promise<AppListRow[]> {
  return tx<AppListRow[]>`
    select id, platform, client_id, options, validated_at, created_at, updated_at
    from public.white_label_apps where user_id = ${userId} order by platform`;
}

const logoTypes = new Set(["image/png", "image/jpeg", "image/webp", "image/gif"]);

function fieldError(field: string, message: string): AppError {
  return new AppError("validation_error", `Invalid field '${field}': ${message}`, { details: [{ field, message }] });
}

/** Saves the whole branding (a field left out is cleared). The logo must be an image in one of the owner's profiles. */
export async function saveBranding(tx: Tx, userId: string, body: BrandingBody): Promise<BrandingRow> {
  let logoUrl: string | null = null;
  const logoMediaId = body.logoMediaId ?? null;
  if (logoMediaId) {
    const [media] = await tx<{ public_url: string; mime_type: string }[]>`
      select m.public_url, m.mime_type from public.media m join public.profiles p on p.id = m.profile_id
      where m.id = ${logoMediaId} and p.created_by = ${userId}`;
    if (!media) throw fieldError("logoMediaId", "No media with this id in your profiles (upload the logo like any media first)");
    if (!logoTypes.has(media.mime_type)) throw fieldError("logoMediaId", "The logo must be a PNG, JPEG, WebP or GIF image");
    logoUrl = media.public_url;
  }
  const values = {
    display_name: body.displayName,
    logo_media_id: logoMediaId,
    logo_url: logoUrl,
    accent_color: body.accentColor ?? null,
    support_url: body.supportUrl ?? null,
  };
  const [updated] = await tx<BrandingRow[]>`
    update public.white_label_brands set ${tx(values)} where user_id = ${userId}
    returning display_name, logo_media_id, logo_url, accent_color, support_url, updated_at`;
  if (updated) return updated;
  const [created] = await tx<BrandingRow[]>`
    insert into public.white_label_brands ${tx({ user_id: userId, ...values })}
    returning display_name, logo_media_id, logo_url, accent_color, support_url, updated_at`;
  return created!;
}

/** Connections (in any profile) made with an app: their tokens are bound to its client. */
async function connectionsUsing(serviceDb: ServiceDb, appId: string): Promise<number> {
  const [row] = await serviceDb((tx) => tx<{ n: number }[]>`select count(*)::int as n from public.connections where oauth_app_id = ${appId}`);
  return row!.n;
}

/** The network extras, checked for the network (400 naming `options.<key>`). */
export function parseAppOptions(platform: AppPlatform, options: Record<string, unknown>): Record<string, unknown> {
  const parsed = appOptionSchemas[platform].safeParse(options);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.flatMap((i) =>
    i.code === "unrecognized_keys"
      ? i.keys.map((k) => ({ field: `options.${k}`, message: `Not an option of this network's app` }))
      : [{ field: ["options", ...i.path.map(String)].join("."), message: i.message }],
  );
  throw new AppError("validation_error", `Invalid field '${details[0]!.field}': ${details[0]!.message}`, { details });
}

/**
 * Saves the account's app for a network after the network accepted it (`validateApp`). Replacing the secret keeps the
 * app (its connections go on with the new secret); changing the client id of an app that connections use is refused
 * (409): their tokens belong to the old client. Nothing is written when any check fails.
 */
export async function saveApp(
  db: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>,
  serviceDb: ServiceDb,
  account: Account,
  platform: AppPlatform,
  body: AppBody,
): Promise<{ row: AppListRow; created: boolean }> {
  const options = parseAppOptions(platform, body.options);
  const existing = await db(async (tx) => {
    const [row] = await tx<{ id: string; client_id: string }[]>`
      select id, client_id from public.white_label_apps where user_id = ${account.userId} and platform = ${platform}`;
    return row;
  });
  if (existing && existing.client_id !== body.clientId) {
    const used = await connectionsUsing(serviceDb, existing.id);
    if (used > 0) {
      throw new AppError(
        "conflict",
        `${used} connection(s) were made with this app's client id; their tokens belong to it. Remove or reconnect them before changing the client id (a new secret for the same client id is fine)`,
        { details: { connections: used } },
      );
    }
  }
  await validateApp(platform, { clientId: body.clientId, clientSecret: body.clientSecret, options }, callbackUrl(platform));
  return db(async (tx) => {
    const id = existing?.id ?? newAppId();
    const fields = {
      client_id: body.clientId,
      client_secret_enc: sealAppSecret(body.clientSecret, id),
      options: tx.json(options as never),
      validated_at: new Date(),
    };
    const columns = "id, platform, client_id, options, validated_at, created_at, updated_at";
    if (existing) {
      const [row] = await tx<AppListRow[]>`
        update public.white_label_apps set ${tx(fields)} where id = ${id} returning ${tx.unsafe(columns)}`;
      if (!row) throw new AppError("conflict", "The app changed while it was being saved; try again");
      return { row, created: false };
    }
    const [row] = await tx<AppListRow[]>`
      insert into public.white_label_apps ${tx({ id, user_id: account.userId, platform, ...fields })}
      returning ${tx.unsafe(columns)}`;
    return { row: row!, created: true };
  });
}

/** Removes the account's app for a network: 404 when there is none, 409 while connections made with it remain. */
export async function deleteApp(
  db: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>,
  serviceDb: ServiceDb,
  account: Account,
  platform: AppPlatform,
): Promise<void> {
  const existing = await db(async (tx) => {
    const [row] = await tx<{ id: string }[]>`
      select id from public.white_label_apps where user_id = ${account.userId} and platform = ${platform}`;
    return row;
  });
  if (!existing) throw notFound("App");
  const used = await connectionsUsing(serviceDb, existing.id);
  if (used > 0) {
    throw new AppError(
      "conflict",
      `${used} connection(s) were made with this app and refresh and publish through it; remove or reconnect them first`,
      { details: { connections: used } },
    );
  }
  await db(async (tx) => {
    // Not while a connection uses it (checked again here, in the same statement as the delete).
    const rows = await tx`
      delete from public.white_label_apps a where a.id = ${existing.id}
        and not exists (select 1 from public.connections c where c.oauth_app_id = a.id)
      returning a.id`;
    if (!rows.length) throw new AppError("conflict", "A connection was just made with this app; remove or reconnect it first");
  });
}
