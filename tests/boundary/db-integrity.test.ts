import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { executePublish } from "../../src/publishing/executor.js";
import { eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, signUp, subscribe } from "../helpers/users.js";
import { asRole, buildTenant, type Tenant } from "./db-tenants.js";

/**
 * Integrity the schema guarantees whoever writes (issue 9), as defence in depth behind the data-API boundary
 * (tests/boundary/data-api.test.ts): even our own request role `amplify_api`, and where noted the service connection,
 * cannot break these. One describe per guarantee, each naming the finding it closes.
 */
const t = useTestHome();

let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  a = await buildTenant(t);
  b = await buildTenant(t);
}, 120_000);

const asA = <T>(fn: Parameters<typeof asRole<T>>[3], claims: Record<string, unknown> = {}) =>
  asRole<T>(t.sql, "amplify_api", { sub: a.user.id, ...claims }, fn);

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => "ok",
    (error: { code?: string }) => error.code ?? String(error),
  );

// Finding 1: a target in my profile pointing at another tenant's connection published with the victim's token; one
// pointing at their post published their text to my account.
describe("a post target can only use a connection and a post of its own profile", () => {
  it("refuses a target, media row, job log, event or delivery that points across profiles, even for the service connection", async () => {
    for (const run of [
      (sql: typeof t.sql) => sql`insert into public.post_targets (post_id, profile_id, platform, connection_id) values (${a.postId}, ${a.profileId}, 'twitter', ${b.connectionId})`,
      (sql: typeof t.sql) => sql`insert into public.post_targets (post_id, profile_id, platform, connection_id) values (${b.postId}, ${a.profileId}, 'twitter', ${a.connectionId})`,
      (sql: typeof t.sql) => sql`insert into public.post_media (post_id, profile_id, media_id, public_url, mime_type) values (${a.postId}, ${a.profileId}, ${b.mediaId}, 'https://x.example/a.jpg', 'image/jpeg')`,
      (sql: typeof t.sql) => sql`insert into public.job_logs (profile_id, post_id, target_id, platform, status, attempt_number, started_at, completed_at, duration_ms) values (${a.profileId}, ${a.postId}, ${b.targetId}, 'twitter', 'failed', 1, now(), now(), 1)`,
      (sql: typeof t.sql) => sql`insert into public.events (profile_id, event_type, post_id, payload) values (${a.profileId}, 'post.failed', ${b.postId}, '{}')`,
      (sql: typeof t.sql) => sql`insert into public.webhook_deliveries (endpoint_id, profile_id, event_id, event_type, max_attempts) values (${b.endpointId}, ${a.profileId}, ${a.eventId}, 'post.scheduled', 1)`,
      (sql: typeof t.sql) => sql`insert into public.webhook_delivery_attempts (delivery_id, profile_id, attempt_number, status, latency_ms, started_at, completed_at) values (${b.deliveryId}, ${a.profileId}, 1, 'failed', 1, now(), now())`,
    ]) {
      expect(await codeOf(run(t.sql))).toBe("23503");
    }
    // Re-pointing an existing row is refused the same way.
    expect(await codeOf(t.sql`update public.post_targets set connection_id = ${b.connectionId} where id = ${a.targetId}`)).toBe("23503");
    // Our request role cannot even name the column: connection_id is not among the columns it may update.
    expect(await codeOf(asA((tx) => tx`update public.post_targets set connection_id = ${b.connectionId} where id = ${a.targetId}`))).toBe("42501");
    const [target] = await t.sql`select connection_id from public.post_targets where id = ${a.targetId}`;
    expect(target!.connection_id).toBe(a.connectionId);
  });

  it("the publish worker loads a target's connection and post by profile too, so even a forged row publishes nothing", async () => {
    // Forge what the constraints now forbid (replica mode skips foreign keys), as if a row had slipped in before them.
    const forged = await t.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      const [withTheirAccount] = await tx<{ id: string }[]>`
        insert into public.post_targets (post_id, profile_id, platform, connection_id, due_at)
        values (${a.postId}, ${a.profileId}, 'twitter', ${b.connectionId}, now()) returning id`;
      const [withTheirPost] = await tx<{ id: string }[]>`
        insert into public.post_targets (post_id, profile_id, platform, connection_id, due_at)
        values (${b.postId}, ${a.profileId}, 'twitter', ${a.connectionId}, now()) returning id`;
      return { withTheirAccount: withTheirAccount!.id, withTheirPost: withTheirPost!.id };
    });
    await executePublish(forged.withTheirAccount);
    const failed = await eventually(async () => {
      const [row] = await t.sql`select status, error_category, external_post_id from public.post_targets where id = ${forged.withTheirAccount}`;
      return row!.status === "failed" ? row : undefined;
    }, 15_000, "the forged target to fail");
    expect(failed).toMatchObject({ status: "failed", error_category: "auth_error", external_post_id: null });
    // The victim's connection was neither used nor touched.
    const [theirs] = await t.sql`select status, last_error from public.connections where id = ${b.connectionId}`;
    expect(theirs).toEqual({ status: "connected", last_error: null });

    // A claim reads the post by the target's profile: a target whose post is another tenant's is never claimed.
    expect(await executePublish(forged.withTheirPost)).toBe("skipped");
    const [other] = await t.sql`select status, attempts, external_post_id from public.post_targets where id = ${forged.withTheirPost}`;
    expect(other).toEqual({ status: "pending", attempts: 0, external_post_id: null });
    await t.sql`delete from public.post_targets where id = any(${[forged.withTheirAccount, forged.withTheirPost]}::uuid[])`;
  });
});

