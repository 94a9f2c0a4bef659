import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { startEmbeddedPostgres } from "../src/local/embedded-postgres.js";
import { generateSecrets, startLocalHome } from "../src/local/home.js";
import { seed } from "./api-overhead/seed.js";
import { verifyApiKey } from "../src/core/auth.js";
import { withClaims, sql } from "../src/core/db.js";
import { listProfiles } from "../src/profiles/profiles.js";

const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-bench-scratch-"));
await chmod(dir, 0o755);
const pg = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
const home = await startLocalHome({ databaseUrl: pg.url, port: 0, secrets: generateSecrets() });
const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
const fn = (await import("../netlify/functions/profiles.js")).default;
async function time(label: string, n: number, f: () => Promise<unknown>) {
  for (let i = 0; i < 100; i++) await f();
  const t = performance.now();
  for (let i = 0; i < n; i++) await f();
  console.log(`${label.padEnd(40)} ${((performance.now() - t) / n * 1000).toFixed(0)} µs`);
}
try {
  const s = await seed(home, admin, { users: 200, profilesPerUser: 5 });
  const caller = await verifyApiKey(s.apiKey);
  const N = 1000;
  await time("select 1", N, () => sql()`select 1`);
  await time("begin; select 1; commit", N, () => sql().begin((tx) => tx`select 1`));
  await time("verifyApiKey", N, () => verifyApiKey(s.apiKey));
  await time("withClaims(() => null)", N, () => withClaims(caller.claims, async () => null));
  await time("withClaims(listProfiles)", N, () => withClaims(caller.claims, (tx) => listProfiles(tx, { limit: 50 })));
  await time("list SQL as postgres (no RLS, no tx)", N, () => sql()`select p.id, p.name, p.description, p.timezone, p.created_at, p.updated_at, m.role
      from public.profiles p join public.profile_members m on m.profile_id = p.id and m.user_id = ${s.userId}
      where true order by p.created_at desc, p.id desc limit ${51}`);
  const req = () => new Request(`${home.url}/api/v1/profiles`, { headers: { "x-api-key": s.apiKey } });
  await time("function handler (no router)", N, async () => (await fn(req(), {})).text());
  await time("home.fetch (router + handler)", N, async () => (await home.fetch(req())).text());
  await time("HTTP fetch to home", N, async () => (await fetch(req())).text());
} finally {
  await admin.end();
  await home.stop();
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
