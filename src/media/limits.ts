import { catalog, platformIds, type Platform } from "../platforms/catalog.js";

/**
 * What media we take and how large it may be, as data. The types are the ones every network that takes media agrees
 * on and whose bytes we can recognise (src/media/sniff.ts); which network takes which of them comes from the
 * capability catalog. Sizes come from `mediaSizeLimits` below: our own ceiling per kind, lowered where a network
 * publishes a lower limit (the rows below: e.g. X takes images up to 5 MB, Bluesky up to 1,000,000 bytes).
 */
export const mediaTypes = {
  "image/jpeg": { kind: "image", label: "JPEG image", extension: "jpg" },
  "image/png": { kind: "image", label: "PNG image", extension: "png" },
  "image/gif": { kind: "image", label: "GIF image", extension: "gif" },
  "image/webp": { kind: "image", label: "WebP image", extension: "webp" },
  "video/mp4": { kind: "video", label: "MP4 video", extension: "mp4" },
  "video/quicktime": { kind: "video", label: "QuickTime (MOV) video", extension: "mov" },
} as const satisfies Record<string, { kind: MediaKind; label: string; extension: string }>;

export type MediaKind = "image" | "video";
export type MediaType = keyof typeof mediaTypes;
export const mediaTypeIds = Object.keys(mediaTypes) as [MediaType, ...MediaType[]];

const MB = 1024 * 1024;
const GB = 1024 * MB;

/**
 * The one size table. `default` is our ceiling per kind (what the bucket takes at most); a network's row lowers it
 * for a kind or for one exact type. A value above the default changes nothing: the default still applies.
 */
export const mediaSizeLimits: { default: Record<MediaKind, number> } & Partial<Record<Platform, Partial<Record<MediaKind | MediaType, number>>>> = {
  default: { image: 8 * MB, video: 1 * GB },
  twitter: { image: 5 * MB, "image/gif": 15 * MB },
  linkedin: { image: 5 * MB, video: 500 * MB },
  instagram: { image: 8 * MB, video: 300 * MB },
  facebook: { image: 4 * MB },
  threads: { image: 8 * MB },
  bluesky: { image: 1_000_000, video: 100 * MB },
  // The networks' own limits, above our 1 GB ceiling (which therefore applies): YouTube takes 256 GB (or 12 hours),
  // TikTok 4 GB. Both re-upload (YouTube always, TikTok unless it pulls from a verified prefix) without holding the
  // file: byte ranges from Storage, resumable chunks, a slice per attempt (src/media/transfer.ts).
  youtube: { video: 256 * GB },
  tiktok: { video: 4 * GB },
};

/** The largest file any upload may be (the Storage bucket's own limit). */
export const largestMediaBytes = Math.max(...Object.values(mediaSizeLimits.default));

/** "image/PNG; charset=x" → "image/png". */
export function normalizeMimeType(value: string): string {
  return (value.split(";")[0] ?? "").trim().toLowerCase();
}

export function isMediaType(value: string): value is MediaType {
  return Object.hasOwn(mediaTypes, value);
}

export function mediaKindOf(mimeType: string): MediaKind | undefined {
  return isMediaType(mimeType) ? mediaTypes[mimeType].kind : undefined;
}

/** True when the network publishes this type at all (catalog: supported, the kind allowed, the type listed). */
export function networkAccepts(platform: Platform, mimeType: string): boolean {
  const p = catalog[platform].publish;
  const kind = mediaKindOf(mimeType);
  if (!p.supported || !kind || (kind === "image" && !p.images) || (kind === "video" && !p.video)) return false;
  return p.supportedMediaTypes.some((pattern) => (pattern.endsWith("/*") ? mimeType.startsWith(pattern.slice(0, -1)) : pattern === mimeType));
}

/** The largest file of this type the network takes: our ceiling, or the network's own limit when it is lower. */
export function maxBytesFor(platform: Platform, mimeType: MediaType): number {
  const kind = mediaTypes[mimeType].kind;
  const row = mediaSizeLimits[platform] ?? {};
  return Math.min(mediaSizeLimits.default[kind], row[mimeType] ?? row[kind] ?? Infinity);
}

/** 8388608 → "8 MB"; sizes that are not whole megabytes are given in bytes, exactly. */
export function formatBytes(bytes: number): string {
  if (bytes >= GB && bytes % GB === 0) return `${bytes / GB} GB`;
  if (bytes >= MB && bytes % MB === 0) return `${bytes / MB} MB`;
  return `${bytes.toLocaleString("en-US")} bytes`;
}

export interface MediaViolation {
  field: string;
  rule: string;
  message: string;
  platform?: Platform;
}

const names = (platforms: Platform[]) => platforms.map((p) => catalog[p].displayName).join(", ");

/**
 * Whether an upload of this type and size can go anywhere: to at least one of the profile's connected networks, or,
 * with none connected, to at least one network we publish to. Returns the reasons when it cannot.
 */
export function uploadViolations(connected: Platform[], mimeType: MediaType, fileSize: number): MediaViolation[] {
  const candidates = connected.length ? [...new Set(connected)] : platformIds.filter((p) => catalog[p].publish.supported);
  const where = connected.length ? `this profile's connected networks (${names(candidates)})` : "the networks Amplify publishes to";
  const accepting = candidates.filter((p) => networkAccepts(p, mimeType));
  if (!accepting.length) {
    return [{ field: "contentType", rule: "media_compatibility", message: `None of ${where} can publish ${mimeType}` }];
  }
  const largest = Math.max(...accepting.map((p) => maxBytesFor(p, mimeType)));
  if (fileSize > largest) {
    const at = accepting.filter((p) => maxBytesFor(p, mimeType) === largest);
    return [
      {
        field: "fileSize",
        rule: "media_size",
        message: `A ${mimeType} of ${formatBytes(fileSize)} is larger than ${where} accept: at most ${formatBytes(largest)} (${names(at)})`,
      },
    ];
  }
  return [];
}

/** Posting rule: each target network's size limit for each media item whose type and size are known. */
export function mediaSizeViolations(platforms: Platform[], media: { mimeType: string; fileSize: number | null }[]): MediaViolation[] {
  const violations: MediaViolation[] = [];
  for (const m of media) {
    if (m.fileSize === null || !isMediaType(m.mimeType)) continue;
    for (const platform of platforms) {
      // A network that cannot take the type at all is the compatibility rule's to report, not this one's.
      if (!networkAccepts(platform, m.mimeType)) continue;
      const limit = maxBytesFor(platform, m.mimeType);
      if (m.fileSize > limit) {
        violations.push({
          field: "media",
          platform,
          rule: "media_size",
          message: `${catalog[platform].displayName} accepts ${m.mimeType} up to ${formatBytes(limit)}; this file is ${formatBytes(m.fileSize)}`,
        });
      }
    }
  }
  return violations;
}

/**
 * The Storage bucket media goes to, as the migration creates it in Supabase and the local emulator serves it: public
 * (networks fetch media by URL), capped at the largest size we take and at the types we take.
 */
export const mediaBucket = {
  id: "post-media",
  public: true,
  fileSizeLimit: largestMediaBytes,
  allowedMimeTypes: [...mediaTypeIds] as string[],
} as const;
