import { describe, expect, it } from "vitest";
import { builtInVariables, renderTemplate, templateVariables } from "../../src/templates/render.js";

const at = new Date("2026-03-02T23:30:00Z"); // a Monday in UTC; already Tuesday in Tokyo

describe("templateVariables", () => {
  it("lists each name once, in order of first use, built-ins included; spaces inside braces are allowed", () => {
    expect(templateVariables("{{a}} {{ b }} {{a}} on {{date}} {{_c9}}")).toEqual(["a", "b", "date", "_c9"]);
  });
  it("ignores what is not a variable", () => {
    expect(templateVariables("{{}} {{1x}} {{a-b}} {a} {{{ x y }}} plain")).toEqual([]);
  });
  it("names the built-ins", () => {
    expect(builtInVariables).toEqual(["date", "weekday", "time"]);
  });
});

describe("renderTemplate", () => {
  it("fills every variable and the built-ins in the given timezone", () => {
    expect(renderTemplate("Hi {{name}}, {{weekday}} {{date}} {{time}}", { name: "Ann" }, { at, timezone: "UTC" })).toEqual({
      ok: true,
      content: "Hi Ann, Monday 2026-03-02 23:30",
    });
    expect(renderTemplate("{{weekday}} {{date}} {{time}}", {}, { at, timezone: "Asia/Tokyo" })).toEqual({ ok: true, content: "Tuesday 2026-03-03 08:30" });
  });
  it("renders nothing when a value is missing, and names every missing one in order", () => {
    expect(renderTemplate("{{b}} {{a}} {{b}} {{date}}", {}, { at, timezone: "UTC" })).toEqual({ ok: false, missing: ["b", "a"] });
  });
  it("inserts values as given, never re-reading them as placeholders", () => {
    expect(renderTemplate("{{a}}", { a: "{{b}}" }, { at, timezone: "UTC" })).toEqual({ ok: true, content: "{{b}}" });
  });
  it("lets a given value replace a built-in; an empty string is a value", () => {
    expect(renderTemplate("{{date}}|{{x}}", { date: "soon", x: "" }, { at, timezone: "UTC" })).toEqual({ ok: true, content: "soon|" });
  });
  it("does not treat inherited object keys as values", () => {
    expect(renderTemplate("{{constructor}}", {}, { at, timezone: "UTC" })).toEqual({ ok: false, missing: ["constructor"] });
  });
});