// Finding 3: owners and admins could rewrite profiles.created_by, which decides who pays (and so which plan applies).
describe("a profile's billing owner never changes", () => {
  it("refuses a created_by change from our request role, the service connection and the API", async () => {
    expect(await codeOf(asA((tx) => tx`update public.profiles set created_by = ${b.user.id} where id = ${a.profileId}`))).toBe("42501");
    expect(await codeOf(t.sql`update public.profiles set created_by = ${b.user.id} where id = ${a.profileId}`)).toBe("42501");
    const patched = await t.call("PATCH", `/api/v1/profiles/${a.profileId}`, { token: a.user.token, body: { name: "Renamed", created_by: b.user.id } });
    expect(patched.status).toBeLessThan(500);
    const [row] = await t.sql`select created_by from public.profiles where id = ${a.profileId}`;
    expect(row!.created_by).toBe(a.user.id);
  });

  it("our request role may change only name, description and timezone", async () => {
    await asA(async (tx) => {
      expect(await tx`update public.profiles set name = 'Still mine', timezone = 'Europe/London' where id = ${a.profileId} returning id`).toHaveLength(1);
    });
    for (const column of ["created_at", "updated_at", "id"]) {
      expect(await codeOf(asA((tx) => tx.unsafe(`update public.profiles set ${column} = ${column} where id = '${a.profileId}'`)))).toBe("42501");
    }
  });
});

// Finding 4: direct inserts skipped the quota, posting rules and media checks, and any member could reset a published
// target to pending so that it published again.
describe("a target moves only as our API moves it: cancel when pending, retry when failed, never back from published", () => {
  it("refuses to reset a published or publishing target, and allows cancel and retry", async () => {
    const [target] = await t.sql<{ id: string }[]>`
      insert into public.post_targets (post_id, profile_id, platform, connection_id, status, published_at, external_post_id)
      values (${a.postId}, ${a.profileId}, 'twitter', ${a.connectionId}, 'published', now(), 'ext-1') returning id`;
    const id = target!.id;
    expect(await codeOf(asA((tx) => tx`update public.post_targets set status = 'pending' where id = ${id}`))).toBe("42501");
    expect(await codeOf(asA((tx) => tx`update public.post_targets set status = 'canceled' where id = ${id}`))).toBe("42501");
    await t.sql`update public.post_targets set status = 'publishing', lease_until = now() + interval '1 minute' where id = ${id}`;
    expect(await codeOf(asA((tx) => tx`update public.post_targets set status = 'pending' where id = ${id}`))).toBe("42501");
    // Through the API: retrying anything but a failed target is a 409.
    assertEnvelope(await t.call("POST", `/api/v1/scheduled-posts/${id}/retry`, { apiKey: a.apiKey, body: {} }), 409, "conflict");
    await t.sql`update public.post_targets set status = 'failed', lease_until = null, attempts = 3 where id = ${id}`;
    expect(await codeOf(asA((tx) => tx`update public.post_targets set status = 'pending', attempts = 0 where id = ${id}`))).toBe("ok");
    expect(await codeOf(asA((tx) => tx`update public.post_targets set status = 'canceled' where id = ${id}`))).toBe("ok");
    const [row] = await t.sql`select status from public.post_targets where id = ${id}`;
    expect(row!.status).toBe("canceled");
  });

  it("new targets start pending with no attempts, and the data API cannot insert posts or targets at all", async () => {
    expect(
      await codeOf(asA((tx) => tx`insert into public.post_targets (post_id, profile_id, platform, connection_id, status) values (${a.postId}, ${a.profileId}, 'twitter', ${a.connectionId}, 'published')`)),
    ).toBe("42501");
    for (const role of ["authenticated", "anon"] as const) {
      expect(
        await codeOf(asRole(t.sql, role, { sub: a.user.id }, (tx) => tx`insert into public.posts (profile_id, content, created_by) values (${a.profileId}, 'direct', ${a.user.id})`)),
      ).toBe("42501");
      expect(
        await codeOf(asRole(t.sql, role, { sub: a.user.id }, (tx) => tx`insert into public.post_targets (post_id, profile_id, platform, connection_id) values (${a.postId}, ${a.profileId}, 'twitter', ${a.connectionId})`)),
      ).toBe("42501");
    }
  });
});

