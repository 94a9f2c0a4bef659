import { beforeAll, describe, expect, it } from "vitest";
import { asRole, outcome } from "../boundary/db-tenants.js";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, paidUserWithKey, signUp, subscribe, type TestUser } from "../helpers/users.js";

/**
 * Roles: members use templates (read them, post from them, count a use); owners and admins create, change and delete
 * them. Checked through the API (sessions and each role's own API key) and in the database itself (RLS as
 * amplify_api with each role's claims), since the policies are the boundary.
 */
const t = useTestHome();

interface Actor {
  role: "owner" | "admin" | "member";
  user: TestUser;
  apiKey: string;
}

let profileId: string;
let actors: Actor[];
let templateId: string;

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

async function joined(role: "admin" | "member"): Promise<Actor> {
  const user = await signUp(t);
  await subscribe(t, user);
  await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${profileId}, ${user.id}, ${role})`;
  return { role, user, apiKey: (await createApiKey(t, user, profileId, `${role}'s key`)).key };
}

beforeAll(async () => {
  const owner = await paidUserWithKey(t);
  profileId = owner.profileId;
  await connectAccount(t, { apiKey: owner.apiKey }, "twitter");
  actors = [{ role: "owner", user: owner.user, apiKey: owner.apiKey }, await joined("admin"), await joined("member")];
  const res = await t.call("POST", "/api/v1/templates", { apiKey: owner.apiKey, body: { name: "Shared", content: "Hi {{name}}", platforms: ["twitter"] } });
  expect(res.status).toBe(201);
  templateId = res.body.template.id;
});

const usage = async () => (await t.sql<{ n: number }[]>`select usage_count as n from public.templates where id = ${templateId}`)[0]!.n;

describe.each(["session", "API key"] as const)("through the API with a %s", (how) => {
  const as = (a: Actor) => (how === "session" ? { token: a.user.token } : { apiKey: a.apiKey });
  const body = (extra: Record<string, unknown>) => (how === "session" ? { profileId, ...extra } : extra);

  it("every role reads, lists and posts from templates, and counts a use", async () => {
    for (const a of actors) {
      expect((await t.call("GET", `/api/v1/templates/${templateId}`, as(a))).status, a.role).toBe(200);
      const list = await t.call("GET", `/api/v1/templates${how === "session" ? `?profileId=${profileId}` : ""}`, as(a));
      expect(list.body.templates.map((x: { id: string }) => x.id), a.role).toContain(templateId);
      const before = await usage();
      const post = await t.call("POST", "/api/v1/post", { ...as(a), body: body({ templateId, variables: { name: a.role }, scheduleDate: inAnHour() }) });
      expect(post.status, `${a.role}: ${JSON.stringify(post.body)}`).toBe(201);
      const counted = await t.call("PATCH", `/api/v1/templates/${templateId}`, { ...as(a), body: { increment_usage: true } });
      expect(counted.status, a.role).toBe(200);
      expect(await usage(), a.role).toBe(before + 2);
    }
  });

  it("owners and admins create, change and delete; a member gets 403 and nothing changes", async () => {
    for (const a of actors) {
      const name = `${how} ${a.role}`;
      const created = await t.call("POST", "/api/v1/templates", { ...as(a), body: body({ name, content: "x" }) });
      if (a.role === "member") {
        assertEnvelope(created, 403, "forbidden");
        const changes: Record<string, unknown>[] = [{ name: "Renamed" }, { is_favorite: true }, { media: [] }, { name: "Renamed", increment_usage: true }];
        for (const change of changes) {
          assertEnvelope(await t.call("PATCH", `/api/v1/templates/${templateId}`, { ...as(a), body: change }), 403, "forbidden");
        }
        assertEnvelope(await t.call("DELETE", `/api/v1/templates/${templateId}`, as(a)), 403, "forbidden");
        const [row] = await t.sql`select name, is_favorite from public.templates where id = ${templateId}`;
        expect(row).toEqual({ name: "Shared", is_favorite: false });
        expect(await t.sql`select 1 from public.templates where name = ${name}`).toHaveLength(0);
        continue;
      }
      expect(created.status, `${a.role}: ${JSON.stringify(created.body)}`).toBe(201);
      const id = created.body.template.id as string;
      const changed = await t.call("PATCH", `/api/v1/templates/${id}`, { ...as(a), body: { content: "y {{z}}", is_favorite: true } });
      expect(changed.status, a.role).toBe(200);
      expect(changed.body.template).toMatchObject({ content: "y {{z}}", is_favorite: true, variables: ["z"] });
      expect((await t.call("DELETE", `/api/v1/templates/${id}`, as(a))).status, a.role).toBe(200);
    }
  });
});

describe("in the database (RLS as amplify_api)", () => {
  it("a member can read and count a use but not insert, update or delete; an admin can", async () => {
    const member = actors.find((a) => a.role === "member")!;
    const admin = actors.find((a) => a.role === "admin")!;
    await asRole(t.sql, "amplify_api", { sub: member.user.id }, async (tx) => {
      expect(await tx`select id from public.templates where id = ${templateId}`).toHaveLength(1);
      expect(await outcome(tx, (sp) => sp`insert into public.templates (profile_id, name, content, created_by) values (${profileId}, 'm', 'x', ${member.user.id})`)).toBe("42501");
      expect(await tx`update public.templates set name = 'hijacked' where id = ${templateId} returning id`).toHaveLength(0);
      expect(await tx`delete from public.templates where id = ${templateId} returning id`).toHaveLength(0);
      expect(await outcome(tx, (sp) => sp`insert into public.template_media (template_id, profile_id, public_url, mime_type) values (${templateId}, ${profileId}, 'https://x.example/a.jpg', 'image/jpeg')`)).toBe("42501");
      expect(await outcome(tx, (sp) => sp`update public.templates set usage_count = 1000 where id = ${templateId}`)).toBe("42501");
      const [counted] = await tx`select public.count_template_use(${templateId}) as ok`;
      expect(counted!.ok).toBe(true);
      throw new Error("rollback");
    }).catch((error: Error) => expect(error.message).toBe("rollback"));
    await asRole(t.sql, "amplify_api", { sub: admin.user.id }, async (tx) => {
      const [row] = await tx`insert into public.templates (profile_id, name, content, created_by) values (${profileId}, 'by admin', 'x', ${admin.user.id}) returning id`;
      expect(await tx`update public.templates set name = 'by admin 2' where id = ${row!.id} returning id`).toHaveLength(1);
      expect(await tx`delete from public.templates where id = ${row!.id} returning id`).toHaveLength(1);
      // Even an admin cannot write as someone else.
      expect(await outcome(tx, (sp) => sp`insert into public.templates (profile_id, name, content, created_by) values (${profileId}, 'forged', 'x', ${member.user.id})`)).toBe("42501");
    });
  });

  it("a member who left can no longer read or count a use", async () => {
    const leaver = await joined("member");
    await t.sql`delete from public.profile_members where profile_id = ${profileId} and user_id = ${leaver.user.id}`;
    await asRole(t.sql, "amplify_api", { sub: leaver.user.id }, async (tx) => {
      expect(await tx`select id from public.templates where id = ${templateId}`).toHaveLength(0);
      const [counted] = await tx`select public.count_template_use(${templateId}) as ok`;
      expect(counted!.ok).toBeNull();
    });
    assertEnvelope(await t.call("GET", `/api/v1/templates/${templateId}`, { token: leaver.user.token }), 404, "not_found");
  });
});
