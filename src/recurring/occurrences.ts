/**
 * The one occurrence generator of recurring schedules: the materialisation job, the preview endpoint and every
 * answer's `next_scheduled_at` call it, and nothing else computes a schedule's times.
 *
 * A schedule is a rule over local calendar dates (daily, weekly, monthly, yearly, with INTERVAL and BY* parts), times
 * of day, a time zone and an anchor (the instant it counts from). Each occurrence is a wall-clock time in the zone,
 * turned into an instant by the zone's own rules (the runtime's IANA database through Intl):
 *
 * - In a spring-forward gap (the wall-clock time does not exist that day) it moves to the first valid instant after
 *   the gap: the transition itself (02:30 on a day New York skips 02:00–03:00 fires at 03:00 EDT).
 * - In a fall-back overlap (the time exists twice) it fires once, at the first instant (01:30 EDT, not 01:30 EST).
 * - An instant never repeats: when two wall-clock times of a day land on the same instant (two times inside one gap),
 *   it fires once. Occurrences are strictly increasing.
 * - The `monthly` pattern on day 29–31 fires on a shorter month's last day. A custom RRULE follows RFC 5545: a
 *   BYMONTHDAY a month lacks is skipped there (`-1` is "the last day").
 * - A rule that can never fire is found by exhausting its cycle: the Gregorian calendar repeats every 400 years
 *   (146,097 days = 20,871 weeks = 4,800 months), so a rule with no occurrence in that many periods has none at all.
 */

export type Freq = "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY";

export interface ByDay {
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** 1MO = 1, -1FR = -1; null: every such weekday in the period. */
  n: number | null;
}

export interface TimeOfDay {
  h: number;
  m: number;
  s: number;
}

export interface Rule {
  freq: Freq;
  interval: number;
  byMonth: number[] | null;
  byMonthDay: number[] | null;
  byDay: ByDay[] | null;
  /** Wall-clock times of each occurrence day, ascending. */
  times: TimeOfDay[];
  /** The `monthly` pattern: a day the month lacks falls on its last day instead of being skipped. */
  clampMonthDay: boolean;
  /** At most this many occurrences, counted from the anchor (COUNT, maxOccurrences). */
  count: number | null;
  /** No occurrence after this instant (UNTIL, endsAt). */
  until: Date | null;
}

export interface Schedule {
  rule: Rule;
  timezone: string;
  /** Occurrences are at or after this instant; period 0 is the one holding its local date. */
  anchor: Date;
}

export interface Occurrence {
  at: Date;
  /** The zone's wall-clock time of `at`, `YYYY-MM-DDTHH:MM:SS`. */
  localTime: string;
  /** 0-based position in the schedule's sequence from its anchor. */
  index: number;
}

// ---------------------------------------------------------------------------------------------------------------------
// Calendar arithmetic on day numbers (days since 1970-01-01, proleptic Gregorian).
// ---------------------------------------------------------------------------------------------------------------------
const DAY_MS = 86_400_000;
export const dayNumber = (y: number, m: number, d: number) => Math.floor(Date.UTC(y, m - 1, d) / DAY_MS);
export function civil(day: number): { y: number; m: number; d: number } {
  const date = new Date(day * DAY_MS);
  return { y: date.getUTCFullYear(), m: date.getUTCMonth() + 1, d: date.getUTCDate() };
}
/** 0 = Sunday. */
export const weekdayOf = (day: number) => (((day + 4) % 7) + 7) % 7;
export const daysInMonth = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Periods in one 400-year Gregorian cycle: a rule empty for this many periods in a row never fires. */
export const CYCLE_PERIODS: Record<Freq, number> = { DAILY: 146_097, WEEKLY: 20_871, MONTHLY: 4_800, YEARLY: 400 };

// ---------------------------------------------------------------------------------------------------------------------
// Zone rules (the one place wall-clock times become instants).
// ---------------------------------------------------------------------------------------------------------------------
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** True when the runtime knows the IANA zone. */
export function isKnownZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time of an instant in a zone, as milliseconds "as if UTC" (whole seconds). */
export function wallClock(instantMs: number, zone: string): number {
  const parts = formatter(zone).formatToParts(new Date(Math.floor(instantMs / 1000) * 1000));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
}

const offsetAt = (instantMs: number, zone: string) => wallClock(instantMs, zone) - Math.floor(instantMs / 1000) * 1000;

/**
 * The instant of a wall-clock time (`local`: ms "as if UTC") in a zone: the first instant showing it (overlap), or,
 * inside a gap, the first valid instant after the gap.
 */