// Finding 5: an owner could insert anyone as a member (even as owner) without an invitation; consume_post_quota was
// callable by any signed-in user, authorised on membership role rather than the billing owner, and trusted its limits.
describe("members arrive only through definer functions, and the post quota is charged to the profile's owner", () => {
  it("refuses a direct membership insert, making anyone owner, or touching the owner row", async () => {
    expect(
      await codeOf(asA((tx) => tx`insert into public.profile_members (profile_id, user_id, role) values (${a.profileId}, ${b.user.id}, 'member')`)),
    ).toBe("42501");
    const member = await signUp(t);
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${a.profileId}, ${member.id}, 'member')`;
    expect(await codeOf(asA((tx) => tx`update public.profile_members set role = 'owner' where user_id = ${member.id}`))).toBe("42501");
    await asA(async (tx) => {
      expect(await tx`update public.profile_members set role = 'admin' where user_id = ${member.id} returning id`).toHaveLength(1);
      expect(await tx`update public.profile_members set role = 'member' where user_id = ${a.user.id} returning id`).toHaveLength(0);
      expect(await tx`delete from public.profile_members where user_id = ${a.user.id} returning id`).toHaveLength(0);
    });
    expect(await codeOf(asA((tx) => tx`update public.profile_members set invitation_status = 'active', user_id = ${b.user.id} where user_id = ${member.id}`))).toBe("42501");
    const owners = await t.sql`select user_id from public.profile_members where profile_id = ${a.profileId} and role = 'owner'`;
    expect(owners).toEqual([{ user_id: a.user.id }]);
  });

  it("consume_post_quota charges the profile's owner, only for its members, and the data API cannot call it", async () => {
    const member = await signUp(t);
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${b.profileId}, ${member.id}, 'member')`;
    const used = async (userId: string) =>
      (await t.sql<{ used: number }[]>`select coalesce(sum(used), 0)::int as used from public.usage_counters where user_id = ${userId} and metric = 'posts'`)[0]!.used;
    const ownerBefore = await used(b.user.id);
    const limits = { "active:starter": 150, "free:free": 25 };
    await asRole(t.sql, "amplify_api", { sub: member.id }, (tx) => tx`select * from public.consume_post_quota(${b.profileId}, 1, ${tx.json(limits)})`);
    expect(await used(b.user.id)).toBe(ownerBefore + 1);
    expect(await used(member.id)).toBe(0);
    // A stranger (A) cannot count against B's profile, whatever limits it sends.
    expect(await codeOf(asA((tx) => tx`select * from public.consume_post_quota(${b.profileId}, 1000, ${tx.json({ "active:starter": 100000 })})`))).toBe("42501");
    for (const role of ["authenticated", "anon"] as const) {
      expect(await codeOf(asRole(t.sql, role, { sub: member.id }, (tx) => tx`select * from public.consume_post_quota(${b.profileId}, 1, ${tx.json(limits)})`))).toBe("42501");
    }
    // The old signature, which named the user to charge, is gone.
    const [old] = await t.sql`select to_regprocedure('public.consume_post_quota(uuid,integer,jsonb)') is not null as exists,
      (select count(*)::int from pg_proc where proname = 'consume_post_quota') as overloads`;
    expect(old).toEqual({ exists: true, overloads: 1 });
    expect(await used(b.user.id)).toBe(ownerBefore + 1);
  });
});

