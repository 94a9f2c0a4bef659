import { AppError, type FieldIssue } from "../core/errors.js";
import { CYCLE_PERIODS, instantOf as instantOfLocal, isKnownZone, nextOccurrence, type ByDay, type Freq, type Rule, type Schedule, type TimeOfDay } from "./occurrences.js";

/**
 * From a schedule's fields (as the API takes and stores them) to the generator's rule, refusing anything that is not
 * a valid, fireable schedule with a 400 naming the field.
 */
export const recurrencePatterns = ["daily", "weekly", "monthly", "custom"] as const;
export type RecurrencePattern = (typeof recurrencePatterns)[number];

export interface RecurrenceConfig {
  day_of_week?: number;
  days_of_week?: number[];
  day_of_month?: number;
  rrule?: string;
}

export interface ScheduleTiming {
  recurrencePattern: RecurrencePattern;
  recurrenceConfig: RecurrenceConfig;
  /** `HH:MM` or `HH:MM:SS`. */
  timeOfDay: string;
  timezone: string;
  startsAt: Date | null;
  endsAt: Date | null;
  maxOccurrences: number | null;
}

/** Most occurrences a COUNT or maxOccurrences may ask for. */
export const MAX_OCCURRENCES = 10_000;

const weekdayCodes = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"] as const;

export function parseTimeOfDay(value: string): TimeOfDay | null {
  const match = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/.exec(value);
  if (!match) return null;
  return { h: Number(match[1]), m: Number(match[2]), s: Number(match[3] ?? 0) };
}

export const formatTimeOfDay = (t: TimeOfDay) => [t.h, t.m, t.s].map((n) => String(n).padStart(2, "0")).join(":");

class Issues {
  list: FieldIssue[] = [];
  add(field: string, message: string) {
    this.list.push({ field, message });
  }
  throwIfAny() {
    if (!this.list.length) return;
    const first = this.list[0]!;
    throw new AppError("validation_error", `${first.field}: ${first.message}`, { details: this.list });
  }
}

const intList = (raw: string, min: number, max: number, allowNegative: boolean): number[] | null => {
  const values = raw.split(",").map((v) => (/^[+-]?\d{1,3}$/.test(v) ? Number(v) : Number.NaN));
  const ok = values.every((v) => Number.isInteger(v) && Math.abs(v) >= min && Math.abs(v) <= max && (allowNegative || v >= 0) && (v !== 0 || min === 0));
  return ok && values.length ? [...new Set(values)] : null;
};