export function instantOf(local: number, zone: string): number {
  const before = offsetAt(local - DAY_MS, zone);
  const after = offsetAt(local + DAY_MS, zone);
  let best: number | null = null;
  for (const o of before === after ? [before] : [before, after, offsetAt(local, zone)]) {
    const t = local - o;
    if (offsetAt(t, zone) === o && (best === null || t < best)) best = t;
  }
  if (best !== null) return best;
  // A gap: the offset grows from `before` to `after` somewhere in [local - after, local - before]. Find the transition.
  let lo = local - Math.max(before, after);
  let hi = local - Math.min(before, after);
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (mid <= lo) break;
    if (offsetAt(mid, zone) === offsetAt(lo, zone)) lo = mid;
    else hi = mid;
  }
  return hi;
}

export const formatLocal = (local: number) => new Date(local).toISOString().slice(0, 19);

// ---------------------------------------------------------------------------------------------------------------------
// Dates of one period.
// ---------------------------------------------------------------------------------------------------------------------
function nthWeekdays(first: number, last: number, spec: ByDay): number[] {
  const all: number[] = [];
  for (let day = first + ((spec.weekday - weekdayOf(first) + 7) % 7); day <= last; day += 7) all.push(day);
  if (spec.n === null) return all;
  const pick = spec.n > 0 ? all[spec.n - 1] : all[all.length + spec.n];
  return pick === undefined ? [] : [pick];
}

function monthDays(y: number, m: number, values: number[], clamp: boolean): number[] {
  const dim = daysInMonth(y, m);
  const out: number[] = [];
  for (const v of values) {
    const d = v > 0 ? (clamp ? Math.min(v, dim) : v) : dim + 1 + v;
    if (d >= 1 && d <= dim) out.push(dayNumber(y, m, d));
  }
  return out;
}

const weekdayMatches = (day: number, byDay: ByDay[]) => byDay.some((b) => b.weekday === weekdayOf(day));

interface Anchor {
  day: number;
  y: number;
  m: number;
  d: number;
}

/** The local dates of period `k` (k-th day/week/month/year after the anchor's), ascending and unique. */
function periodDates(rule: Rule, a: Anchor, k: number): number[] {
  let days: number[] = [];
  switch (rule.freq) {
    case "DAILY": {
      const day = a.day + k;
      const { y, m, d } = civil(day);
      if (rule.byMonth && !rule.byMonth.includes(m)) return [];
      if (rule.byMonthDay && !monthDays(y, m, rule.byMonthDay, rule.clampMonthDay).includes(day)) return [];
      if (rule.byDay && !weekdayMatches(day, rule.byDay)) return [];
      void d;
      return [day];
    }
    case "WEEKLY": {
      const weekStart = a.day - ((weekdayOf(a.day) + 6) % 7) + 7 * k; // weeks start on Monday (WKST=MO)
      const weekdays = rule.byDay ? rule.byDay.map((b) => b.weekday) : [weekdayOf(a.day)];
      days = weekdays.map((wd) => weekStart + ((wd + 6) % 7));
      if (rule.byMonth) days = days.filter((day) => rule.byMonth!.includes(civil(day).m));
      break;
    }
    case "MONTHLY": {
      const index = a.y * 12 + (a.m - 1) + k;
      const y = Math.floor(index / 12);
      const m = (index % 12) + 1;
      if (rule.byMonth && !rule.byMonth.includes(m)) return [];
      days = monthDates(rule, y, m, a);
      break;
    }
    case "YEARLY": {
      const y = a.y + k;
      if (rule.byMonthDay || (rule.byDay && rule.byMonth)) {
        for (const m of rule.byMonth ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) days.push(...monthDates(rule, y, m, a));
      } else if (rule.byDay) {
        const first = dayNumber(y, 1, 1);
        const last = first + (isLeap(y) ? 365 : 364);
        for (const spec of rule.byDay) days.push(...nthWeekdays(first, last, spec));
      } else {
        for (const m of rule.byMonth ?? [a.m]) days.push(...monthDays(y, m, [a.d], false));
      }
      break;
    }
  }
  return [...new Set(days)].sort((x, y) => x - y);
}

