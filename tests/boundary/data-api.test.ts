import { randomBytes, randomUUID } from "node:crypto";
import type postgres from "postgres";
import { beforeAll, describe, expect, it } from "vitest";
import { flushApiUsage } from "../../src/core/ratelimit/api-usage.js";
import { useTestHome } from "../helpers/home.js";
import { asRole, buildTenant, type Tenant } from "./db-tenants.js";

/**
 * The data API suite (issue 9, the boundary made mechanical). In the cloud any signed-in user can call Supabase's data
 * API directly (`/rest/v1/<table>`, `/rest/v1/rpc/<fn>`) as `authenticated` (or `anon`) with their own claims, so the
 * database's grants are the boundary. Every relation and function in schema public is enumerated from pg_catalog
 * and must have an entry in the expectations below: a new table or function without one fails this suite, and so
 * does an entry for something that no longer exists.
 *
 * - `anon` and `authenticated` hold nothing: no privilege in the catalog, and every real attempt (select, insert,
 *   update, delete on every table; calling every function) fails with 42501.
 * - `amplify_api` (our request role, which the data API cannot assume) with tenant A's claims sees only A's rows of
 *   every tenant-scoped table, changes and removes none of tenant B's, and cannot insert a row naming B's profile.
 */
const t = useTestHome();

/** How amplify_api is confined on a table. */
type TableRule =
  /** Rows visible only in the caller's profiles; `column` holds the profile (profiles: its id). */
  | { scope: "profile"; column: string }
  /** Rows visible only when they are the caller's own (user_id). */
  | { scope: "own user" }
  /** The caller's own rows in their profiles (user_id and profile_id). */
  | { scope: "own user in profile" }
  /** amplify_api may insert (RLS-checked) but never read, change or remove. */
  | { scope: "insert only"; column: string }
  /** No privilege for amplify_api at all: the service connection's alone. */
  | { scope: "service only" };

const tables: Record<string, TableRule> = {
  profiles: { scope: "profile", column: "id" },
  profile_members: { scope: "profile", column: "profile_id" },
  api_keys: { scope: "own user in profile" },
  billing_subscriptions: { scope: "own user" },
  usage_counters: { scope: "own user" },
  stripe_events: { scope: "service only" },
  rate_limit_counters: { scope: "service only" },
  oauth_states: { scope: "insert only", column: "profile_id" },
  connections: { scope: "profile", column: "profile_id" },
  posts: { scope: "profile", column: "profile_id" },
  post_media: { scope: "profile", column: "profile_id" },
  post_targets: { scope: "profile", column: "profile_id" },
  job_logs: { scope: "profile", column: "profile_id" },
  events: { scope: "profile", column: "profile_id" },
  idempotency_keys: { scope: "own user in profile" },
  media: { scope: "profile", column: "profile_id" },
  webhook_endpoints: { scope: "profile", column: "profile_id" },
  webhook_deliveries: { scope: "profile", column: "profile_id" },
  webhook_delivery_attempts: { scope: "profile", column: "profile_id" },
  connect_return_origins: { scope: "profile", column: "profile_id" },
  profile_invitations: { scope: "profile", column: "profile_id" },
  post_metric_snapshots: { scope: "profile", column: "profile_id" },
  account_metric_snapshots: { scope: "profile", column: "profile_id" },
  analytics_sync_state: { scope: "profile", column: "profile_id" },
  post_metric_rollups: { scope: "profile", column: "profile_id" },
  post_metric_hourly: { scope: "profile", column: "profile_id" },
  templates: { scope: "profile", column: "profile_id" },
  template_media: { scope: "profile", column: "profile_id" },
  recurring_schedules: { scope: "profile", column: "profile_id" },
  white_label_brands: { scope: "own user" },
  white_label_apps: { scope: "own user" },
};

/** Who may execute each function in public (by its signature). Nobody else may: not anon, authenticated or PUBLIC. */
type FunctionRule = "amplify_api only" | "trigger" | "service only";

