import http from "node:http";
import { chmodSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import postgres from "postgres";
import { startEmbeddedPostgres } from "../src/local/embedded-postgres.js";
import { generateSecrets, startLocalHome } from "../src/local/home.js";
import { sha256Hex } from "../src/core/crypto.js";
import { seed } from "./api-overhead/seed.js";
import { postgresCpu } from "./api-overhead/cpu.js";

const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-bench-scratch-"));
chmodSync(dir, 0o755);
const pg = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
const home = await startLocalHome({ databaseUrl: pg.url, port: 0, secrets: generateSecrets() });
const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
const cpu = postgresCpu(path.join(dir, "pg"))!;
const sql = postgres(pg.url, { max: 3, prepare: false, onnotice: () => {} });
const servers: http.Server[] = [];
try {
  const s = await seed(home, admin, { users: 200, profilesPerUser: 5 });
  const claims = JSON.stringify({ sub: s.userId, role: "authenticated", profile_id: s.profileId, api_key_id: "x" });
  const hash = sha256Hex(s.apiKey);
  const list = (q: postgres.Sql | postgres.TransactionSql, uid: unknown) => q`select p.id, p.name, p.description, p.timezone, p.created_at, p.updated_at, m.role
      from public.profiles p join public.profile_members m on m.profile_id = p.id and m.user_id = ${uid as string}
      where true order by p.created_at desc, p.id desc limit ${51}`;
  const verify = () => sql`
    with k as (
      select k.id, k.user_id, k.profile_id, k.status, b.status as billing_status, b.plan
      from public.api_keys k left join public.billing_subscriptions b on b.user_id = k.user_id
      where k.key_hash = ${hash}
    ), touched as (
      update public.api_keys set last_used_at = now()
      where id = (select id from k where status = 'active')
        and (last_used_at is null or last_used_at < now() - interval '60 seconds')
      returning id
    )
    select * from k`;
  const variants: Record<string, () => Promise<unknown>> = {
    "1 stmt: bare select (floor)": () => list(sql, s.userId),
    "2 stmts: key lookup + bare select": async () => { await verify(); return list(sql, s.userId); },
    "6 stmts: key lookup + RLS tx as today": async () => {
      await verify();
      return sql.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${claims}, true), set_config('statement_timeout', '15s', true)`;
        await tx`set local role authenticated`;
        return list(tx, tx`(select auth.uid())`);
      });
    },
    "6 stmts, same tx but role stays postgres (no RLS)": async () => {
      await verify();
      return sql.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${claims}, true), set_config('statement_timeout', '15s', true)`;
        await tx`select 1`;
        return list(tx, tx`(select auth.uid())`);
      });
    },
    "4 round trips: key lookup + RLS tx, setup pipelined": async () => {
      await verify();
      return sql.begin(async (tx) => {
        void tx`select set_config('request.jwt.claims', ${claims}, true), set_config('statement_timeout', '15s', true), set_config('role', 'authenticated', true)`.execute();
        return list(tx, tx`(select auth.uid())`);
      });
    },
  };
  const body = async (res: http.ServerResponse, f: () => Promise<unknown>) => {
    const rows = (await f()) as any[];
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ profiles: rows.slice(0, 50), nextCursor: null }));
  };
  const run = async (label: string, url: string, headers: Record<string, string> = {}) => {
    await autocannon({ url, headers, duration: 2, connections: 10, workers: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const elu = performance.eventLoopUtilization(); const c0 = cpu();
    const r = await autocannon({ url, headers, duration: 6, connections: 10, workers: 1 });
    const e = performance.eventLoopUtilization(elu); const c1 = cpu();
    const n = r.latency.totalCount;
    console.log(`${label.padEnd(52)} ${r.requests.average.toFixed(0).padStart(6)} req/s  p50 ${String(r.latency.p50).padStart(3)} ms  node ${(e.active / n).toFixed(2)} ms/req  pg ${((c1 - c0) / n).toFixed(2)} ms/req  non2xx ${r.non2xx}`);
    await new Promise((r) => setTimeout(r, 500));
  };
  for (const [label, f] of Object.entries(variants)) {
    const server = http.createServer((_req, res) => void body(res, f).catch((e) => { console.error(e); res.writeHead(500).end(); }));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    await run(label, `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  }
  if (process.env.PLPGSQL) { await admin.unsafe(process.env.PLPGSQL); console.log("--- has_profile_role in plpgsql"); await run("6 stmts plpgsql", `http://127.0.0.1:${(servers[2]!.address() as AddressInfo).port}/`); }
  await run("ours (full pipeline)", home.url.replace("localhost", "127.0.0.1") + "/api/v1/profiles", { "x-api-key": s.apiKey });
} finally {
  for (const server of servers) { server.closeAllConnections(); server.close(); }
  await new Promise((r) => setTimeout(r, 500));
  await sql.end();
  await admin.end();
  await home.stop();
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
