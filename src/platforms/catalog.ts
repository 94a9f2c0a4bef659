/**
 * The capability catalog: one source of truth for what each network supports, read by discovery, the platform
 * catalog endpoint, post validation and the adapters. `publish.supported` is typed as a literal per network, so
 * `PublishablePlatform` (below) is known to the compiler and the adapter registry must cover exactly those networks.
 */
export const platformIds = [
  "twitter",
  "linkedin",
  "instagram",
  "facebook",
  "threads",
  "tiktok",
  "youtube",
  "pinterest",
  "reddit",
  "bluesky",
  "snapchat",
] as const;

export type Platform = (typeof platformIds)[number];
export type SupportStatus = "full" | "partial" | "unsupported";

export interface PlatformContract {
  platform: Platform;
  displayName: string;
  accountType: "social_profile" | "business_account" | "page" | "channel" | "community";
  supportStatus: SupportStatus;
  scopes: string[];
  publish: {
    supported: boolean;
    text: boolean;
    images: boolean;
    video: boolean;
    requiresMedia: boolean;
    supportedMediaTypes: string[];
    scheduling: boolean;
    maxTextLength: number | null;
  };
  analytics: { supported: boolean };
  requirements: string[];
  notes: string[];
}

type Publish = PlatformContract["publish"];

/** A network this app publishes to (its `supported` is the literal `true`). */
const publish = (p: Partial<Omit<Publish, "supported">>): Publish & { supported: true } => ({
  supported: true,
  text: true,
  images: false,
  video: false,
  requiresMedia: false,
  supportedMediaTypes: [],
  scheduling: true,
  maxTextLength: null,
  ...p,
});

/** A network listed for discovery only: nothing is published to it. */
const unsupported: Publish & { supported: false } = { ...publish({ text: false, scheduling: false }), supported: false };