const functions: Record<string, FunctionRule> = {
  "accessible_profile_ids(text[])": "amplify_api only",
  "has_profile_role(uuid,text[])": "amplify_api only",
  "request_profile_scope()": "amplify_api only",
  "count_template_use(uuid)": "amplify_api only",
  "create_profile(text,text,text)": "amplify_api only",
  "consume_post_quota(uuid,integer,jsonb)": "amplify_api only",
  "record_scheduled_event(uuid)": "amplify_api only",
  "record_partial_event(uuid)": "amplify_api only",
  "refresh_post_status(uuid)": "amplify_api only",
  "profile_owner_subscription(uuid)": "amplify_api only",
  "usage_period(timestamp with time zone,timestamp with time zone)": "amplify_api only",
  "usage_add(uuid,text,integer,integer,timestamp with time zone,timestamp with time zone)": "service only",
  "rate_limit_hit(text,bigint,integer)": "service only",
  "verify_api_key(text,text,bigint)": "service only",
  "claim_publish_target(uuid,boolean,integer)": "service only",
  "settle_published_target(uuid,uuid,uuid,timestamp with time zone,text,text,jsonb)": "service only",
  "post_targets_to_hourly_on_update()": "trigger",
  "touch_updated_at()": "trigger",
  "handle_new_user_billing()": "trigger",
  "fan_out_event_to_webhook_endpoints()": "trigger",
  "hand_off_after_commit()": "trigger",
  "refuse_created_by_change()": "trigger",
  "revoke_keys_of_departed_member()": "trigger",
  "guard_api_key_update()": "trigger",
  "guard_post_target_transition()": "trigger",
  "enforce_webhook_endpoint_cap()": "trigger",
  "guard_webhook_delivery_update()": "trigger",
  "connect_return_origins_cap()": "trigger",
  "check_single_owner()": "trigger",
  "record_member_removed()": "trigger",
  "create_profile_invitation(uuid,text,text,text)": "amplify_api only",
  "resend_profile_invitation(uuid,uuid,text)": "amplify_api only",
  "accept_profile_invitation(text)": "amplify_api only",
  "profile_member_users(uuid)": "amplify_api only",
  "transfer_profile_ownership(uuid,uuid,jsonb,integer)": "amplify_api only",
  "request_analytics_sync(uuid)": "amplify_api only",
  "arm_metrics_on_publish()": "trigger",
  "arm_analytics_sync_on_connect()": "trigger",
  "refresh_post_metric_rollups(uuid[])": "service only",
  "roll_up_post_metric_snapshots()": "trigger",
  "add_post_metric_hourly(post_metric_rollups[],integer)": "service only",
  "add_published_hourly(post_targets[],integer)": "service only",
  "post_metric_rollups_to_hourly()": "trigger",
  "post_targets_to_hourly()": "trigger",
  "record_white_label_lapse()": "trigger",
};

/**
 * An insert by tenant `a` naming tenant `b`'s profile, valid in every other respect, for each table amplify_api may
 * insert into. A table amplify_api may insert into without an entry here fails the suite.
 */
const foreignInserts: Record<string, (tx: postgres.TransactionSql, a: Tenant, b: Tenant) => Promise<unknown>> = {
  api_keys: (tx, a, b) => tx`
    insert into public.api_keys (user_id, profile_id, name, key_hash, key_suffix)
    values (${a.user.id}, ${b.profileId}, 'forged', ${randomBytes(16).toString("hex")}, 'abcdefgh')`,
  oauth_states: (tx, a, b) => tx`
    insert into public.oauth_states (state, profile_id, user_id, platform, code_verifier, redirect_uri, return_url, expires_at)
    values (${randomBytes(12).toString("hex")}, ${b.profileId}, ${a.user.id}, 'twitter', 'v', 'https://app.example/cb',
            'https://app.example/back', now() + interval '10 minutes')`,
  posts: (tx, a, b) => tx`
    insert into public.posts (profile_id, content, status, created_by) values (${b.profileId}, 'forged', 'scheduled', ${a.user.id})`,
  post_media: (tx, _a, b) => tx`
    insert into public.post_media (post_id, profile_id, public_url, mime_type) values (${b.postId}, ${b.profileId}, 'https://x.example/a.jpg', 'image/jpeg')`,
  post_targets: (tx, _a, b) => tx`
    insert into public.post_targets (post_id, profile_id, platform, connection_id) values (${b.postId}, ${b.profileId}, 'twitter', ${b.connectionId})`,
  media: (tx, a, b) => {
    const id = randomUUID();
    return tx`
      insert into public.media (id, profile_id, uploaded_by, file_path, public_url, mime_type, file_size, file_name)
      values (${id}, ${b.profileId}, ${a.user.id}, ${`${a.user.id}/${b.profileId}/${id}-x.jpg`}, 'https://x.example/x.jpg', 'image/jpeg', 10, 'x.jpg')`;
  },
  idempotency_keys: (tx, a, b) => tx`
    insert into public.idempotency_keys (profile_id, user_id, idempotency_key, request_hash) values (${b.profileId}, ${a.user.id}, 'forged', 'h')`,
  webhook_endpoints: (tx, a, b) => tx`
    insert into public.webhook_endpoints (profile_id, url, secret_enc, events, max_retries, created_by)
    values (${b.profileId}, 'https://forged.example/h', 'x', '{*}', 5, ${a.user.id})`,
  templates: (tx, a, b) => tx`
    insert into public.templates (profile_id, name, content, created_by) values (${b.profileId}, 'forged', 'x', ${a.user.id})`,
  template_media: (tx, _a, b) => tx`
    insert into public.template_media (template_id, profile_id, public_url, mime_type)
    values (${b.templateId}, ${b.profileId}, 'https://x.example/a.jpg', 'image/jpeg')`,
  connect_return_origins: (tx, a, b) => tx`
    insert into public.connect_return_origins (profile_id, origin, created_by) values (${b.profileId}, 'https://forged.example', ${a.user.id})`,
  white_label_brands: (tx, _a, b) => tx`
    insert into public.white_label_brands (user_id, display_name) values (${b.user.id}, 'Forged brand')`,
  white_label_apps: (tx, _a, b) => tx`
    insert into public.white_label_apps (id, user_id, platform, client_id, client_secret_enc)
    values (${randomUUID()}, ${b.user.id}, 'linkedin', 'forged-client', 'x')`,
  recurring_schedules: (tx, a, b) => tx`
    insert into public.recurring_schedules (profile_id, name, content, platforms, recurrence_pattern, time_of_day, timezone, anchor_at, created_by)
    values (${b.profileId}, 'forged', 'x', '{twitter}', 'daily', '09:00:00', 'UTC', now(), ${a.user.id})`,
};