// Finding 7: the 20-endpoint cap lived only in the handler (25 were created directly), and max_attempts was
// user-writable.
describe("a profile has at most 20 webhook endpoints and a delivery's attempt budget grows only by a manual retry", () => {
  it("refuses the 21st endpoint even to a direct insert by our request role or the service connection", async () => {
    const endpointsOfA = async () =>
      (await t.sql<{ n: number }[]>`select count(*)::int as n from public.webhook_endpoints where profile_id = ${a.profileId}`)[0]!.n;
    const n = await endpointsOfA();
    await asA(async (tx) => {
      for (let i = n; i < 20; i++) {
        await tx`insert into public.webhook_endpoints (profile_id, url, secret_enc, events, max_retries, created_by)
                 values (${a.profileId}, ${`https://hooks.example/cap-${i}`}, 'x', '{*}', 1, ${a.user.id})`;
      }
    });
    const insert21st = (sql: typeof t.sql) => sql`
      insert into public.webhook_endpoints (profile_id, url, secret_enc, events, created_by)
      values (${a.profileId}, 'https://hooks.example/cap-21', 'x', '{*}', ${a.user.id})`;
    expect(await codeOf(asA((tx) => insert21st(tx as unknown as typeof t.sql)))).toBe("23514");
    expect(await codeOf(insert21st(t.sql))).toBe("23514");
    expect(await endpointsOfA()).toBe(20);
    await t.sql`delete from public.webhook_endpoints where profile_id = ${a.profileId} and url like 'https://hooks.example/cap-%'`;
  });

  it("lets our request role raise max_attempts by one with a manual retry and no further; the secret is never readable", async () => {
    expect(await codeOf(asA((tx) => tx`update public.webhook_deliveries set max_attempts = 10 where id = ${a.deliveryId}`))).toBe("42501");
    expect(
      await codeOf(asA((tx) => tx`update public.webhook_deliveries set max_attempts = 7, manual_retry = true, status = 'pending' where id = ${a.deliveryId}`)),
    ).toBe("42501");
    expect(await codeOf(asA((tx) => tx`update public.webhook_deliveries set status = 'delivered' where id = ${a.deliveryId}`))).toBe("42501");
    expect(
      await codeOf(asA((tx) => tx`update public.webhook_deliveries set max_attempts = attempt_number + 1, manual_retry = true, status = 'pending', next_attempt_at = null where id = ${a.deliveryId}`)),
    ).toBe("ok");
    const [row] = await t.sql`select max_attempts, status from public.webhook_deliveries where id = ${a.deliveryId}`;
    expect(row).toEqual({ max_attempts: 2, status: "pending" });
    await t.sql`update public.webhook_deliveries set status = 'failed', manual_retry = false where id = ${a.deliveryId}`;
    expect(await codeOf(asA((tx) => tx`select secret_enc from public.webhook_endpoints`))).toBe("42501");
  });
});

