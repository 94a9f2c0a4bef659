import { afterEach, describe, expect, it } from "vitest";
import { log, setLogSink, type LogEntry } from "../../src/core/log.js";
import { formatEntry, logRequest } from "../../src/local/terminal-log.js";

/** The lines `npm start` prints (src/local/terminal-log.ts): one per request, one per logged event, coloured on a TTY. */
let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

function capture(level: "debug" | "info" = "info"): LogEntry[] {
  const entries: LogEntry[] = [];
  restore = setLogSink((entry) => entries.push(entry), { level });
  return entries;
}

describe("terminal lines", () => {
  it("a request: method, path, status, duration and request id; 5xx as an error, in red on a terminal", () => {
    const entries = capture();
    logRequest({ method: "POST", path: "/api/v1/post", status: 201, durationMs: 84, requestId: "r-1" });
    logRequest({ method: "GET", path: "/api/v1/posts", status: 500, durationMs: 3, requestId: "r-2" });
    expect(entries.map((e) => e.level)).toEqual(["info", "error"]);
    expect(formatEntry(entries[0]!, false)).toMatch(/^\d\d:\d\d:\d\d\.\d{3} POST {3}\/api\/v1\/post 201 84ms req=r-1$/);
    expect(formatEntry(entries[1]!, true)).toContain("\x1b[31mGET    /api/v1/posts 500 3ms\x1b[0m");
    expect(formatEntry(entries[1]!, false)).not.toContain("\x1b[");
  });

  it("the queue emulator's own requests only at debug", () => {
    const entries = capture("info");
    logRequest({ method: "POST", path: "/qstash/v2/batch", status: 200, durationMs: 2, requestId: "r-3" });
    expect(entries).toEqual([]);
  });

  it("an event: its message and fields as key=value, level named unless info", () => {
    const entries = capture();
    log.warn("publish attempt", { platform: "twitter", attempt: 1, error: "X answered 503: Service Unavailable", nextRetryAt: null });
    expect(formatEntry(entries[0]!, false)).toMatch(
      /^\S+ WARN publish attempt platform=twitter attempt=1 error="X answered 503: Service Unavailable"$/,
    );
  });
});
