import { describe, expect, it } from "vitest";
import type postgres from "postgres";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, createProfile, paidUserWithKey } from "../helpers/users.js";

const t = useTestHome();

/** Runs `fn` exactly as a request does (src/core/db.ts withClaims): one transaction as `amplify_api` with the given JWT claims. */
async function asClaims<T>(claims: Record<string, unknown>, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return (await t.sql.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${JSON.stringify({ role: "authenticated", ...claims })}, true)`;
    await tx`set local role amplify_api`;
    return fn(tx);
  })) as T;
}

describe("row-level security in the catalog", () => {
  it("is enabled on every table in the public schema, with at least one policy or none needed", async () => {
    const tables = await t.sql<{ table: string; rls: boolean }[]>`
      select c.relname as table, c.relrowsecurity as rls
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p')
      order by 1`;
    expect(tables.length).toBeGreaterThanOrEqual(4);
    const without = tables.filter((r) => !r.rls).map((r) => r.table);
    expect(without, `tables without row-level security: ${without.join(", ")}`).toEqual([]);
  });

  it("names every policy as a sentence", async () => {
    const policies = await t.sql<{ policyname: string }[]>`select policyname from pg_catalog.pg_policies where schemaname = 'public'`;
    expect(policies.length).toBeGreaterThan(0);
    for (const { policyname } of policies) expect(policyname).toMatch(/^[A-Z][a-z]+( [a-z']+)+$/);
  });

  it("pins search_path on every security definer function", async () => {
    const loose = await t.sql<{ proname: string }[]>`
      select p.proname from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and p.prosecdef
        and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%')`;
    expect(loose.map((r) => r.proname)).toEqual([]);
  });
});

