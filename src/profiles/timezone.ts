import { z } from "zod";

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

/**
 * An IANA time zone name. Its own module so the schemas that take one (posts, ./schemas.ts) do not build every
 * profile schema when they load.
 */
export const timezoneSchema = z.string().max(64).refine(isTimeZone, "Not an IANA time zone (e.g. Europe/London)");
