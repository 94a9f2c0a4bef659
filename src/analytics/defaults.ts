import type { Platform } from "../platforms/catalog.js";

/**
 * Recommended posting times per network for profiles without enough history of their own (GET
 * /api/v1/scheduling/best-times with `isDefault: true`). Times are local to the profile's time zone: audiences follow
 * their own clock. Day of week 0 = Sunday … 6 = Saturday. These are starting points drawn from common audience
 * habits (commutes, lunch breaks, evenings), replaced by learned slots once the profile has posts with metrics.
 */
export const defaultBestTimes: Record<Platform, readonly { day: number; hour: number; reason: string }[]> = {
  twitter: [
    { day: 2, hour: 9, reason: "Weekday morning engagement" },
    { day: 3, hour: 12, reason: "Midweek lunch break" },
    { day: 4, hour: 17, reason: "End-of-workday scrolling" },
  ],
  linkedin: [
    { day: 2, hour: 8, reason: "Professionals check their feed before work" },
    { day: 3, hour: 12, reason: "Midweek lunch break" },
    { day: 4, hour: 10, reason: "Mid-morning break on a working day" },
  ],
  instagram: [
    { day: 1, hour: 11, reason: "Late-morning browsing at the start of the week" },
    { day: 3, hour: 19, reason: "Evening leisure time" },
    { day: 5, hour: 10, reason: "Friday morning, before the weekend" },
  ],
  facebook: [
    { day: 3, hour: 13, reason: "Midday break" },
    { day: 4, hour: 13, reason: "Midday break" },
    { day: 5, hour: 9, reason: "Friday morning catch-up" },
  ],
  threads: [
    { day: 2, hour: 10, reason: "Weekday morning conversation" },
    { day: 4, hour: 19, reason: "Evening conversation" },
  ],
  tiktok: [
    { day: 2, hour: 19, reason: "Evening entertainment hours" },
    { day: 4, hour: 20, reason: "Evening entertainment hours" },
    { day: 6, hour: 11, reason: "Weekend late morning" },
  ],
  youtube: [
    { day: 4, hour: 15, reason: "Afternoon uploads are processed and indexed before evening viewing" },
    { day: 5, hour: 15, reason: "Ahead of weekend viewing" },
    { day: 6, hour: 10, reason: "Weekend morning viewing" },
  ],
  pinterest: [
    { day: 6, hour: 20, reason: "Weekend evening planning and browsing" },
    { day: 5, hour: 15, reason: "Friday afternoon, planning the weekend" },
    { day: 0, hour: 21, reason: "Sunday evening browsing" },
  ],
  reddit: [
    { day: 1, hour: 7, reason: "Early morning, before the day's front page forms" },
    { day: 0, hour: 9, reason: "Weekend morning browsing" },
  ],
  bluesky: [
    { day: 2, hour: 9, reason: "Weekday morning engagement" },
    { day: 3, hour: 13, reason: "Midday break" },
  ],
  snapchat: [{ day: 5, hour: 20, reason: "Evening messaging peak" }],
};