interface Relation {
  name: string;
  kind: string;
  columns: string[];
}

interface Fn {
  signature: string;
  name: string;
  args: string[];
  is_trigger: boolean;
}

let relations: Relation[];
let fns: Fn[];
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  relations = await t.sql<Relation[]>`
    select c.relname as name, c.relkind as kind,
      array(select a.attname::text from pg_catalog.pg_attribute a
            where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as columns
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
    order by 1`;
  fns = await t.sql<Fn[]>`
    select p.oid::regprocedure::text as signature, p.proname as name,
      array(select format_type(x.t, null) from unnest(p.proargtypes) with ordinality x(t, i) order by x.i) as args,
      p.prorettype = 'trigger'::regtype as is_trigger
    from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public'
    order by 1`;
  a = await buildTenant(t);
  b = await buildTenant(t);
  // The tenants' API requests are counted in this process and written in batches on a timer: written now, so that no
  // batch lands in usage_counters while a test compares its rows before and after.
  await flushApiUsage();
}, 120_000);

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

describe("every relation and function in public has an expectation", () => {
  it("lists every relation (tables, views, materialized views, sequences, partitioned and foreign tables)", () => {
    const names = relations.map((r) => r.name);
    expect(names.filter((n) => !(n in tables)), "relations without an entry in `tables`").toEqual([]);
    expect(Object.keys(tables).filter((n) => !names.includes(n)), "entries in `tables` that no longer exist").toEqual([]);
  });

  it("lists every function", () => {
    const signatures = fns.map((f) => f.signature);
    expect(signatures.filter((s) => !(s in functions)), "functions without an entry in `functions`").toEqual([]);
    expect(Object.keys(functions).filter((s) => !signatures.includes(s)), "entries in `functions` that no longer exist").toEqual([]);
    for (const f of fns) expect(functions[f.signature] === "trigger", `${f.signature}: trigger or not`).toBe(f.is_trigger);
  });
});