// Finding 8: a removed member's API key kept working (and kept spending the team's posting budget).
describe("removing a member revokes the API keys they made for that profile", () => {
  it("revokes the keys when the owner removes the member, or when their membership stops being active", async () => {
    for (const how of ["owner removes the member", "membership deactivated"] as const) {
      const member = await signUp(t);
      await subscribe(t, member, "starter");
      await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${a.profileId}, ${member.id}, 'admin')`;
      const key = await createApiKey(t, member, a.profileId, "member's key");
      const ownProfile = (await t.call("POST", "/api/v1/profiles", { token: member.token, body: { name: "Member's own" } })).body.profile.id as string;
      const ownKey = await createApiKey(t, member, ownProfile, "own key");
      expect((await t.call("GET", "/api/v1/posts", { apiKey: key.key })).status).toBe(200);
      if (how === "owner removes the member") {
        // No members endpoint exists yet (the team issue adds it): the owner's own request role removes the row.
        await asA(async (tx) => {
          expect(await tx`delete from public.profile_members where profile_id = ${a.profileId} and user_id = ${member.id} returning id`).toHaveLength(1);
        });
      } else {
        await t.sql`update public.profile_members set invitation_status = 'pending' where profile_id = ${a.profileId} and user_id = ${member.id}`;
      }
      assertEnvelope(await t.call("GET", "/api/v1/posts", { apiKey: key.key }), 401, "invalid_api_key");
      const keys = await t.sql`select id, status, revoked_at is not null as revoked from public.api_keys where user_id = ${member.id} order by created_at`;
      expect(keys).toEqual([
        { id: key.id, status: "revoked", revoked: true },
        { id: ownKey.id, status: "active", revoked: false },
      ]);
      expect((await t.call("GET", "/api/v1/posts", { apiKey: ownKey.key })).status).toBe(200);
    }
  });
});

// Finding 10: the api_keys update policy let a user un-revoke a key or overwrite its hash.
describe("a revoked API key stays revoked and a key's hash, user and profile never change", () => {
  it("refuses un-revoking and rewriting, for our request role and the service connection alike", async () => {
    const key = await createApiKey(t, a.user, a.profileId, "to revoke");
    await asA(async (tx) => {
      expect(await tx`update public.api_keys set status = 'revoked', revoked_at = now() where id = ${key.id} returning id`).toHaveLength(1);
    });
    expect(await codeOf(asA((tx) => tx`update public.api_keys set status = 'active', revoked_at = null where id = ${key.id}`))).toBe("42501");
    expect(await codeOf(t.sql`update public.api_keys set status = 'active' where id = ${key.id}`)).toBe("42501");
    expect(await codeOf(asA((tx) => tx`update public.api_keys set key_hash = ${randomBytes(8).toString("hex")} where id = ${a.keyId}`))).toBe("42501");
    expect(await codeOf(t.sql`update public.api_keys set key_hash = 'rewritten' where id = ${a.keyId}`)).toBe("42501");
    expect(await codeOf(t.sql`update public.api_keys set profile_id = ${b.profileId} where id = ${a.keyId}`)).toBe("42501");
    assertEnvelope(await t.call("GET", "/api/v1/posts", { apiKey: key.key }), 401, "invalid_api_key");
    expect((await t.call("GET", "/api/v1/posts", { apiKey: a.apiKey })).status).toBe(200);
  });

  // Finding 9, in the schema: a key's own claims cannot insert a key, even for its own profile.
  it("refuses to insert a key under an API key's claims", async () => {
    expect(
      await codeOf(asA(
        (tx) => tx`insert into public.api_keys (user_id, profile_id, name, key_hash, key_suffix) values (${a.user.id}, ${a.profileId}, 'minted', ${randomBytes(16).toString("hex")}, 'suffix00')`,
        { profile_id: a.profileId },
      )),
    ).toBe("42501");
  });
});

// Finding 12: the idempotency_keys update policy was not scoped to a profile; record_scheduled_event and
// record_partial_event were callable by any member (and by the data API).
describe("idempotency keys are completed only in the caller's profiles, and record_* functions are ours alone", () => {
  it("a user no longer in the profile cannot complete its idempotency keys, nor can a key of another profile", async () => {
    const member = await signUp(t);
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${b.profileId}, ${member.id}, 'member')`;
    await t.sql`insert into public.idempotency_keys (profile_id, user_id, idempotency_key, request_hash) values (${b.profileId}, ${member.id}, 'k1', 'h')`;
    const memberOwn = (await t.call("POST", "/api/v1/profiles", { token: member.token, body: { name: "Own" } })).body.profile.id as string;
    const complete = (claims: Record<string, unknown>) =>
      asRole(t.sql, "amplify_api", { sub: member.id, ...claims }, (tx) =>
        tx`update public.idempotency_keys set response_status = 201 where idempotency_key = 'k1' returning id`);
    expect(await complete({ profile_id: memberOwn })).toHaveLength(0);
    await t.sql`delete from public.profile_members where profile_id = ${b.profileId} and user_id = ${member.id}`;
    expect(await complete({})).toHaveLength(0);
    const [row] = await t.sql`select response_status from public.idempotency_keys where idempotency_key = 'k1' and user_id = ${member.id}`;
    expect(row!.response_status).toBeNull();
  });

  it("record_scheduled_event and record_partial_event: refused to the data API, and to our role for another tenant's rows", async () => {
    for (const role of ["authenticated", "anon"] as const) {
      expect(await codeOf(asRole(t.sql, role, { sub: a.user.id }, (tx) => tx`select public.record_scheduled_event(${a.targetId})`))).toBe("42501");
      expect(await codeOf(asRole(t.sql, role, { sub: a.user.id }, (tx) => tx`select public.record_partial_event(${a.postId})`))).toBe("42501");
    }
    const before = await t.sql`select count(*)::int as n from public.events where profile_id = ${b.profileId}`;
    expect(await codeOf(asA((tx) => tx`select public.record_scheduled_event(${b.targetId})`))).toBe("42501");
    await asA((tx) => tx`select public.record_partial_event(${b.postId})`);
    expect(await t.sql`select count(*)::int as n from public.events where profile_id = ${b.profileId}`).toEqual(before);
  });
});
