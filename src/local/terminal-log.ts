import { log, type LogEntry, type LogSink } from "../core/log.js";

/**
 * What the local home prints while it runs (`npm start`): one line per HTTP request (method, path, status, duration,
 * request id) and whatever the app logs (each publish attempt, webhook attempt and queue retry among them), through
 * src/core/log.ts, so `LOG_LEVEL` (debug, info, warn, error, silent; default info) filters both. `LOG_FORMAT=json`
 * keeps the JSON lines the functions write in the cloud; otherwise the lines are for people: short, with the fields
 * as `key=value`, and coloured by level when the output is a terminal (NO_COLOR turns colour off).
 */

const colours = { debug: "\x1b[90m", info: "", warn: "\x1b[33m", error: "\x1b[31m" } as const;
const reset = "\x1b[0m";
const dim = "\x1b[2m";

function plain(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "object" && "message" in (value as object)) return JSON.stringify((value as { message: unknown }).message);
  return JSON.stringify(value);
}

/** One entry as a human-readable line (no trailing newline). */
export function formatEntry(entry: LogEntry, colour: boolean): string {
  const { level, time, message, ...fields } = entry;
  const paint = (text: string, code: string) => (colour && code ? `${code}${text}${reset}` : text);
  const clock = paint(time.slice(11, 23), colour ? dim : "");
  if (message === "request") {
    const { method, path, status, durationMs, requestId, ...rest } = fields;
    const extra = Object.entries(rest).map(([k, v]) => ` ${k}=${plain(v)}`).join("");
    const line = `${String(method).padEnd(6)} ${String(path)} ${String(status)} ${String(durationMs)}ms${extra}`;
    return `${clock} ${paint(line, colours[level])} ${paint(`req=${String(requestId)}`, colour ? dim : "")}`;
  }
  const rest = Object.entries(fields)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${plain(v)}`)
    .join(" ");
  return `${clock} ${paint(`${level === "info" ? "" : `${level.toUpperCase()} `}${message}`, colours[level])}${rest ? ` ${rest}` : ""}`;
}

/** A sink printing `formatEntry` lines to stdout (stderr for warnings and errors). */
export function terminalSink(options: { colour?: boolean } = {}): LogSink {
  return (entry) => {
    const stream = entry.level === "warn" || entry.level === "error" ? process.stderr : process.stdout;
    const colour = options.colour ?? (Boolean(stream.isTTY) && !process.env.NO_COLOR);
    stream.write(`${formatEntry(entry, colour)}\n`);
  };
}

/**
 * The request line: error for 5xx, info otherwise; the queue emulator's own API (`/qstash/…`: the functions handing it
 * messages) at debug, since its deliveries show as the worker requests they make (`POST /api/queue/<job>`).
 */
export function logRequest(fields: { method: string; path: string; status: number; durationMs: number; requestId: string }): void {
  if (fields.status >= 500) log.error("request", fields);
  else if (fields.path.startsWith("/qstash/")) log.debug("request", fields);
  else log.info("request", fields);
}
