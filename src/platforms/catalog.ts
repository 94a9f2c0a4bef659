/**
 * The capability catalog: one source of truth for what each network supports, read by discovery, the platform
 * catalog endpoint, post validation and the adapters. Values follow the contract's "Platform-Specific Constraints".
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

const publish = (p: Partial<PlatformContract["publish"]>): PlatformContract["publish"] => ({
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

const unsupported = publish({ supported: false, text: false, scheduling: false });

export const catalog: Record<Platform, PlatformContract> = {
  twitter: {
    platform: "twitter",
    displayName: "Twitter / X",
    accountType: "social_profile",
    supportStatus: "partial",
    scopes: ["tweet.read", "tweet.write", "users.read", "offline.access", "media.write"],
    publish: publish({ images: true, supportedMediaTypes: ["image/*"], maxTextLength: 280 }),
    analytics: { supported: false },
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
    analytics: { supported: false },
    requirements: [],
    notes: ["Text and single-image posts; images use LinkedIn's asset upload."],
  },
  instagram: {
    platform: "instagram",
    displayName: "Instagram",
    accountType: "business_account",
    supportStatus: "partial",
    scopes: ["instagram_business_basic", "instagram_business_content_publish"],
    publish: publish({ images: true, video: true, requiresMedia: true, supportedMediaTypes: ["image/jpeg", "video/mp4"], maxTextLength: 2200 }),
    analytics: { supported: true },
    requirements: ["Instagram business or creator account"],
    notes: ["Single image or single video (published as a reel); the caption is the post text."],
  },
  facebook: {
    platform: "facebook",
    displayName: "Facebook",
    accountType: "page",
    supportStatus: "partial",
    scopes: ["pages_show_list", "pages_read_engagement", "pages_manage_posts"],
    publish: publish({ images: true, video: true, supportedMediaTypes: ["image/*", "video/*"], maxTextLength: 63206 }),
    analytics: { supported: true },
    requirements: ["A Facebook Page with the pages_manage_posts permission"],
    notes: ["Text, single-image and single-video Page posts."],
  },
  threads: {
    platform: "threads",
    displayName: "Threads",
    accountType: "social_profile",
    supportStatus: "partial",
    scopes: ["threads_basic", "threads_content_publish"],
    publish: publish({ images: true, video: true, supportedMediaTypes: ["image/*", "video/*"], maxTextLength: 500 }),
    analytics: { supported: true },
    requirements: [],
    notes: ["Text, single-image and single-video posts."],
  },
  tiktok: {
    platform: "tiktok",
    displayName: "TikTok",
    accountType: "social_profile",
    supportStatus: "partial",
    scopes: ["user.info.basic", "video.publish"],
    publish: publish({ video: true, requiresMedia: true, supportedMediaTypes: ["video/*"], maxTextLength: 2200 }),
    analytics: { supported: false },
    requirements: [],
    notes: ["Video required; the post text becomes the video title."],
  },
  youtube: {
    platform: "youtube",
    displayName: "YouTube",
    accountType: "channel",
    supportStatus: "partial",
    scopes: ["https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube.readonly"],
    publish: publish({ video: true, requiresMedia: true, supportedMediaTypes: ["video/*"], maxTextLength: 5000 }),
    analytics: { supported: true },
    requirements: [],
    notes: ["Video required; the post text becomes the title and description."],
  },
  pinterest: {
    platform: "pinterest",
    displayName: "Pinterest",
    accountType: "social_profile",
    supportStatus: "partial",
    scopes: ["boards:read", "pins:read", "pins:write"],
    publish: publish({ images: true, requiresMedia: true, supportedMediaTypes: ["image/*"], maxTextLength: 500 }),
    analytics: { supported: true },
    requirements: ["A default board configured on the connection"],
    notes: ["Image required; the post text becomes the pin description."],
  },
  reddit: {
    platform: "reddit",
    displayName: "Reddit",
    accountType: "community",
    supportStatus: "partial",
    scopes: ["identity", "submit"],
    publish: publish({ maxTextLength: 40000 }),
    analytics: { supported: false },
    requirements: ["A target subreddit"],
    notes: ["Text (self) posts only."],
  },
  bluesky: {
    platform: "bluesky",
    displayName: "Bluesky",
    accountType: "social_profile",
    supportStatus: "unsupported",
    scopes: [],
    publish: unsupported,
    analytics: { supported: false },
    requirements: [],
    notes: ["AT Protocol implementation incomplete."],
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
};