export const catalog = {
  twitter: {
    platform: "twitter",
    displayName: "Twitter / X",
    accountType: "social_profile",
    supportStatus: "partial",
    scopes: ["tweet.read", "tweet.write", "users.read", "offline.access", "media.write"],
    publish: publish({ images: true, supportedMediaTypes: ["image/*"], maxTextLength: 280 }),
    analytics: { supported: true },
    requirements: [],
    notes: ["Current publishing path supports text and single-image posts."],
  },
  linkedin: {
    platform: "linkedin",
    displayName: "LinkedIn",
    accountType: "social_profile",
    supportStatus: "partial",
    scopes: ["openid", "profile", "w_member_social"],
    publish: publish({ images: true, supportedMediaTypes: ["image/*"], maxTextLength: 3000 }),
    analytics: { supported: true },
    requirements: [],
    notes: ["Text and single-image posts; images use LinkedIn's asset upload."],
  },
  instagram: {
    platform: "instagram",
    displayName: "Instagram",
    accountType: "business_account",
    supportStatus: "partial",
    scopes: ["instagram_business_basic", "instagram_business_content_publish"],
    publish: publish({
      images: true,
      video: true,
      requiresMedia: true,
      supportedMediaTypes: ["image/jpeg", "video/mp4", "video/quicktime"],
      maxTextLength: 2200,
    }),
    analytics: { supported: true },
    requirements: ["An Instagram business or creator account (a personal account cannot publish through the API)"],
    notes: [
      "One JPEG image (aspect ratio 4:5 to 1.91:1) or one MP4/MOV video, published as a reel; the post text is the caption.",
      "Instagram processes media before it can be published: a target stays publishing until the post is live or has failed.",
      "Connects with Instagram Login (no Facebook Page needed). The token lasts 60 days; a sync of the connection extends it.",
    ],
  },
  facebook: {
    platform: "facebook",
    displayName: "Facebook",
    accountType: "page",
    supportStatus: "partial",
    scopes: ["pages_show_list", "pages_read_engagement", "pages_manage_posts"],
    publish: publish({
      images: true,
      video: true,
      supportedMediaTypes: [
        ...["image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "image/heif", "image/heic", "image/bmp"],
        ...["video/mp4", "video/quicktime"],
      ],
      maxTextLength: 63206,
    }),
    analytics: { supported: true },
    requirements: [
      "A Facebook Page you manage with the CREATE_CONTENT task, granted at consent with the pages_manage_posts permission",
    ],
    notes: [
      "Text, one photo or one MP4/MOV video per post, published as the Page; Facebook fetches the media from its public URL.",
      "Facebook processes video before it is live: a video target stays publishing until the post is live or has failed.",
      "Publishes as the first Page granted at consent that allows it; choose another granted Page with settings.pageId. Page tokens do not expire; a sync reads the Pages again.",
    ],
  },
  threads: {
    platform: "threads",
    displayName: "Threads",
    accountType: "social_profile",
    supportStatus: "partial",
    scopes: ["threads_basic", "threads_content_publish"],
    publish: publish({
      images: true,
      video: true,
      supportedMediaTypes: ["image/jpeg", "image/png", "video/mp4", "video/quicktime"],
      maxTextLength: 500,
    }),
    analytics: { supported: true },
    requirements: [],
    notes: [
      "Text, one JPEG/PNG image or one MP4/MOV video per post; 500 characters, where Threads counts an emoji by its UTF-8 bytes.",
      "Threads processes video before it can be published: a target stays publishing until the post is live or has failed.",
      "The token lasts 60 days; a sync of the connection extends it.",
    ],
  },
  tiktok: {
    platform: "tiktok",
    displayName: "TikTok",
    accountType: "social_profile",
    supportStatus: "partial",
    scopes: ["user.info.basic", "video.publish"],
    publish: publish({ video: true, requiresMedia: true, supportedMediaTypes: ["video/mp4", "video/quicktime", "video/webm"], maxTextLength: 2200 }),
    analytics: { supported: true },
    requirements: ["A TikTok account that may post now (TikTok bans some accounts from posting, and caps posts per day)"],
    notes: [
      "One MP4, MOV or WebM video per post, posted directly to the profile; the post text is the caption. Photo posts are not supported.",
      "TikTok processes the video before it is live: a target stays publishing until TikTok reports it published or failed.",
      "Privacy and interactions come from the connection's settings (privacyLevel, default the most public level TikTok offers the creator). Until TikTok audits the app, every post is private (SELF_ONLY).",
      "TikTok pulls videos from URL prefixes verified in its developer portal; other videos are downloaded and uploaded by the server (up to 64 MB).",
    ],
  },
  youtube: {
    platform: "youtube",
    displayName: "YouTube",
    accountType: "channel",
    supportStatus: "partial",
    scopes: ["https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube.readonly"],
    publish: publish({ video: true, requiresMedia: true, supportedMediaTypes: ["video/mp4", "video/quicktime", "video/webm"], maxTextLength: 5000 }),
    analytics: { supported: true },
    requirements: ["A Google account with a YouTube channel"],
    notes: [
      "One MP4, MOV or WebM video per post (up to 64 MB through this server), uploaded with YouTube's resumable upload. The first line of the post text is the title (up to 100 characters), the whole text the description; < and > become ‹ and ›.",
      "YouTube processes the video after the upload: a target stays publishing until it is processed, then links to its watch page.",
      "Privacy, category, made-for-kids, tags and subscriber notification come from the connection's settings (default public, People & Blogs, not for kids). Until Google audits the app's API project, uploads are locked private.",
    ],
  },
  pinterest: {
    platform: "pinterest",
    displayName: "Pinterest",
    accountType: "social_profile",
    supportStatus: "partial",
    scopes: ["boards:read", "boards:write", "pins:read", "pins:write", "user_accounts:read"],
    publish: publish({
      images: true,
      requiresMedia: true,
      supportedMediaTypes: ["image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff"],
      maxTextLength: 800,
    }),
    analytics: { supported: true },
    requirements: ["A default board configured on the connection (PATCH /api/v1/connections/{id} with settings.boardId)"],
    notes: [
      "Single-image pins on the connection's default board; the post text becomes the pin description and its first link the pin's destination.",
      "Pinterest fetches the image from its public URL. Video pins are not supported yet.",
    ],
  },
  reddit: {
    platform: "reddit",
    displayName: "Reddit",
    accountType: "community",
    supportStatus: "partial",
    scopes: ["identity", "submit"],
    publish: publish({ maxTextLength: 40000 }),
    analytics: { supported: true },
    requirements: ["A target subreddit configured on the connection (PATCH /api/v1/connections/{id} with settings.subreddit)"],
    notes: [
      "Text (self) posts only, to the connection's subreddit: the first line becomes the title (up to 300 characters), the rest the body.",
      "Subreddit rules (required flair, karma or account age) are enforced by Reddit and reported as the post's error.",
    ],
  },
  bluesky: {
    platform: "bluesky",
    displayName: "Bluesky",
    accountType: "social_profile",
    supportStatus: "partial",
    scopes: [],
    publish: publish({ images: true, supportedMediaTypes: ["image/jpeg", "image/png", "image/webp", "image/gif"], maxTextLength: 300 }),
    analytics: { supported: true },
    requirements: ["A Bluesky app password (Settings → Privacy and security → App passwords), given with the handle at connect/init"],
    notes: [
      "Text (300 graphemes) and single-image posts (images up to 1,000,000 bytes); links and hashtags in the text are clickable.",
      "Connects with an app password, not OAuth; accounts hosted on bsky.social only (no self-hosted PDS yet). No video, link cards or mentions yet.",
    ],
  },
  snapchat: {
    platform: "snapchat",
    displayName: "Snapchat",
    accountType: "social_profile",
    supportStatus: "unsupported",
    scopes: [],
    publish: unsupported,
    analytics: { supported: false },
    requirements: [],
    notes: ["Publishing is only available through Snapchat's Marketing API."],
  },
} satisfies Record<Platform, PlatformContract>;

/** The networks the catalog marks publishable: the adapter registry has one adapter for each, and only these. */
export type PublishablePlatform = {
  [P in Platform]: (typeof catalog)[P]["publish"]["supported"] extends true ? P : never;
}[Platform];

export const publishablePlatforms = platformIds.filter((p): p is PublishablePlatform => catalog[p].publish.supported);

export function isPublishable(platform: Platform): platform is PublishablePlatform {
  return catalog[platform]?.publish.supported === true;
}
