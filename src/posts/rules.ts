import { catalog, type Platform } from "../platforms/catalog.js";

/**
 * The contract's "Multi-Platform Posting Rules" and "Platform-Specific Constraints" as data-driven checks over the
 * catalog. Each violation names the platform (when it is one network's rule) and the rule, so an integrator can
 * tell which target is wrong and why.
 */
export interface RuleViolation {
  field: string;
  platform?: Platform;
  rule: string;
  message: string;
}

export interface MediaDescriptor {
  mimeType: string;
}

export interface PostShape {
  platforms: Platform[];
  content: string;
  media: MediaDescriptor[];
  scheduled: boolean;
}

const URL_WEIGHT = 23;
const urlPattern = /\bhttps?:\/\/[^\s]+/gi;

/**
 * X counts text in weighted characters: most Latin, Greek, Cyrillic and punctuation count 1, everything else
 * (CJK, emoji) counts 2, and every URL counts 23 whatever its length.
 */
export function weightedLength(text: string): number {
  let length = 0;
  const withoutUrls = text.replace(urlPattern, () => {
    length += URL_WEIGHT;
    return "";
  });
  for (const char of withoutUrls) {
    const cp = char.codePointAt(0)!;
    const light = cp <= 0x10ff || (cp >= 0x2000 && cp <= 0x200d) || (cp >= 0x2010 && cp <= 0x201f) || (cp >= 0x2032 && cp <= 0x2037);
    length += light ? 1 : 2;
  }
  return length;
}

// Built on first use: constructing a Segmenter loads ICU's break rules (~20 ms), which a cold start should not pay.
let graphemes: Intl.Segmenter | undefined;

/** Text length as each network counts it: X in weighted characters, Bluesky in graphemes, others in code points. */
export function textLength(platform: Platform, text: string): number {
  if (platform === "twitter") return weightedLength(text);
  if (platform === "bluesky") return [...(graphemes ??= new Intl.Segmenter("en", { granularity: "grapheme" })).segment(text)].length;
  return [...text].length;
}

function mediaKind(mimeType: string): "image" | "video" | "other" {
  if (mimeType.startsWith("image/")) return "image";
  if (mimeType.startsWith("video/")) return "video";
  return "other";
}

function accepts(patterns: string[], mimeType: string): boolean {
  return patterns.some((p) => (p.endsWith("/*") ? mimeType.startsWith(p.slice(0, -1)) : p === mimeType));
}

export function checkPostRules(post: PostShape): RuleViolation[] {
  const violations: RuleViolation[] = [];
  if (post.media.length > 1) {
    violations.push({ field: "media", rule: "single_asset", message: "Only one media item per post (one image or one video)" });
  }
  const kinds = new Set(post.media.map((m) => mediaKind(m.mimeType)));
  if (kinds.has("image") && kinds.has("video")) {
    violations.push({ field: "media", rule: "no_mixed_types", message: "Images and videos cannot be combined in one post" });
  }
  for (const m of post.media) {
    if (mediaKind(m.mimeType) === "other") {
      violations.push({ field: "media", rule: "media_type", message: `Media type ${m.mimeType} is not an image or a video` });
    }
  }
  for (const platform of post.platforms) {
    const contract = catalog[platform];
    const name = contract.displayName;
    const p = contract.publish;
    if (!p.supported) {
      violations.push({ field: "platforms", platform, rule: "platform_supported", message: `${name} publishing is not supported: ${contract.notes.join(" ")}` });
      continue;
    }
    if (post.scheduled && !p.scheduling) {
      violations.push({ field: "scheduleDate", platform, rule: "scheduling_supported", message: `${name} does not support scheduled posts` });
    }
    const length = textLength(platform, post.content);
    if (p.maxTextLength !== null && length > p.maxTextLength) {
      violations.push({
        field: "content",
        platform,
        rule: "max_text_length",
        message: `${name} allows ${p.maxTextLength} characters; this content counts ${length}`,
      });
    }
    if (p.requiresMedia && post.media.length === 0) {
      const what = p.video && !p.images ? "a video" : p.images && !p.video ? "an image" : "an image or a video";
      violations.push({ field: "media", platform, rule: "media_required", message: `${name} requires ${what}` });
    }
    for (const m of post.media) {
      const kind = mediaKind(m.mimeType);
      const kindAllowed = (kind === "image" && p.images) || (kind === "video" && p.video);
      if (kind !== "other" && (!kindAllowed || !accepts(p.supportedMediaTypes, m.mimeType))) {
        violations.push({ field: "media", platform, rule: "media_compatibility", message: `${name} cannot publish ${m.mimeType}` });
      }
    }
  }
  return violations;
}
