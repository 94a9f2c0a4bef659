/** Where "now" comes from. Production reads the system clock; tests replace it to move time forward without sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that stands still until moved: `advance(ms)` or `set(date)`. */
export interface ManualClock extends Clock {
  advance(ms: number): Date;
  set(at: Date): void;
}

export function manualClock(start: Date = new Date()): ManualClock {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    advance(ms) {
      current += ms;
      return new Date(current);
    },
    set(at) {
      current = at.getTime();
    },
  };
}

let override: Clock | undefined;

/** The clock in force: a test's replacement, otherwise the system clock. */
export function currentClock(): Clock {
  return override ?? systemClock;
}

/** Replaces the clock for every service built from now on and for `currentClock()`; pass undefined to restore it. */
export function setClockForTests(clock: Clock | undefined): void {
  override = clock;
}