/** The RRULE subset: FREQ, INTERVAL, BYDAY (1MO, -1FR), BYMONTHDAY (negatives), BYMONTH, BYHOUR, BYMINUTE, COUNT, UNTIL. */
function parseRrule(text: string, timezone: string, issues: Issues, field: string) {
  const parts = new Map<string, string>();
  const body = text.trim().replace(/^RRULE:/i, "");
  for (const part of body.split(";").filter(Boolean)) {
    const [key, value, ...rest] = part.split("=");
    if (!key || value === undefined || rest.length || !value) {
      issues.add(field, `Expected NAME=VALUE parts separated by ";", got "${part}"`);
      return null;
    }
    const name = key.toUpperCase();
    if (parts.has(name)) issues.add(field, `${name} appears twice`);
    parts.set(name, value.toUpperCase());
  }
  const supported = ["FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYHOUR", "BYMINUTE", "COUNT", "UNTIL", "WKST"];
  for (const name of parts.keys()) {
    if (!supported.includes(name)) issues.add(field, `${name} is not supported (supported: ${supported.join(", ")})`);
  }
  const freq = parts.get("FREQ");
  if (!freq) issues.add(field, "FREQ is required (DAILY, WEEKLY, MONTHLY or YEARLY)");
  else if (!["DAILY", "WEEKLY", "MONTHLY", "YEARLY"].includes(freq)) issues.add(field, `FREQ=${freq} is not supported (DAILY, WEEKLY, MONTHLY or YEARLY)`);
  const wkst = parts.get("WKST");
  if (wkst !== undefined && wkst !== "MO") issues.add(field, "Only WKST=MO is supported");

  let interval = 1;
  if (parts.has("INTERVAL")) {
    const v = parts.get("INTERVAL")!;
    if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 1000) issues.add(field, "INTERVAL must be a whole number from 1 to 1000");
    else interval = Number(v);
  }
  let byMonth: number[] | null = null;
  if (parts.has("BYMONTH")) {
    byMonth = intList(parts.get("BYMONTH")!, 1, 12, false);
    if (!byMonth) issues.add(field, "BYMONTH must list months 1–12");
  }
  let byMonthDay: number[] | null = null;
  if (parts.has("BYMONTHDAY")) {
    byMonthDay = intList(parts.get("BYMONTHDAY")!, 1, 31, true);
    if (!byMonthDay) issues.add(field, "BYMONTHDAY must list days 1–31 or -31–-1");
  }
  let byDay: ByDay[] | null = null;
  if (parts.has("BYDAY")) {
    byDay = [];
    for (const item of parts.get("BYDAY")!.split(",")) {
      const match = /^([+-]?\d{1,2})?(SU|MO|TU|WE|TH|FR|SA)$/.exec(item);
      const n = match?.[1] === undefined ? null : Number(match[1]);
      if (!match || (n !== null && (n === 0 || Math.abs(n) > 53))) {
        issues.add(field, `BYDAY entry "${item}" is not a weekday (MO, 1MO, -1FR, …)`);
        byDay = null;
        break;
      }
      byDay.push({ weekday: weekdayCodes.indexOf(match[2] as (typeof weekdayCodes)[number]), n });
    }
  }
  let byHour: number[] | null = null;
  if (parts.has("BYHOUR")) {
    byHour = intList(parts.get("BYHOUR")!, 0, 23, false);
    if (!byHour) issues.add(field, "BYHOUR must list hours 0–23");
  }
  let byMinute: number[] | null = null;
  if (parts.has("BYMINUTE")) {
    byMinute = intList(parts.get("BYMINUTE")!, 0, 59, false);
    if (!byMinute) issues.add(field, "BYMINUTE must list minutes 0–59");
  }
  let count: number | null = null;
  if (parts.has("COUNT")) {
    const v = parts.get("COUNT")!;
    if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > MAX_OCCURRENCES) issues.add(field, `COUNT must be a whole number from 1 to ${MAX_OCCURRENCES}`);
    else count = Number(v);
  }
  let until: Date | null = null;
  let untilLocal: number | null = null;
  if (parts.has("UNTIL")) {
    if (parts.has("COUNT")) issues.add(field, "COUNT and UNTIL cannot both be given");
    const match = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/.exec(parts.get("UNTIL")!);
    const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(match?.[i] ?? 0));
    const probe = new Date(Date.UTC(y!, mo! - 1, d!));
    if (!match || probe.getUTCMonth() !== mo! - 1 || probe.getUTCDate() !== d || h! > 23 || mi! > 59 || s! > 59) {
      issues.add(field, "UNTIL must be a date (20270131) or a date-time (20270131T090000Z, or without Z in the schedule's zone)");
    } else if (match[7]) {
      until = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
    } else {
      // A date, or a date-time without Z: a wall-clock time in the schedule's zone (a date: its last second).
      untilLocal = match[4] ? Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) : Date.UTC(y!, mo! - 1, d!, 23, 59, 59);
    }
  }
  if (byDay && byDay.some((b) => b.n !== null)) {
    const scoped = freq === "MONTHLY" || (freq === "YEARLY" && !byMonthDay);
    if (!scoped) issues.add(field, "BYDAY with a position (1MO, -1FR) needs FREQ=MONTHLY or FREQ=YEARLY");
  }
  if (byMonthDay && freq === "WEEKLY") issues.add(field, "BYMONTHDAY cannot be used with FREQ=WEEKLY");
  return { freq: freq as Freq, interval, byMonth, byMonthDay, byDay, byHour, byMinute, count, until, untilLocal, timezone };
}

/**
 * Compiles a schedule's timing into the generator's input, or throws a 400 naming each bad field: an unknown zone, a
 * bad time, a config that does not fit its pattern, an unsupported or malformed RRULE, an end before the start, or a
 * rule that can never fire.
 */
