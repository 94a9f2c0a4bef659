import type { Tx } from "../core/pg.js";
import { serviceDb } from "../core/services.js";
import { log } from "../core/log.js";

/**
 * The branding a profile's people see: its billing owner's (display name, logo, accent colour, support URL) while
 * that owner's subscription carries the white-label add-on, ours otherwise: at once when the add-on is lost
 * (billing_subscriptions.white_label is false from the moment Stripe's subscription stops granting it).
 *
 * Used by the hosted connect pages (src/white-label/connect-pages.ts), invitation mails (sender name and text), the
 * webhook User-Agent, and the dashboard's shell (GET /api/v1/white-label/branding).
 */
export interface Brand {
  /** True when this is a customer's branding (the add-on is held), false for ours. */
  whiteLabel: boolean;
  displayName: string;
  logoUrl: string | null;
  accentColor: string;
  supportUrl: string | null;
}

/** Ours. */
export const defaultBrand: Brand = Object.freeze({
  whiteLabel: false,
  displayName: "Amplify Scheduler",
  logoUrl: null,
  accentColor: "#4338ca",
  supportUrl: null,
});

interface BrandRow {
  display_name: string;
  logo_url: string | null;
  accent_color: string | null;
  support_url: string | null;
}

const brandOf = (row: BrandRow | undefined): Brand =>
  row
    ? {
        whiteLabel: true,
        displayName: row.display_name,
        logoUrl: row.logo_url,
        accentColor: row.accent_color ?? defaultBrand.accentColor,
        supportUrl: row.support_url,
      }
    : defaultBrand;

/** The branding of a billing account (service connection, or the owner's own transaction). */
export async function brandForUser(tx: Tx, userId: string): Promise<Brand> {
  const [row] = await tx<BrandRow[]>`
    select b.display_name, case when b.logo_media_id is not null then b.logo_url end as logo_url, b.accent_color, b.support_url
    from public.white_label_brands b
    join public.billing_subscriptions s on s.user_id = b.user_id and s.white_label
    where b.user_id = ${userId}`;
  return brandOf(row);
}

/** The branding of a profile: its billing owner's (service connection: members cannot read the owner's rows). */
export async function brandForProfileTx(tx: Tx, profileId: string): Promise<Brand> {
  const [row] = await tx<BrandRow[]>`
    select b.display_name, case when b.logo_media_id is not null then b.logo_url end as logo_url, b.accent_color, b.support_url
    from public.profiles p
    join public.billing_subscriptions s on s.user_id = p.created_by and s.white_label
    join public.white_label_brands b on b.user_id = p.created_by
    where p.id = ${profileId}`;
  return brandOf(row);
}

/** As `brandForProfileTx`, on its own service transaction; ours when it cannot be read (branding never breaks a flow). */
export async function brandForProfile(profileId: string): Promise<Brand> {
  try {
    return await serviceDb()((tx) => brandForProfileTx(tx, profileId));
  } catch (error) {
    log.error("branding could not be read; using ours", { profileId, error });
    return defaultBrand;
  }
}

/** Our webhook deliveries' User-Agent. */
export const DEFAULT_WEBHOOK_USER_AGENT = "AmplifyScheduler-Webhooks/1.0";

/**
 * The User-Agent of webhook deliveries for a profile: ours, or `<display name>-Webhooks/1.0` from the white-label
 * display name (reduced to an RFC 9110 token: letters, digits and `-`).
 */
export function webhookUserAgentFor(brand: Brand): string {
  return webhookUserAgentOf(brand.whiteLabel ? brand.displayName : null);
}

/** As `webhookUserAgentFor`, from the display name alone (null: the profile shows ours). */
export function webhookUserAgentOf(displayName: string | null): string {
  if (displayName === null) return DEFAULT_WEBHOOK_USER_AGENT;
  const product = displayName
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40);
  return product ? `${product}-Webhooks/1.0` : "Webhooks/1.0";
}