function monthDates(rule: Rule, y: number, m: number, a: Anchor): number[] {
  if (rule.byMonthDay) {
    const days = monthDays(y, m, rule.byMonthDay, rule.clampMonthDay);
    return rule.byDay ? days.filter((day) => byDayInMonth(day, rule.byDay!)) : days;
  }
  if (rule.byDay) {
    const first = dayNumber(y, m, 1);
    const last = first + daysInMonth(y, m) - 1;
    return rule.byDay.flatMap((spec) => nthWeekdays(first, last, spec));
  }
  return monthDays(y, m, [a.d], rule.clampMonthDay);
}

/** BYDAY limiting BYMONTHDAY in a month: the weekday, and for `2TU` also its position in the month. */
function byDayInMonth(day: number, byDay: ByDay[]): boolean {
  const { y, m, d } = civil(day);
  const dim = daysInMonth(y, m);
  return byDay.some(
    (b) =>
      b.weekday === weekdayOf(day) &&
      (b.n === null || (b.n > 0 ? Math.ceil(d / 7) === b.n : Math.ceil((dim - d + 1) / 7) === -b.n)),
  );
}

/** Periods between the anchor's and the one holding `day` (floor). */
function periodIndexOf(rule: Rule, a: Anchor, day: number): number {
  switch (rule.freq) {
    case "DAILY":
      return day - a.day;
    case "WEEKLY": {
      const monday = (x: number) => x - ((weekdayOf(x) + 6) % 7);
      return Math.floor((monday(day) - monday(a.day)) / 7);
    }
    case "MONTHLY": {
      const c = civil(day);
      return c.y * 12 + c.m - (a.y * 12 + a.m);
    }
    case "YEARLY":
      return civil(day).y - a.y;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------------------------------------
export interface OccurrenceQuery {
  /** Only occurrences at or after this instant (default: the anchor). */
  from?: Date;
  /** At most this many (default 1). */
  limit?: number;
}

/**
 * The schedule's occurrences at or after `from`, in order. Stops at the rule's end (UNTIL/endsAt, COUNT/
 * maxOccurrences) or after a whole 400-year cycle of periods without one (a rule that never fires yields nothing).
 */
export function occurrences(schedule: Schedule, query: OccurrenceQuery = {}): Occurrence[] {
  const { rule, timezone, anchor } = schedule;
  const limit = query.limit ?? 1;
  const from = Math.max(anchor.getTime(), query.from?.getTime() ?? 0);
  const until = rule.until?.getTime() ?? Infinity;
  const anchorLocal = wallClock(anchor.getTime(), timezone);
  const aDay = Math.floor(anchorLocal / DAY_MS);
  const ac = civil(aDay);
  const a: Anchor = { day: aDay, ...ac };

  // Without a count, jump to the period holding `from`'s local date (a day early for the zone's offset), keeping the
  // interval's phase; with a count, every occurrence from the anchor is counted.
  let k = 0;
  if (rule.count === null && from > anchor.getTime()) {
    const fromDay = Math.floor(wallClock(from, timezone) / DAY_MS) - 1;
    const p = periodIndexOf(rule, a, fromDay);
    if (p > 0) k = Math.floor(p / rule.interval) * rule.interval;
  }
  const out: Occurrence[] = [];
  let index = 0;
  let last = -Infinity;
  let empty = 0;
  const untilDay = until === Infinity ? Infinity : Math.floor(wallClock(until, timezone) / DAY_MS) + 1;
  for (; out.length < limit; k += rule.interval) {
    const dates = periodDates(rule, a, k);
    if (!dates.length) {
      if (++empty > CYCLE_PERIODS[rule.freq]) return out;
      // A period entirely past the end: stop.
      if (untilDay !== Infinity && periodIndexOf(rule, a, untilDay) < k) return out;
      continue;
    }
    empty = 0;
    for (const day of dates) {
      if (day > untilDay) return out;
      for (const time of rule.times) {
        const local = day * DAY_MS + ((time.h * 60 + time.m) * 60 + time.s) * 1000;
        const at = instantOf(local, timezone);
        if (at < anchor.getTime() || at <= last) continue;
        if (at > until) return out;
        if (rule.count !== null && index >= rule.count) return out;
        last = at;
        index += 1;
        if (at >= from) {
          out.push({ at: new Date(at), localTime: formatLocal(wallClock(at, timezone)), index: index - 1 });
          if (out.length >= limit) return out;
        }
      }
    }
  }
  return out;
}

/** The first occurrence at or after `from`, or null when the schedule has ended (or never fires). */
export function nextOccurrence(schedule: Schedule, from: Date): Occurrence | null {
  return occurrences(schedule, { from, limit: 1 })[0] ?? null;
}
