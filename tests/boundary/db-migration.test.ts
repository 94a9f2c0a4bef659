import { randomBytes, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { localBuiltinsDir, migrationsDir } from "../../src/local/migrate.js";

/**
 * The trust-boundary migration runs on databases already in use (findings 1 and 4): rows that only the old, open
 * policies allowed (a target using another tenant's connection or post, media or events pointing across profiles) are
 * repaired before the composite foreign keys are added, keeping the data wherever a reference can let go, and the
 * migration applies cleanly over them.
 */
const BOUNDARY = "20261206000000";

let admin: postgres.Sql;
let db: postgres.Sql;
let name: string;

async function sqlFiles(dir: string, filter: (version: string) => boolean): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".sql") && filter(n.split("_")[0]!)).sort();
  return Promise.all(names.map((n) => readFile(path.join(dir, n), "utf8")));
}

beforeAll(async () => {
  const serverUrl = inject("pgServerUrl");
  name = `amplify_t_repair_${process.pid}_${randomBytes(4).toString("hex")}`;
  admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  db = postgres(url.toString(), { max: 1, onnotice: () => {} });
  for (const text of await sqlFiles(localBuiltinsDir, () => true)) await db.unsafe(text);
  for (const text of await sqlFiles(migrationsDir, (v) => v < BOUNDARY)) await db.unsafe(text);
});

afterAll(async () => {
  await db?.end({ timeout: 5 });
  await admin?.unsafe(`drop database if exists ${name} with (force)`);
  await admin?.end({ timeout: 5 });
});

describe("the trust-boundary migration repairs rows forged before it and keeps the data", () => {
  it("cancels targets using another tenant's connection, drops references across profiles, then adds the keys", async () => {
    const ids = () => ({ user: randomUUID(), profile: randomUUID(), connection: randomUUID(), post: randomUUID(), target: randomUUID(), media: randomUUID() });
    const a = ids();
    const b = ids();
    for (const x of [a, b]) {
      await db`insert into auth.users (id, email) values (${x.user}, ${`${x.user}@example.com`})`;
      await db`insert into public.profiles (id, name, created_by) values (${x.profile}, 'P', ${x.user})`;
      await db`insert into public.profile_members (profile_id, user_id, role) values (${x.profile}, ${x.user}, 'owner')`;
      await db`insert into public.connections (id, profile_id, platform, external_account_id, username, access_token_enc)
               values (${x.connection}, ${x.profile}, 'twitter', ${x.user}, 'u', 'ciphertext')`;
      await db`insert into public.posts (id, profile_id, content) values (${x.post}, ${x.profile}, 'text')`;
      await db`insert into public.post_targets (id, post_id, profile_id, platform, connection_id) values (${x.target}, ${x.post}, ${x.profile}, 'twitter', ${x.connection})`;
      await db`insert into public.media (id, profile_id, file_path, public_url, mime_type, file_size, file_name)
               values (${x.media}, ${x.profile}, ${x.media}, 'https://s.example/m', 'image/jpeg', 1, 'm.jpg')`;
    }
    // What the open policies let A write: a target publishing with B's account, one publishing B's post, media of B
    // attached to A's post, an event and a job log naming B's post.
    const [withTheirAccount] = await db`insert into public.post_targets (post_id, profile_id, platform, connection_id)
      values (${a.post}, ${a.profile}, 'linkedin', ${b.connection}) returning id`;
    const [withTheirPost] = await db`insert into public.post_targets (post_id, profile_id, platform, connection_id)
      values (${b.post}, ${a.profile}, 'twitter', ${a.connection}) returning id`;
    const [withTheirMedia] = await db`insert into public.post_media (post_id, profile_id, media_id, public_url, mime_type)
      values (${a.post}, ${a.profile}, ${b.media}, 'https://s.example/m', 'image/jpeg') returning id`;
    const [event] = await db`insert into public.events (profile_id, event_type, post_id, payload)
      values (${a.profile}, 'post.failed', ${b.post}, '{"kept": true}') returning id`;
    const [jobLog] = await db`insert into public.job_logs (profile_id, post_id, platform, status, attempt_number, started_at, completed_at, duration_ms)
      values (${a.profile}, ${b.post}, 'twitter', 'failed', 1, now(), now(), 1) returning id`;

    for (const text of await sqlFiles(migrationsDir, (v) => v === BOUNDARY)) await db.unsafe(text);

    const [target] = await db`select connection_id, status, error_message from public.post_targets where id = ${withTheirAccount!.id}`;
    expect(target).toEqual({ connection_id: null, status: "canceled", error_message: expect.stringMatching(/another profile/) });
    expect(await db`select 1 from public.post_targets where id = ${withTheirPost!.id}`).toHaveLength(0);
    expect(await db`select media_id from public.post_media where id = ${withTheirMedia!.id}`).toEqual([{ media_id: null }]);
    expect(await db`select post_id, payload from public.events where id = ${event!.id}`).toEqual([{ post_id: null, payload: { kept: true } }]);
    expect(await db`select post_id from public.job_logs where id = ${jobLog!.id}`).toEqual([{ post_id: null }]);
    // Everyone's own rows are untouched.
    const own = await db`select id, status, connection_id from public.post_targets where id = any(${[a.target, b.target]}::uuid[]) order by id`;
    expect(own.map((r) => r.status)).toEqual(["pending", "pending"]);
    expect(own.every((r) => r.connection_id !== null)).toBe(true);
    // And the constraint now holds.
    await expect(db`update public.post_targets set connection_id = ${b.connection} where id = ${a.target}`).rejects.toMatchObject({ code: "23503" });
  });
});