describe("the data API's roles hold nothing in public", () => {
  it("no role the data API can assume is a member of amplify_api", async () => {
    const [row] = await t.sql<{ roles: { role: string; member: boolean; usage: boolean }[] }[]>`
      select json_agg(json_build_object('role', r, 'member', pg_has_role(r, 'amplify_api', 'MEMBER'),
                                        'usage', pg_has_role(r, 'amplify_api', 'USAGE'))) as roles
      from unnest(array['authenticator', 'anon', 'authenticated', 'service_role']) r`;
    expect(row!.roles).toEqual(
      ["authenticator", "anon", "authenticated", "service_role"].map((role) => ({ role, member: false, usage: false })),
    );
    const [login] = await t.sql<{ rolcanlogin: boolean }[]>`select rolcanlogin from pg_roles where rolname = 'amplify_api'`;
    expect(login!.rolcanlogin).toBe(false);
  });

  it("every policy in public applies to amplify_api and to nobody else", async () => {
    const policies = await t.sql<{ tablename: string; policyname: string; roles: string[] }[]>`
      select tablename, policyname, roles::text[] as roles from pg_catalog.pg_policies where schemaname = 'public'`;
    expect(policies.length).toBeGreaterThan(10);
    expect(policies.filter((p) => p.roles.join(",") !== "amplify_api")).toEqual([]);
  });

  it("anon and authenticated have no table, column, sequence or function privilege in the catalog", async () => {
    const leaks = await t.sql<{ role: string; object: string; kind: string }[]>`
      with roles(role) as (values ('anon'), ('authenticated'))
      select role, c.relname::text as object, 'relation' as kind
      from roles, pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
        and (has_table_privilege(role, c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER')
             or has_any_column_privilege(role, c.oid, 'SELECT,INSERT,UPDATE,REFERENCES'))
      union all
      select role, c.relname::text, 'sequence'
      from roles, pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'S' and has_sequence_privilege(role, c.oid, 'USAGE,SELECT,UPDATE')
      union all
      select role, p.oid::regprocedure::text, 'function'
      from roles, pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and has_function_privilege(role, p.oid, 'EXECUTE')`;
    expect(leaks).toEqual([]);
  });

  it("new objects get nothing either: no default privileges for anon, authenticated or PUBLIC in public", async () => {
    const defaults = await t.sql<{ acl: string }[]>`
      select d.defaclacl::text as acl from pg_catalog.pg_default_acl d
      left join pg_catalog.pg_namespace n on n.oid = d.defaclnamespace
      where n.nspname = 'public' or d.defaclnamespace = 0`;
    for (const { acl } of defaults) expect(acl).not.toMatch(/(^|[{,"])(anon|authenticated)?=/);
  });

  for (const role of ["authenticated", "anon"] as const) {
    it(`${role} with another tenant's claims is refused (42501) on every table and every function`, async () => {
      const refused: string[] = [];
      const allowed: string[] = [];
      await asRole(t.sql, role, { sub: a.user.id }, async (tx) => {
        const attempt = async (label: string, statement: string) => {
          try {
            await tx.savepoint((sp) => sp.unsafe(statement));
            allowed.push(label);
          } catch (error) {
            if ((error as { code?: string }).code === "42501") refused.push(label);
            else allowed.push(`${label}: ${(error as Error).message}`);
          }
        };
        for (const r of relations) {
          const table = `public.${ident(r.name)}`;
          const first = ident(r.columns[0]!);
          await attempt(`select ${r.name}`, `select * from ${table} limit 1`);
          if (r.kind === "S") continue;
          await attempt(`insert ${r.name}`, `insert into ${table} default values`);
          await attempt(`update ${r.name}`, `update ${table} set ${first} = ${first}`);
          await attempt(`delete ${r.name}`, `delete from ${table}`);
        }
        for (const f of fns) {
          const args = f.args.map((type) => `null::${type}`).join(", ");
          await attempt(`call ${f.signature}`, `select public.${ident(f.name)}(${args})`);
        }
      });
      expect(allowed).toEqual([]);
      expect(refused.length).toBeGreaterThan(relations.length * 3);
    });
  }
});

describe("amplify_api with tenant A's claims cannot reach tenant B", () => {
  interface Grants {
    table: string;
    privilege: string;
    columns: string[];
  }

  async function amplifyGrants(): Promise<Map<string, Map<string, string[]>>> {
    const rows = await t.sql<Grants[]>`
      select table_name as table, privilege_type as privilege, array_agg(column_name::text order by column_name) as columns
      from information_schema.column_privileges
      where table_schema = 'public' and grantee = 'amplify_api'
      group by 1, 2`;
    const byTable = new Map<string, Map<string, string[]>>();
    for (const r of rows) {
      if (!byTable.has(r.table)) byTable.set(r.table, new Map());
      byTable.get(r.table)!.set(r.privilege, r.columns);
    }
    return byTable;
  }

  /** The SQL condition picking tenant B's rows of a table. */
  function bRows(table: string, rule: TableRule): string {
    switch (rule.scope) {
      case "profile":
      case "insert only":
        return `${ident(rule.column)} = '${b.profileId}'`;
      case "own user":
        return `user_id = '${b.user.id}'`;
      case "own user in profile":
        return `profile_id = '${b.profileId}'`;
      case "service only":
        return "true";
    }
  }

  async function countOfB(table: string, rule: TableRule): Promise<number> {
    const [row] = await t.sql.unsafe<{ n: number }[]>(`select count(*)::int as n from public.${ident(table)} where ${bRows(table, rule)}`);
    return row!.n;
  }

  it("has something of B's in every tenant table the fixture builds, so the checks below mean something", async () => {
    const empty: string[] = [];
    for (const [table, rule] of Object.entries(tables)) {
      if (rule.scope === "service only" || table === "connect_return_origins") continue;
      if ((await countOfB(table, rule)) === 0) empty.push(table);
    }
    expect(empty).toEqual([]);
  });

  it("selects only A's rows from every tenant table, and nothing from service-only ones", async () => {
    const grants = await amplifyGrants();
    const problems: string[] = [];
    await asRole(t.sql, "amplify_api", { sub: a.user.id }, async (tx) => {
      for (const [table, rule] of Object.entries(tables)) {
        const readable = grants.get(table)?.get("SELECT") ?? [];
        if (rule.scope === "service only" || rule.scope === "insert only") {
          if (readable.length) problems.push(`${table}: amplify_api may read ${readable.join(", ")}`);
          try {
            await tx.savepoint((sp) => sp.unsafe(`select 1 from public.${ident(table)} limit 1`));
            problems.push(`${table}: select was allowed`);
          } catch (error) {
            if ((error as { code?: string }).code !== "42501") throw error;
          }
          continue;
        }
        const column = rule.scope === "profile" ? rule.column : rule.scope === "own user" ? "user_id" : "profile_id";
        const rows = await tx.unsafe<{ v: string }[]>(`select ${ident(column)}::text as v from public.${ident(table)}`);
        const mine = rule.scope === "own user" ? a.user.id : a.profileId;
        const foreign = rows.filter((r) => r.v !== mine);
        if (foreign.length) problems.push(`${table}: ${foreign.length} rows of other tenants visible`);
        if (rule.scope === "own user in profile") {
          const users = await tx.unsafe<{ v: string }[]>(`select distinct user_id::text as v from public.${ident(table)}`);
          if (users.some((u) => u.v !== a.user.id)) problems.push(`${table}: other users' rows visible`);
        }
      }
    });
    expect(problems).toEqual([]);
  });

  it("updates and deletes of B's rows change nothing in any table", async () => {
    const grants = await amplifyGrants();
    const before = new Map<string, number>();
    for (const [table, rule] of Object.entries(tables)) before.set(table, await countOfB(table, rule));
    const changed: string[] = [];
    await asRole(t.sql, "amplify_api", { sub: a.user.id }, async (tx) => {
      for (const [table, rule] of Object.entries(tables)) {
        const relation = relations.find((r) => r.name === table)!;
        const column = grants.get(table)?.get("UPDATE")?.[0] ?? relation.columns[0]!;
        for (const statement of [
          `update public.${ident(table)} set ${ident(column)} = ${ident(column)} where ${bRows(table, rule)} returning 1`,
          `delete from public.${ident(table)} where ${bRows(table, rule)} returning 1`,
        ]) {
          try {
            const rows = await tx.savepoint((sp) => sp.unsafe(statement));
            if (rows.length) changed.push(`${statement}: ${rows.length} rows`);
          } catch (error) {
            if ((error as { code?: string }).code !== "42501") changed.push(`${statement}: ${(error as Error).message}`);
          }
        }
      }
    });
    expect(changed).toEqual([]);
    for (const [table, rule] of Object.entries(tables)) expect(await countOfB(table, rule), table).toBe(before.get(table));
  });

  it("inserts naming B's profile are refused in every table amplify_api may insert into; others refuse inserts at all", async () => {
    const grants = await amplifyGrants();
    const problems: string[] = [];
    await asRole(t.sql, "amplify_api", { sub: a.user.id }, async (tx) => {
      for (const table of Object.keys(tables)) {
        const insertable = grants.get(table)?.get("INSERT") ?? [];
        const forged = foreignInserts[table];
        if (insertable.length && !forged) {
          problems.push(`${table}: amplify_api may insert but the suite has no foreignInserts entry for it`);
          continue;
        }
        try {
          await tx.savepoint((sp) => (forged ? forged(sp, a, b) : sp.unsafe(`insert into public.${ident(table)} default values`)));
          problems.push(`${table}: the insert was allowed`);
        } catch (error) {
          if ((error as { code?: string }).code !== "42501") problems.push(`${table}: ${(error as Error).message}`);
        }
      }
    });
    expect(problems).toEqual([]);
  });

  it("an API key's claims confine amplify_api to the key's profile among its user's profiles", async () => {
    const second = await t.call("POST", "/api/v1/profiles", { token: a.user.token, body: { name: "Second" } });
    expect(second.status).toBe(201);
    await asRole(t.sql, "amplify_api", { sub: a.user.id, profile_id: a.profileId }, async (tx) => {
      expect((await tx`select id from public.profiles`).map((r) => r.id)).toEqual([a.profileId]);
      expect(await tx`select 1 from public.profile_members where profile_id = ${second.body.profile.id}`).toHaveLength(0);
    });
  });
});
