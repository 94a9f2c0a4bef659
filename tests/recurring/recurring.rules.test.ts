import { describe, expect, it } from "vitest";
import { occurrences } from "../../src/recurring/occurrences.js";
import { compileSchedule, type ScheduleTiming } from "../../src/recurring/rules.js";

/** The documented time rules, one named example each (README "Recurring schedules"). */
const at = (timing: Partial<ScheduleTiming> & Pick<ScheduleTiming, "recurrencePattern" | "timeOfDay" | "timezone">, anchor: string, limit: number) =>
  occurrences(compileSchedule({ recurrenceConfig: {}, startsAt: null, endsAt: null, maxOccurrences: null, ...timing }, new Date(anchor)), { limit }).map(
    (o) => `${o.at.toISOString()} ${o.localTime}`,
  );
const refused = (timing: Partial<ScheduleTiming> & Pick<ScheduleTiming, "recurrencePattern" | "timeOfDay" | "timezone">) => {
  try {
    compileSchedule({ recurrenceConfig: {}, startsAt: null, endsAt: null, maxOccurrences: null, ...timing }, new Date("2027-01-01T00:00:00Z"));
  } catch (error) {
    return (error as { details?: { field: string }[] }).details?.map((d) => d.field);
  }
  return undefined;
};

describe("the time rules", () => {
  it("moves a time inside a spring-forward gap to the first valid instant after it", () => {
    expect(at({ recurrencePattern: "daily", timeOfDay: "02:30", timezone: "America/New_York" }, "2027-03-13T12:00:00Z", 2)).toEqual([
      "2027-03-14T07:00:00.000Z 2027-03-14T03:00:00",
      "2027-03-15T06:30:00.000Z 2027-03-15T02:30:00",
    ]);
  });

  it("fires once, at the first instant, in a fall-back overlap", () => {
    expect(at({ recurrencePattern: "daily", timeOfDay: "01:30", timezone: "Europe/London" }, "2027-10-30T12:00:00Z", 2)).toEqual([
      "2027-10-31T00:30:00.000Z 2027-10-31T01:30:00",
      "2027-11-01T01:30:00.000Z 2027-11-01T01:30:00",
    ]);
  });

  it("fires once when two times of a day land in the same gap", () => {
    const list = at(
      { recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=DAILY;BYHOUR=2;BYMINUTE=15,45" }, timeOfDay: "00:00", timezone: "America/New_York" },
      "2027-03-14T00:00:00Z",
      3,
    );
    expect(list).toEqual(["2027-03-14T07:00:00.000Z 2027-03-14T03:00:00", "2027-03-15T06:15:00.000Z 2027-03-15T02:15:00", "2027-03-15T06:45:00.000Z 2027-03-15T02:45:00"]);
  });

  it("keeps Chatham's 45-minute offsets and Kolkata's half hour", () => {
    expect(at({ recurrencePattern: "daily", timeOfDay: "09:00", timezone: "Pacific/Chatham" }, "2027-01-01T00:00:00Z", 1)).toEqual(["2027-01-01T19:15:00.000Z 2027-01-02T09:00:00"]);
    expect(at({ recurrencePattern: "daily", timeOfDay: "09:00", timezone: "Asia/Kolkata" }, "2027-01-01T00:00:00Z", 1)).toEqual(["2027-01-01T03:30:00.000Z 2027-01-01T09:00:00"]);
  });

  it("puts monthly day 31 on shorter months' last day, while an RRULE BYMONTHDAY=31 skips them and -1 is the last day", () => {
    const monthly = at({ recurrencePattern: "monthly", recurrenceConfig: { day_of_month: 31 }, timeOfDay: "10:00", timezone: "UTC" }, "2028-01-01T00:00:00Z", 3);
    expect(monthly.map((s) => s.slice(0, 10))).toEqual(["2028-01-31", "2028-02-29", "2028-03-31"]);
    const rfc = at({ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=MONTHLY;BYMONTHDAY=31" }, timeOfDay: "10:00", timezone: "UTC" }, "2028-01-01T00:00:00Z", 3);
    expect(rfc.map((s) => s.slice(0, 10))).toEqual(["2028-01-31", "2028-03-31", "2028-05-31"]);
    const last = at({ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=MONTHLY;BYMONTHDAY=-1" }, timeOfDay: "10:00", timezone: "UTC" }, "2028-01-01T00:00:00Z", 3);
    expect(last.map((s) => s.slice(0, 10))).toEqual(["2028-01-31", "2028-02-29", "2028-03-31"]);
  });

  it("understands positional BYDAY, INTERVAL, COUNT and UNTIL", () => {
    const lastFriday = at({ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=MONTHLY;BYDAY=-1FR;COUNT=2" }, timeOfDay: "17:00", timezone: "UTC" }, "2027-01-01T00:00:00Z", 5);
    expect(lastFriday.map((s) => s.slice(0, 10))).toEqual(["2027-01-29", "2027-02-26"]);
    const fortnightly = at({ recurrencePattern: "custom", recurrenceConfig: { rrule: "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE" }, timeOfDay: "09:00", timezone: "UTC" }, "2027-01-04T00:00:00Z", 4);
    expect(fortnightly.map((s) => s.slice(0, 10))).toEqual(["2027-01-04", "2027-01-06", "2027-01-18", "2027-01-20"]);
    const until = at({ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=DAILY;UNTIL=20270103T090000" }, timeOfDay: "09:00", timezone: "America/New_York" }, "2027-01-01T00:00:00Z", 9);
    expect(until.map((s) => s.slice(0, 10))).toEqual(["2027-01-01", "2027-01-02", "2027-01-03"]);
  });

  it("refuses, naming the field, what can never fire or does not parse", () => {
    expect(refused({ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31" }, timeOfDay: "10:00", timezone: "UTC" })).toEqual(["recurrenceConfig.rrule"]);
    expect(refused({ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31" }, timeOfDay: "10:00", timezone: "UTC" })).toEqual(["recurrenceConfig.rrule"]);
    expect(refused({ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=WEEKLY;BYMONTHDAY=1" }, timeOfDay: "10:00", timezone: "UTC" })).toEqual(["recurrenceConfig.rrule"]);
    expect(refused({ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=DAILY;BYDAY=1MO" }, timeOfDay: "10:00", timezone: "UTC" })).toEqual(["recurrenceConfig.rrule"]);
    expect(refused({ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=DAILY;COUNT=2;UNTIL=20270101" }, timeOfDay: "10:00", timezone: "UTC" })).toEqual(["recurrenceConfig.rrule"]);
    expect(refused({ recurrencePattern: "daily", timeOfDay: "10:00", timezone: "Europe/Atlantis" })).toEqual(["timezone"]);
    expect(refused({ recurrencePattern: "daily", timeOfDay: "10:60", timezone: "UTC" })).toEqual(["timeOfDay"]);
    expect(refused({ recurrencePattern: "daily", timeOfDay: "10:00", timezone: "UTC", endsAt: new Date("2027-01-01T05:00:00Z") })).toEqual(["endsAt"]);
    // Rare but possible: Monday 29 February (next in 2044) is accepted.
    expect(refused({ recurrencePattern: "custom", recurrenceConfig: { rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO" }, timeOfDay: "10:00", timezone: "UTC" })).toBeUndefined();
  });
});
