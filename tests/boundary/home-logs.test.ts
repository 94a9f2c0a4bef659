import { z } from "zod";
import { afterEach, describe, expect, it } from "vitest";
import { api, route } from "../../src/core/api.js";
import { log, setLogSink, type LogEntry } from "../../src/core/log.js";
import { useTestHome } from "../helpers/home.js";

/**
 * Issue 9, finding 12 (the log part): an unhandled error used to log the request's full URL, so an OAuth callback's
 * `code` and `state` (or any token in a query string) ended up in the function logs. Logs are read here through the
 * log module's sink, at debug level, whatever LOG_LEVEL says.
 */
const t = useTestHome();

const CODE = "oauth-code-4f1d9a";
const STATE = "oauth-state-77b0c2";

let restore: (() => void) | undefined;
function capture(): LogEntry[] {
  const entries: LogEntry[] = [];
  restore = setLogSink((entry) => entries.push(entry), { level: "debug" });
  return entries;
}
afterEach(() => {
  restore?.();
  restore = undefined;
});

function expectNoQueryStrings(entries: LogEntry[]) {
  const text = JSON.stringify(entries);
  expect(text).not.toContain(CODE);
  expect(text).not.toContain(STATE);
  expect(text).not.toMatch(/[?&](code|state)=/);
}

// Finding 12.
describe("logs never contain a query string", () => {
  it("an unhandled error logs the request's path, not its URL", async () => {
    const entries = capture();
    const handler = api([
      route("GET /api/things/callback", {
        auth: "none",
        response: z.never(),
        handle: async () => {
          throw new Error(`upstream refused https://idp.example/token?code=${CODE}&state=${STATE}`);
        },
      }),
    ]);
    const res = await handler(new Request(`https://amplify.example/api/things/callback?code=${CODE}&state=${STATE}`));
    expect(res.status).toBe(500);
    const [entry] = entries.filter((e) => e.message === "unhandled error");
    expect(entry).toMatchObject({ level: "error", method: "GET", path: "/api/things/callback" });
    expect(entry).not.toHaveProperty("url");
    // The error's own message quoted a URL with a query: it is cut at the `?` as well.
    expect(entry!.error).toMatchObject({ message: "upstream refused https://idp.example/token?…" });
    expectNoQueryStrings(entries);
  });

  it("whatever a caller logs: URL-like strings in messages and fields lose their query and fragment", () => {
    const entries = capture();
    log.info(`fetched /api/connect/callback/x?code=${CODE}`, {
      url: `http://localhost:8888/api/connect/callback/x?code=${CODE}&state=${STATE}#frag`,
      nested: { href: new URL(`https://a.example/p?state=${STATE}`), list: [`/p?code=${CODE}`] },
    });
    expect(entries[0]).toMatchObject({
      message: "fetched /api/connect/callback/x?…",
      url: "http://localhost:8888/api/connect/callback/x?…",
      nested: { href: "https://a.example/p?…", list: ["/p?…"] },
    });
    expectNoQueryStrings(entries);
  });

  it("an OAuth callback through the front door leaves its code and state out of every log line", async () => {
    const entries = capture();
    for (const platform of ["twitter", "linkedin", "nope"]) {
      const res = await t.call("GET", `/api/connect/callback/${platform}?code=${CODE}&state=${STATE}`);
      expect(res.status).toBeLessThan(500);
    }
    const res = await t.call("GET", `/api/connect/callback/twitter?error=access_denied&state=${STATE}`);
    expect(res.status).toBeLessThan(500);
    expectNoQueryStrings(entries);
  });
});
