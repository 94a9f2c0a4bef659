import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { startEmbeddedPostgres } from "../src/local/embedded-postgres.js";
import { generateSecrets, startLocalHome } from "../src/local/home.js";
import { seed } from "./api-overhead/seed.js";

const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-bench-scratch-"));
await chmod(dir, 0o755);
const pg = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
const home = await startLocalHome({ databaseUrl: pg.url, port: 0, secrets: generateSecrets() });
const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
const one = postgres(pg.url, { max: 1, prepare: false, onnotice: () => {} });
const listSql = (tx: postgres.TransactionSql) => tx`select p.id, p.name, p.description, p.timezone, p.created_at, p.updated_at, m.role
      from public.profiles p join public.profile_members m on m.profile_id = p.id and m.user_id = (select auth.uid())
      where true order by p.created_at desc, p.id desc limit ${51}`;
async function time(label: string, n: number, f: () => Promise<unknown>) {
  for (let i = 0; i < 100; i++) await f();
  const t = performance.now();
  for (let i = 0; i < n; i++) await f();
  console.log(`${label.padEnd(50)} ${((performance.now() - t) / n * 1000).toFixed(0)} µs`);
}
try {
  const s = await seed(home, admin, { users: 200, profilesPerUser: 5 });
  const claims = JSON.stringify({ sub: s.userId, role: "authenticated", profile_id: s.profileId, api_key_id: "x" });
  const N = 1000;
  const inTx = (label: string) => time(label, N, () => one.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${claims}, true)`;
    await tx`set local role authenticated`;
    return listSql(tx);
  }));
  const explain = async () => one.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${claims}, true)`;
    await tx`set local role authenticated`;
    for (let i = 0; i < 3; i++) await listSql(tx);
    const rows = await tx.unsafe(`explain (analyze, costs off, timing on, summary on)
      select p.id, p.name, p.description, p.timezone, p.created_at, p.updated_at, m.role
      from public.profiles p join public.profile_members m on m.profile_id = p.id and m.user_id = (select auth.uid())
      where true order by p.created_at desc, p.id desc limit 51`);
    console.log(rows.map((r: any) => r["QUERY PLAN"]).join("\n"));
  });
  await time("tx + claims + role, select 1", N, () => one.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${claims}, true)`;
    await tx`set local role authenticated`;
    return tx`select 1`;
  }));
  await inTx("tx + claims + role, list under RLS (as is)");
  await explain();
  await time("no tx, list as postgres (bypasses RLS)", N, () => one`select p.id, p.name, p.description, p.timezone, p.created_at, p.updated_at, m.role
      from public.profiles p join public.profile_members m on m.profile_id = p.id and m.user_id = ${s.userId}
      where true order by p.created_at desc, p.id desc limit ${51}`);
  // Experiment: the same policy function in PL/pgSQL (its statements' plans are cached per session).
  await admin.unsafe(`
    create or replace function public.has_profile_role(p_profile_id uuid, p_roles text[] default null) returns boolean
    language plpgsql stable security definer set search_path = '' as $$
    declare scope uuid := nullif((nullif(current_setting('request.jwt.claims', true), '')::jsonb) ->> 'profile_id', '')::uuid;
    begin
      return (scope is null or scope = p_profile_id)
        and exists (select 1 from public.profile_members m
                    where m.profile_id = p_profile_id
                      and m.user_id = (select auth.uid())
                      and m.invitation_status = 'active'
                      and (p_roles is null or m.role = any (p_roles)));
    end $$`);
  await one.end(); // new sessions
  const two = postgres(pg.url, { max: 1, prepare: false, onnotice: () => {} });

  await time("EXPERIMENT plpgsql has_profile_role", N, () => two.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${claims}, true)`;
    await tx`set local role authenticated`;
    return listSql(tx);
  }));
  // Experiment: without `set search_path` on the function (proconfig forces a GUC save/restore per call and blocks inlining)
  await admin.unsafe(`alter function public.has_profile_role(uuid, text[]) reset search_path`);
  await time("EXPERIMENT plpgsql, no proconfig", N, () => two.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${claims}, true)`;
    await tx`set local role authenticated`;
    return listSql(tx);
  }));
  await two.end();
} finally {
  await admin.end();
  await home.stop();
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