describe("tenancy enforced by the database", () => {
  it("a user's session cannot read or change another user's profiles, members, keys or billing", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    await asClaims({ sub: b.user.id }, async (tx) => {
      expect(await tx`select id from public.profiles where id = ${a.profileId}`).toHaveLength(0);
      expect((await tx`select id from public.profiles`).map((r) => r.id)).toEqual([b.profileId]);
      expect(await tx`select id from public.profile_members where profile_id = ${a.profileId}`).toHaveLength(0);
      expect(await tx`update public.profiles set name = 'pwned' where id = ${a.profileId} returning id`).toHaveLength(0);
      expect(await tx`delete from public.profiles where id = ${a.profileId} returning id`).toHaveLength(0);
      expect(await tx`select id from public.api_keys where user_id = ${a.user.id}`).toHaveLength(0);
      expect(await tx`update public.api_keys set status = 'revoked' where id = ${a.keyId} returning id`).toHaveLength(0);
      expect(await tx`select user_id from public.billing_subscriptions`).toEqual([{ user_id: b.user.id }]);
    });
    // Billing rows are the service connection's: our request role may not write them at all.
    await expect(
      asClaims({ sub: b.user.id }, (tx) => tx`update public.billing_subscriptions set plan = 'unlimited' returning id`),
    ).rejects.toMatchObject({ code: "42501" });
    await expect(
      asClaims({ sub: b.user.id }, (tx) => tx`insert into public.profile_members (profile_id, user_id, role) values (${a.profileId}, ${b.user.id}, 'owner')`),
    ).rejects.toMatchObject({ code: "42501" });
    await expect(
      asClaims({ sub: b.user.id }, (tx) => tx`insert into public.api_keys (user_id, profile_id, name, key_hash, key_suffix) values (${b.user.id}, ${a.profileId}, 'x', 'h', 's')`),
    ).rejects.toMatchObject({ code: "42501" });
    await expect(asClaims({ sub: a.user.id }, (tx) => tx`select key_hash from public.api_keys`)).rejects.toMatchObject({ code: "42501" });
    const [stillThere] = await t.sql`select name from public.profiles where id = ${a.profileId}`;
    expect(stillThere!.name).toBe("Acme");
  });

  it("an API key's claims confine it to its one profile, even among its owner's profiles", async () => {
    const a = await paidUserWithKey(t);
    const second = await createProfile(t, a.user, "Second");
    await asClaims({ sub: a.user.id, profile_id: a.profileId }, async (tx) => {
      expect((await tx`select id from public.profiles`).map((r) => r.id)).toEqual([a.profileId]);
      expect(await tx`update public.profiles set name = 'x' where id = ${second} returning id`).toHaveLength(0);
      expect(await tx`select id from public.profile_members where profile_id = ${second}`).toHaveLength(0);
    });
    await expect(
      asClaims({ sub: a.user.id, profile_id: a.profileId }, (tx) => tx`select * from public.create_profile('via key')`),
    ).rejects.toMatchObject({ code: "42501" });
  });

  it("the data API's roles (anon, authenticated) are refused outright, and amplify_api without claims sees nothing", async () => {
    const a = await paidUserWithKey(t);
    for (const role of ["anon", "authenticated"]) {
      await expect(
        t.sql.begin(async (tx) => {
          await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: a.user.id, role: "authenticated" })}, true)`;
          await tx.unsafe(`set local role ${role}`);
          return tx`select id from public.profiles`;
        }),
      ).rejects.toMatchObject({ code: "42501" });
    }
    const rows = await t.sql.begin(async (tx) => {
      await tx`set local role amplify_api`;
      return tx`select id from public.profiles union all select id from public.billing_subscriptions`;
    });
    expect(rows).toHaveLength(0);
  });
});

describe("tenancy through the API, whatever ids are sent", () => {
  it("another user's session gets 404 for a profile and its keys", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    for (const [method, body] of [["GET"], ["PATCH", { name: "pwned" }], ["DELETE"]] as const) {
      assertEnvelope(await t.call(method, `/api/v1/profiles/${a.profileId}`, { token: b.user.token, body }), 404, "not_found");
      assertEnvelope(await t.call(method, `/api/v1/profiles/${a.profileId}`, { apiKey: b.apiKey, body }), 404, "not_found");
    }
    assertEnvelope(await t.call("DELETE", `/api/api-keys/${a.keyId}`, { token: b.user.token }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", `/api/v1/api-keys/${a.keyId}`, { apiKey: b.apiKey }), 404, "not_found");
    assertEnvelope(await t.call("POST", "/api/api-keys", { token: b.user.token, body: { name: "x", profileId: a.profileId } }), 404, "not_found");
    const keys = await t.call("GET", `/api/api-keys?profileId=${a.profileId}`, { token: b.user.token });
    expect(keys.body.apiKeys).toEqual([]);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey: a.apiKey })).status).toBe(200);
    const [row] = await t.sql`select name, (select status from public.api_keys where id = ${a.keyId}) as key_status from public.profiles where id = ${a.profileId}`;
    expect(row).toEqual({ name: "Acme", key_status: "active" });
  });

  // Finding 8: removing a member revokes the keys they made for that profile (a trigger on profile_members).
  it("a key keeps working only while its owner still belongs to the profile", async () => {
    const owner = await paidUserWithKey(t);
    const member = await paidUserWithKey(t);
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${owner.profileId}, ${member.user.id}, 'member')`;
    const memberKey = await createApiKey(t, member.user, owner.profileId, "member's key");
    expect((await t.call("GET", `/api/v1/profiles/${owner.profileId}`, { apiKey: memberKey.key })).status).toBe(200);
    await t.sql`delete from public.profile_members where profile_id = ${owner.profileId} and user_id = ${member.user.id}`;
    assertEnvelope(await t.call("GET", `/api/v1/profiles/${owner.profileId}`, { apiKey: memberKey.key }), 401, "invalid_api_key");
    const [key] = await t.sql`select status, revoked_at from public.api_keys where id = ${memberKey.id}`;
    expect(key!.status).toBe("revoked");
    expect(key!.revoked_at).toBeInstanceOf(Date);
  });
});