export function compileSchedule(timing: ScheduleTiming, anchor: Date, options: { checkFires?: boolean } = {}): Schedule {
  const issues = new Issues();
  if (!isKnownZone(timing.timezone)) issues.add("timezone", "Not an IANA time zone (e.g. Europe/London)");
  const time = parseTimeOfDay(timing.timeOfDay);
  if (!time) issues.add("timeOfDay", "Expected a time of day HH:MM or HH:MM:SS (00:00 to 23:59:59)");
  const config = timing.recurrenceConfig;
  const allowed: Record<RecurrencePattern, (keyof RecurrenceConfig)[]> = {
    daily: [],
    weekly: ["day_of_week", "days_of_week"],
    monthly: ["day_of_month"],
    custom: ["rrule"],
  };
  for (const key of Object.keys(config) as (keyof RecurrenceConfig)[]) {
    if (!allowed[timing.recurrencePattern].includes(key)) {
      issues.add(`recurrenceConfig.${key}`, `Not used by the ${timing.recurrencePattern} pattern`);
    }
  }
  let rule: Omit<Rule, "times" | "count" | "until"> & { count?: number | null; until?: Date | null } = {
    freq: "DAILY",
    interval: 1,
    byMonth: null,
    byMonthDay: null,
    byDay: null,
    clampMonthDay: false,
  };
  let times: TimeOfDay[] = time ? [time] : [];
  let ruleField = "recurrencePattern";
  switch (timing.recurrencePattern) {
    case "daily":
      break;
    case "weekly": {
      ruleField = "recurrenceConfig.day_of_week";
      const days = config.days_of_week ?? (config.day_of_week !== undefined ? [config.day_of_week] : undefined);
      if (config.days_of_week !== undefined && config.day_of_week !== undefined) {
        issues.add("recurrenceConfig.days_of_week", "Send day_of_week or days_of_week, not both");
      }
      if (!days) issues.add("recurrenceConfig.day_of_week", "Required for the weekly pattern: 0–6 (Sunday–Saturday)");
      else rule = { ...rule, freq: "WEEKLY", byDay: [...new Set(days)].map((weekday) => ({ weekday, n: null })) };
      break;
    }
    case "monthly":
      ruleField = "recurrenceConfig.day_of_month";
      if (config.day_of_month === undefined) issues.add("recurrenceConfig.day_of_month", "Required for the monthly pattern: 1–31");
      else rule = { ...rule, freq: "MONTHLY", byMonthDay: [config.day_of_month], clampMonthDay: true };
      break;
    case "custom": {
      ruleField = "recurrenceConfig.rrule";
      if (!config.rrule) {
        issues.add("recurrenceConfig.rrule", "Required for the custom pattern: an RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,WE,FR");
        break;
      }
      const parsed = parseRrule(config.rrule, timing.timezone, issues, "recurrenceConfig.rrule");
      if (!parsed) break;
      rule = { ...rule, freq: parsed.freq, interval: parsed.interval, byMonth: parsed.byMonth, byMonthDay: parsed.byMonthDay, byDay: parsed.byDay };
      if (time && (parsed.byHour || parsed.byMinute)) {
        times = [];
        for (const h of parsed.byHour ?? [time.h]) for (const m of parsed.byMinute ?? [time.m]) times.push({ h, m, s: time.s });
        times.sort((x, y) => (x.h - y.h) * 3600 + (x.m - y.m) * 60);
      }
      rule.count = parsed.count;
      rule.until = parsed.until;
      const local = parsed.untilLocal;
      if (local !== null && isKnownZone(timing.timezone)) {
        // A floating UNTIL (no Z) is a wall-clock time in the schedule's zone.
        rule.until = new Date(instantOfLocal(local, timing.timezone));
      }
      break;
    }
  }
  if (timing.startsAt && timing.endsAt && timing.endsAt <= timing.startsAt) issues.add("endsAt", "Must be after startsAt");
  issues.throwIfAny();

  const untils = [rule.until ?? null, timing.endsAt].filter((d): d is Date => d !== null);
  const counts = [rule.count ?? null, timing.maxOccurrences].filter((n): n is number => n !== null);
  const schedule: Schedule = {
    timezone: timing.timezone,
    anchor,
    rule: {
      ...rule,
      times,
      count: counts.length ? Math.min(...counts) : null,
      until: untils.length ? new Date(Math.min(...untils.map((d) => d.getTime()))) : null,
    },
  };
  // Can it ever fire? Exhausting the 400-year cycle (or reaching the end) without an occurrence says no.
  if (options.checkFires !== false && !nextOccurrence(schedule, anchor)) {
    const endField = timing.endsAt && (!rule.until || timing.endsAt <= rule.until) ? "endsAt" : ruleField;
    const unbounded = nextOccurrence({ ...schedule, rule: { ...schedule.rule, until: null, count: null } }, anchor);
    const message = unbounded
      ? `The schedule ends before its first occurrence (${unbounded.at.toISOString()})`
      : `This rule can never fire: no date in a whole ${CYCLE_PERIODS[schedule.rule.freq].toLocaleString("en-GB")}-period Gregorian cycle matches it`;
    throw new AppError("validation_error", `${unbounded ? endField : ruleField}: ${message}`, {
      details: [{ field: unbounded ? endField : ruleField, message }],
    });
  }
  return schedule;
}


/** The monthly pattern on day 29–31 fires on a shorter month's last day: the answer says so. */
export function timingNotes(timing: Pick<ScheduleTiming, "recurrencePattern" | "recurrenceConfig">): string[] {
  const day = timing.recurrenceConfig.day_of_month;
  if (timing.recurrencePattern === "monthly" && day !== undefined && day >= 29) {
    return [`In months shorter than ${day} days this schedule fires on the month's last day.`];
  }
  return [];
}
