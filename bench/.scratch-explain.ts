import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { startEmbeddedPostgres } from "../src/local/embedded-postgres.js";
import { generateSecrets, startLocalHome } from "../src/local/home.js";
import { seed } from "./api-overhead/seed.js";
import { sha256Hex } from "../src/core/crypto.js";

const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-bench-scratch-"));
await chmod(dir, 0o755);
const pg = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
const home = await startLocalHome({ databaseUrl: pg.url, port: 0, secrets: generateSecrets() });
const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
try {
  const s = await seed(home, admin, { users: 200, profilesPerUser: 5 });
  const claims = { sub: s.userId, role: "authenticated", profile_id: s.profileId, api_key_id: "x" };
  await admin.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
    await tx`set local role authenticated`;
    const plan = await tx.unsafe(`explain (analyze, buffers, costs off)
      select p.id, p.name, p.description, p.timezone, p.created_at, p.updated_at, m.role
      from public.profiles p
      join public.profile_members m on m.profile_id = p.id and m.user_id = (select auth.uid())
      where true order by p.created_at desc, p.id desc limit 51`);
    console.log(plan.map((r: any) => r["QUERY PLAN"]).join("\n"));
  });
  const plan2 = await admin.unsafe(`explain (analyze, buffers, costs off)
      select p.id, p.name, p.description, p.timezone, p.created_at, p.updated_at, m.role
      from public.profiles p
      join public.profile_members m on m.profile_id = p.id and m.user_id = '${s.userId}'
      where true order by p.created_at desc, p.id desc limit 51`);
  console.log("---- floor\n" + plan2.map((r: any) => r["QUERY PLAN"]).join("\n"));
  const plan3 = await admin.unsafe(`explain (analyze, buffers, costs off)
    with k as (
      select k.id, k.user_id, k.profile_id, k.status, b.status as billing_status, b.plan
      from public.api_keys k
      left join public.billing_subscriptions b on b.user_id = k.user_id
      where k.key_hash = '${sha256Hex(s.apiKey)}'
    ), touched as (
      update public.api_keys set last_used_at = now()
      where id = (select id from k where status = 'active')
        and (last_used_at is null or last_used_at < now() - interval '60 seconds')
      returning id
    )
    select * from k`);
  console.log("---- verify\n" + plan3.map((r: any) => r["QUERY PLAN"]).join("\n"));

  // In-process, sequential: time per request through home.fetch vs one direct query.
  const req = () => new Request(`${home.url}/api/v1/profiles`, { headers: { "x-api-key": s.apiKey } });
  for (let i = 0; i < 200; i++) await (await home.fetch(req())).text();
  let t = performance.now();
  const N = 2000;
  for (let i = 0; i < N; i++) await (await home.fetch(req())).text();
  console.log(`home.fetch sequential: ${((performance.now() - t) / N * 1000).toFixed(0)} µs/request`);
  const direct = postgres(pg.url, { max: 3, prepare: false, onnotice: () => {} });
  for (let i = 0; i < 200; i++) await direct`select 1`;
  t = performance.now();
  for (let i = 0; i < N; i++) await direct`select p.id, p.name, p.description, p.timezone, p.created_at, p.updated_at, m.role
      from public.profiles p join public.profile_members m on m.profile_id = p.id and m.user_id = ${s.userId}
      where true order by p.created_at desc, p.id desc limit ${51}`;
  console.log(`direct select sequential: ${((performance.now() - t) / N * 1000).toFixed(0)} µs/query`);
  t = performance.now();
  for (let i = 0; i < N; i++) await direct`select 1`;
  console.log(`select 1 sequential: ${((performance.now() - t) / N * 1000).toFixed(0)} µs/query`);
  await direct.end();
} finally {
  await admin.end();
  await home.stop();
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
