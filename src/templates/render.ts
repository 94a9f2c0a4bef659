import { formatInTimeZone } from "date-fns-tz";

/**
 * Template variables: `{{name}}` placeholders in a template's content (spaces inside the braces are allowed,
 * `{{ name }}`). A name starts with a letter or `_` and continues with letters, digits and `_`, at most 64
 * characters; anything else between braces is plain text and is left as written.
 *
 * Built-in variables need no value: `{{date}}` (YYYY-MM-DD), `{{weekday}}` (Monday…Sunday) and `{{time}}` (HH:mm,
 * 24-hour) give the post's instant (its scheduleDate, or now) in the post's timezone. A value sent for a built-in
 * name replaces it.
 */
export const builtInVariables: readonly string[] = ["date", "weekday", "time"];

const placeholder = /\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}/g;

/** The names a content uses, in order of first use, each once, built-ins included. */
export function templateVariables(content: string): string[] {
  const seen = new Set<string>();
  for (const match of content.matchAll(placeholder)) seen.add(match[1]!);
  return [...seen];
}

function builtInValue(name: string, ctx: { at: Date; timezone: string }): string | undefined {
  switch (name) {
    case "date":
      return formatInTimeZone(ctx.at, ctx.timezone, "yyyy-MM-dd");
    case "weekday":
      return formatInTimeZone(ctx.at, ctx.timezone, "EEEE");
    case "time":
      return formatInTimeZone(ctx.at, ctx.timezone, "HH:mm");
    default:
      return undefined;
  }
}

/**
 * Renders a content with `values` (plus the built-ins at `ctx.at` in `ctx.timezone`). Either every placeholder has
 * a value and the whole text is rendered, or nothing is: the answer lists every missing name, in order of use.
 * Values are inserted as given (never re-scanned for placeholders).
 */
export function renderTemplate(
  content: string,
  values: Record<string, string>,
  ctx: { at: Date; timezone: string },
): { ok: true; content: string } | { ok: false; missing: string[] } {
  const missing = templateVariables(content).filter(
    (name) => !Object.prototype.hasOwnProperty.call(values, name) && !builtInVariables.includes(name),
  );
  if (missing.length) return { ok: false, missing };
  const rendered = content.replace(placeholder, (_whole, name: string) =>
    Object.prototype.hasOwnProperty.call(values, name) ? values[name]! : builtInValue(name, ctx)!,
  );
  return { ok: true, content: rendered };
}
