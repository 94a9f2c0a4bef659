import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { occurrences, type Schedule } from "../../src/recurring/occurrences.js";
import { compileSchedule, type ScheduleTiming } from "../../src/recurring/rules.js";

/**
 * Property tests of the occurrence generator (src/recurring/occurrences.ts) against an independent computation: the
 * dates by a day-by-day scan testing each date against the rule's definition, and each date's instant by a
 * minute-by-minute scan of real instants for the first one whose wall-clock time in the zone (Intl.DateTimeFormat)
 * reaches the requested time. That one definition gives all three time rules at once: the exact time on an ordinary
 * day; the first valid instant after a spring-forward gap; the first of the two instants in a fall-back overlap.
 */
const zones = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham", "UTC"];
const DAY = 86_400_000;
const MIN = 60_000;

// ---------------------------------------------------------------------------------------------------------------------
// The independent computation.
// ---------------------------------------------------------------------------------------------------------------------
const fmts = new Map<string, Intl.DateTimeFormat>();
function wall(ms: number, zone: string): number {
  let f = fmts.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    fmts.set(zone, f);
  }
  // en-GB: "dd/mm/yyyy, hh:mm"
  const [date, time] = f.format(new Date(ms)).split(", ");
  const [dd, mm, yyyy] = date!.split("/").map(Number);
  const [hh, mi] = time!.split(":").map(Number);
  return Date.UTC(yyyy!, mm! - 1, dd!, hh!, mi!);
}

/**
 * The first instant whose wall-clock time in `zone` is at or past `local` (ms "as if UTC", whole minutes). Scans
 * real instants a quarter of an hour apart (every offset and change of these zones falls on a quarter hour in UTC, so
 * between two such instants the wall clock runs evenly) and takes the first one at or past `local`, or the point
 * inside the quarter where the wall clock reaches it.
 */
function bruteInstant(local: number, zone: string): number {
  const Q = 15 * MIN;
  for (let q = Math.floor((local - 15 * 3_600_000) / Q) * Q; q <= local + 15 * 3_600_000; q += Q) {
    const w = wall(q, zone);
    if (w >= local) return q;
    // Within this quarter hour, when that instant shows exactly the wall time (a DST gap may start inside it).
    if (local - w < Q && wall(q + (local - w), zone) === local) return q + (local - w);
  }
  throw new Error("no instant found");
}

interface RuleSpec {
  freq: "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY";
  interval: number;
  byMonth?: number[];
  byMonthDay?: number[];
  byDay?: { wd: number; n?: number }[];
  byHour?: number[];
  byMinute?: number[];
  count?: number;
  clamp?: boolean;
}

const civil = (day: number) => {
  const d = new Date(day * DAY);
  return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate() };
};
const dim = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
const weekday = (day: number) => new Date(day * DAY).getUTCDay();
const mondayOf = (day: number) => day - ((weekday(day) + 6) % 7);
const dayOfYear = (day: number) => day - Date.UTC(civil(day).y, 0, 1) / DAY + 1;
const daysInYear = (y: number) => (Date.UTC(y + 1, 0, 1) - Date.UTC(y, 0, 1)) / DAY;

/** Does the rule (anchored on local date `a`) name local date `day`? Straight from the rule's definition. */
function dateMatches(r: RuleSpec, a: number, day: number): boolean {
  const { y, m, d } = civil(day);
  const ac = civil(a);
  const n = dim(y, m);
  const phase = { DAILY: day - a, WEEKLY: (mondayOf(day) - mondayOf(a)) / 7, MONTHLY: y * 12 + m - (ac.y * 12 + ac.m), YEARLY: y - ac.y }[r.freq];
  if (phase < 0 || phase % r.interval !== 0) return false;
  if (r.byMonth && !r.byMonth.includes(m)) return false;
  const mdOk = (v: number) => (r.clamp ? d === Math.min(v, n) : v > 0 ? d === v : d === n + 1 + v);
  const inMonth = (b: { wd: number; n?: number }) =>
    b.wd === weekday(day) && (b.n === undefined || (b.n > 0 ? Math.ceil(d / 7) === b.n : Math.ceil((n - d + 1) / 7) === -b.n));
  const inYear = (b: { wd: number; n?: number }) =>
    b.wd === weekday(day) && (b.n === undefined || (b.n > 0 ? Math.ceil(dayOfYear(day) / 7) === b.n : Math.ceil((daysInYear(y) - dayOfYear(day) + 1) / 7) === -b.n));
  switch (r.freq) {
    case "DAILY":
      return (!r.byMonthDay || r.byMonthDay.some(mdOk)) && (!r.byDay || r.byDay.some((b) => b.wd === weekday(day)));
    case "WEEKLY":
      return (r.byDay ?? [{ wd: weekday(a) }]).some((b) => b.wd === weekday(day));
    case "MONTHLY":
      if (!r.byMonthDay && !r.byDay) return d === ac.d;
      return (!r.byMonthDay || r.byMonthDay.some(mdOk)) && (!r.byDay || r.byDay.some(inMonth));
    case "YEARLY":
      if (r.byMonthDay) return r.byMonthDay.some(mdOk) && (!r.byDay || r.byDay.some(inMonth));
      if (r.byDay) return r.byMonth ? r.byDay.some(inMonth) : r.byDay.some(inYear);
      return r.byMonth ? d === ac.d : m === ac.m && d === ac.d;
  }
}

