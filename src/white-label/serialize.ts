import type { Brand } from "./branding.js";
import type { AppListRow, BrandingRow } from "./white-label.js";

/** Branding as the owner's API shows it. */
export function serializeBranding(row: BrandingRow) {
  return {
    displayName: row.display_name,
    logoMediaId: row.logo_media_id,
    logoUrl: row.logo_media_id ? row.logo_url : null,
    accentColor: row.accent_color,
    supportUrl: row.support_url,
    updatedAt: row.updated_at.toISOString(),
  };
}

/** An app as the API shows it: never its secret (which amplify_api cannot even read). */
export function serializeApp(row: AppListRow) {
  return {
    id: row.id,
    platform: row.platform,
    clientId: row.client_id,
    hasClientSecret: true as const,
    options: row.options ?? {},
    validatedAt: row.validated_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** The branding a profile's people see (ours unless its billing owner holds the add-on). */
export function serializeBrand(brand: Brand) {
  return {
    whiteLabel: brand.whiteLabel,
    displayName: brand.displayName,
    logoUrl: brand.logoUrl,
    accentColor: brand.accentColor,
    supportUrl: brand.supportUrl,
  };
}
