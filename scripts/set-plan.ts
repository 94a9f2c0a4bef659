import { readFile } from "node:fs/promises";
import path from "node:path";
import postgres from "postgres";
import { plans } from "../src/core/plans.js";

/**
 * Local home only: put a user on a plan without Stripe (`npm run local:plan -- me@example.com starter`).
 * It edits the running local home's database, found through .data/runtime.json (written by `npm start`).
 */
const [email, plan = "starter", status = "active"] = process.argv.slice(2);
if (!email || !(plan in plans)) {
  console.error(`usage: npm run local:plan -- <email> <${Object.keys(plans).join("|")}> [status]`);
  process.exit(2);
}
const dataDir = path.resolve(process.env.AMPLIFY_DATA_DIR ?? ".data");
const runtime = JSON.parse(await readFile(path.join(dataDir, "runtime.json"), "utf8").catch(() => "null")) as { databaseUrl?: string } | null;
const databaseUrl = process.env.DATABASE_URL || runtime?.databaseUrl;
if (!databaseUrl) {
  console.error("No running local home found: start it with `npm start` first.");
  process.exit(1);
}
const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
const rows = await sql`
  update public.billing_subscriptions b set plan = ${plan}, status = ${plan === "free" ? "free" : status}
  from auth.users u where u.id = b.user_id and u.email = ${email.toLowerCase()}
  returning b.plan, b.status`;
await sql.end();
if (!rows.length) {
  console.error(`No user ${email} in the local home.`);
  process.exit(1);
}
console.log(`${email} is now on ${rows[0]!.plan} (${rows[0]!.status}).`);