/** The brute-force sequence from the anchor: dates by scan, times by scan, later than the anchor, strictly increasing. */
function bruteOccurrences(r: RuleSpec, time: { h: number; m: number }, zone: string, anchor: number, from: number, limit: number, years: number): number[] {
  const a = Math.floor(wall(anchor, zone) / DAY);
  const end = Math.floor(wall(from, zone) / DAY) + years * 366;
  const hours = r.byHour ?? [time.h];
  const minutes = r.byMinute ?? [time.m];
  const times = hours.flatMap((h) => minutes.map((mi) => h * 60 + mi)).sort((x, y) => x - y);
  const out: number[] = [];
  let last = -Infinity;
  let index = 0;
  for (let day = a; day < end && out.length < limit; day++) {
    if (!dateMatches(r, a, day)) continue;
    for (const minutesOfDay of times) {
      const at = bruteInstant(day * DAY + minutesOfDay * MIN, zone);
      if (at < anchor || at <= last) continue;
      if (r.count !== undefined && index >= r.count) return out;
      last = at;
      index++;
      if (at >= from && out.length < limit) out.push(at);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// Arbitraries.
// ---------------------------------------------------------------------------------------------------------------------
const codes = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];
const subset = (arb: fc.Arbitrary<number>, max: number) => fc.uniqueArray(arb, { minLength: 1, maxLength: max });

const ruleArb: fc.Arbitrary<RuleSpec> = fc
  .record({
    freq: fc.constantFrom("DAILY", "WEEKLY", "MONTHLY", "YEARLY") as fc.Arbitrary<RuleSpec["freq"]>,
    interval: fc.integer({ min: 1, max: 3 }),
    byMonth: fc.option(subset(fc.integer({ min: 1, max: 12 }), 4), { nil: undefined }),
    byMonthDay: fc.option(subset(fc.oneof(fc.integer({ min: 1, max: 31 }), fc.integer({ min: -31, max: -1 })), 3), { nil: undefined }),
    byDayPlain: fc.option(subset(fc.integer({ min: 0, max: 6 }), 3), { nil: undefined }),
    ordinal: fc.option(fc.constantFrom(1, 2, 3, 4, -1, -2), { nil: undefined }),
    byHour: fc.option(subset(fc.integer({ min: 0, max: 23 }), 3), { nil: undefined }),
    byMinute: fc.option(subset(fc.constantFrom(0, 15, 30, 45, 59), 2), { nil: undefined }),
    count: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
  })
  .map((g) => {
    const r: RuleSpec = { freq: g.freq, interval: g.interval, byMonth: g.byMonth, byHour: g.byHour, byMinute: g.byMinute, count: g.count };
    if (g.freq !== "WEEKLY") r.byMonthDay = g.byMonthDay;
    if (g.byDayPlain) {
      const ordinalAllowed = g.freq === "MONTHLY" || (g.freq === "YEARLY" && !r.byMonthDay);
      r.byDay = g.byDayPlain.map((wd) => ({ wd, ...(ordinalAllowed && g.ordinal !== undefined ? { n: g.ordinal } : {}) }));
    }
    return r;
  });

function rrule(r: RuleSpec): string {
  const parts = [`FREQ=${r.freq}`, `INTERVAL=${r.interval}`];
  if (r.byMonth) parts.push(`BYMONTH=${r.byMonth.join(",")}`);
  if (r.byMonthDay) parts.push(`BYMONTHDAY=${r.byMonthDay.join(",")}`);
  if (r.byDay) parts.push(`BYDAY=${r.byDay.map((b) => `${b.n ?? ""}${codes[b.wd]}`).join(",")}`);
  if (r.byHour) parts.push(`BYHOUR=${r.byHour.join(",")}`);
  if (r.byMinute) parts.push(`BYMINUTE=${r.byMinute.join(",")}`);
  if (r.count !== undefined) parts.push(`COUNT=${r.count}`);
  return parts.join(";");
}

const anchorArb = fc.integer({ min: Date.UTC(2019, 0, 1) / MIN, max: Date.UTC(2031, 0, 1) / MIN }).map((m) => m * MIN);
const timeArb = fc.record({ h: fc.integer({ min: 0, max: 23 }), m: fc.constantFrom(0, 1, 15, 30, 45, 59) });
const pad = (n: number) => String(n).padStart(2, "0");

function compile(timing: Partial<ScheduleTiming> & Pick<ScheduleTiming, "recurrencePattern" | "timeOfDay" | "timezone">, anchor: number): Schedule | "never" {
  try {
    return compileSchedule({ recurrenceConfig: {}, startsAt: null, endsAt: null, maxOccurrences: null, ...timing }, new Date(anchor));
  } catch (error) {
    if (/can never fire/.test((error as Error).message)) return "never";
    throw error;
  }
}

function checkSequence(list: { at: Date; localTime: string }[], zone: string) {
  for (let i = 1; i < list.length; i++) expect(list[i]!.at.getTime()).toBeGreaterThan(list[i - 1]!.at.getTime());
  for (const o of list) expect(new Date(wall(o.at.getTime(), zone)).toISOString().slice(0, 16)).toBe(o.localTime.slice(0, 16));
}

// ---------------------------------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------------------------------
describe("the occurrence generator", () => {
  it("matches the independent computation for random RRULEs, zones and start instants", () => {
    fc.assert(
      fc.property(ruleArb, timeArb, fc.constantFrom(...zones), anchorArb, fc.integer({ min: 0, max: 800 }), (rule, time, zone, anchor, fromDays) => {
        const schedule = compile({ recurrencePattern: "custom", recurrenceConfig: { rrule: rrule(rule) }, timeOfDay: `${pad(time.h)}:${pad(time.m)}`, timezone: zone }, anchor);
        if (schedule === "never") {
          // Refused as never firing: the scan finds no date in a whole 400-year Gregorian cycle of days.
          const a = Math.floor(wall(anchor, zone) / DAY);
          let found = -1;
          for (let day = a; day < a + 146_097 + 400 && found < 0; day++) if (dateMatches(rule, a, day)) found = day;
          expect(found, rrule(rule)).toBe(-1);
          return;
        }
        const from = anchor + fromDays * DAY;
        const got = occurrences(schedule, { from: new Date(from), limit: 6 });
        checkSequence(got, zone);
        const want = bruteOccurrences(rule, time, zone, anchor, from, 6, 30);
        const horizon = Math.floor(wall(from, zone) / DAY) * DAY + 30 * 366 * DAY - 2 * DAY;
        expect(got.map((o) => o.at.getTime()).filter((t) => t < horizon), rrule(rule)).toEqual(want.filter((t) => t < horizon));
      }),
      { numRuns: 80 },
    );
  }, 180_000);

  it("matches it for the daily, weekly and monthly patterns, short months included", () => {
    const patternArb = fc.oneof(
      fc.constant({ timing: { recurrencePattern: "daily" as const }, rule: { freq: "DAILY", interval: 1 } as RuleSpec }),
      subset(fc.integer({ min: 0, max: 6 }), 3).map((days) => ({
        timing: { recurrencePattern: "weekly" as const, recurrenceConfig: { days_of_week: days } },
        rule: { freq: "WEEKLY", interval: 1, byDay: days.map((wd) => ({ wd })) } as RuleSpec,
      })),
      fc.integer({ min: 1, max: 31 }).map((day) => ({
        timing: { recurrencePattern: "monthly" as const, recurrenceConfig: { day_of_month: day } },
        rule: { freq: "MONTHLY", interval: 1, byMonthDay: [day], clamp: true } as RuleSpec,
      })),
    );
    fc.assert(
      fc.property(patternArb, timeArb, fc.constantFrom(...zones), anchorArb, fc.integer({ min: 0, max: 1500 }), (p, time, zone, anchor, fromDays) => {
        const schedule = compile({ ...p.timing, timeOfDay: `${pad(time.h)}:${pad(time.m)}`, timezone: zone }, anchor);
        expect(schedule).not.toBe("never");
        const from = anchor + fromDays * DAY;
        const got = occurrences(schedule as Schedule, { from: new Date(from), limit: 8 });
        expect(got).toHaveLength(8);
        checkSequence(got, zone);
        expect(got.map((o) => o.at.getTime())).toEqual(bruteOccurrences(p.rule, time, zone, anchor, from, 8, 2));
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it("keeps the wall-clock time through every DST change of several years (gap: first valid instant after; overlap: first instant)", () => {
    // Times around each zone's changes: New York and London 00:30–02:30, Sydney 02:00–03:00, São Paulo's midnight
    // changes (until 2019), Chatham's 02:45/03:45.
    const prone = fc.record({ h: fc.constantFrom(0, 1, 2, 3), m: fc.constantFrom(0, 15, 30, 45, 59) });
    fc.assert(
      fc.property(prone, fc.constantFrom(...zones), fc.integer({ min: 2015, max: 2030 }), (time, zone, year) => {
        const anchor = Date.UTC(year, 0, 1);
        const schedule = compile({ recurrencePattern: "daily", timeOfDay: `${pad(time.h)}:${pad(time.m)}`, timezone: zone }, anchor) as Schedule;
        const got = occurrences(schedule, { limit: 365 });
        checkSequence(got, zone);
        // Every day of the year once; each at its wall-clock time, or (in a gap) at the first instant after it.
        const days = new Set(got.map((o) => o.localTime.slice(0, 10)));
        for (const o of got) {
          const local = Date.parse(`${o.localTime.slice(0, 10)}T${pad(time.h)}:${pad(time.m)}:00Z`);
          expect(o.at.getTime(), `${zone} ${o.localTime}`).toBe(bruteInstant(local, zone));
        }
        expect(days.size).toBe(got.length);
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});
