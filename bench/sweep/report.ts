/** Small helpers to print the benchmark's figures: aligned tables, numbers, percentiles, environment knobs. */

export const say = (line = "") => process.stdout.write(`${line}\n`);

/** First column left-aligned, the others right-aligned; a rule under the header row. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("   ");
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("   "), ...rows.slice(1).map(line)].join("\n");
}

export const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a";

/** Nearest-rank percentile of already sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
  return value;
}

/** A comma-separated list of positive integers, e.g. `SWEEP_SIZES=1000,10000,100000` (`_` allowed as a separator). */
export function sizesEnv(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const sizes = raw.split(",").map((s) => Number(s.trim().replace(/_/g, "")));
  if (!sizes.length || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${name} must be a comma-separated list of positive integers, got '${raw}'`);
  }
  return sizes;
}
