/**
 * Structured JSON logs on stderr (Netlify captures them per function). Silenced with LOG_LEVEL=silent.
 *
 * Nothing logged carries a query string: every string that looks like a URL has its `?query` (and `#fragment`)
 * replaced by `?…` before it is written, so an OAuth `code`/`state`, a signed-URL token or any other secret passed in
 * a query never reaches the logs, whoever logs the URL (an unhandled error's request, an error message quoting a
 * URL). Callers should log `path` rather than `url` anyway.
 */
export type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level | "silent", number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** One log entry as written: level, time, message and the caller's fields (already serialised and scrubbed). */
export interface LogEntry {
  level: Level;
  time: string;
  message: string;
  [field: string]: unknown;
}

/** Where entries go. The default writes one JSON line to stderr. */
export type LogSink = (entry: LogEntry) => void;

const stderrSink: LogSink = (entry) => {
  process.stderr.write(`${JSON.stringify(entry)}\n`);
};

let sink: { write: LogSink; level?: Level } | undefined;

/**
 * Sends every entry to `write` instead of stderr (at `level` and above, whatever LOG_LEVEL says, when given), until
 * the returned function is called. For tools and tests that read what the app logs.
 */
export function setLogSink(write: LogSink, options: { level?: Level } = {}): () => void {
  const installed = { write, level: options.level };
  sink = installed;
  return () => {
    if (sink === installed) sink = undefined;
  };
}

function threshold(): number {
  if (sink?.level) return order[sink.level];
  const level = (process.env.LOG_LEVEL ?? "info") as Level | "silent";
  return order[level] ?? order.info;
}

/** `https://host/path?code=…&state=…#x` → `https://host/path?…`; also relative `/path?a=b` forms. */
const urlWithQuery = /((?:\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>?#]*|(?<![\w.?&=%-])\/[^\s"'<>?#]*))[?#][^\s"'<>]*/gi;

/** Removes query strings and fragments from URLs inside a string. */
export function scrubUrls(text: string): string {
  return text.replace(urlWithQuery, "$1?…");
}

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubUrls(value);
  if (value instanceof URL) return scrubUrls(value.href);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: scrubUrls(value.message), stack: value.stack && scrubUrls(value.stack) };
    if (value.cause !== undefined && depth < 3) out.cause = scrub(value.cause, depth + 1);
    return out;
  }
  if (depth >= 3 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, depth + 1)]));
}

function write(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  if (order[level] < threshold()) return;
  const entry: LogEntry = { level, time: new Date().toISOString(), message: scrubUrls(message) };
  for (const [k, v] of Object.entries(fields)) entry[k] = scrub(v);
  (sink?.write ?? stderrSink)(entry);
}

export const log = {
  debug: (m: string, f?: Record<string, unknown>) => write("debug", m, f),
  info: (m: string, f?: Record<string, unknown>) => write("info", m, f),
  warn: (m: string, f?: Record<string, unknown>) => write("warn", m, f),
  error: (m: string, f?: Record<string, unknown>) => write("error", m, f),
};
