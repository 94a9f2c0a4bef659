import type postgres from "postgres";
import type { LocalHome } from "../../src/local/home.js";

export interface SeedOptions {
  /** Other users besides the benchmark's own paid user. */
  users: number;
  /** Profiles each other user owns. */
  profilesPerUser: number;
  /**
   * Other users' profiles the key's owner is also a member of (an agency's account). The key still sees only its own
   * profile, but the list query meets every one of the owner's memberships before RLS drops them.
   */
  ownerMemberships: number;
}

export interface Seeded {
  /** The paid user whose API key drives the benchmark (Unlimited plan). */
  userId: string;
  profileId: string;
  apiKey: string;
  counts: { users: number; profiles: number; members: number; apiKeys: number };
}

const PASSWORD = "correct horse battery";

async function call<T>(home: LocalHome, method: string, path: string, init: { headers: Record<string, string>; body?: unknown }) {
  const res = await fetch(new URL(path, home.url), {
    method,
    headers: { "content-type": "application/json", ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`seeding: ${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Signs a user up through the local Auth emulator, as supabase-js does. */
async function signUp(home: LocalHome, email: string) {
  return call<{ access_token: string; user: { id: string } }>(home, "POST", "/auth/v1/signup", {
    headers: { apikey: home.anonKey },
    body: { email, password: PASSWORD },
  });
}

/**
 * Seeds what both sides read. The benchmark user goes through the real product paths (sign-up, then, after an upgrade
 * written as the Stripe webhook would, POST /api/v1/profiles and POST /api/api-keys). The other users sign up the
 * same way; their profiles, cross-memberships and keys are written with admin SQL in bulk (the API's plan limits would
 * cap a free user at two profiles, and the point is only that the tables are big enough for the indexes to matter).
 */
export async function seed(home: LocalHome, admin: postgres.Sql, options: SeedOptions): Promise<Seeded> {
  const runTag = Date.now().toString(36);

  const me = await signUp(home, `bench-${runTag}@example.com`);
  // Paid, as the Stripe webhook would leave it. Unlimited rather than Starter: Starter's 10,000 API requests a month
  // run out within seconds of load. The quota is counted all the same (one upsert per request); it just never refuses.
  await admin`update public.billing_subscriptions set plan = 'unlimited', status = 'active' where user_id = ${me.user.id}`;
  const bearer = { authorization: `Bearer ${me.access_token}` };
  const { profile } = await call<{ profile: { id: string } }>(home, "POST", "/api/v1/profiles", {
    headers: bearer,
    body: { name: "Benchmark profile" },
  });
  const { apiKey } = await call<{ apiKey: { key: string } }>(home, "POST", "/api/api-keys", {
    headers: bearer,
    body: { name: "Benchmark key", profileId: profile.id },
  });

  // Other users, a few sign-ups at a time (each hashes a password with bcrypt inside Postgres).
  const others: string[] = [];
  for (let i = 0; i < options.users; i += 8) {
    const size = Math.min(8, options.users - i);
    const batch = Array.from({ length: size }, (_, j) => signUp(home, `other-${runTag}-${i + j}@example.com`));
    for (const s of await Promise.all(batch)) others.push(s.user.id);
  }

  if (others.length) {
    // A third of the other users pay, so the billing join sees a realistic mix.
    await admin`
      update public.billing_subscriptions set plan = 'growth', status = 'active'
      where user_id = any(${others}::uuid[]) and get_byte(uuid_send(user_id), 15) % 3 = 0`;

    // Each other user owns `profilesPerUser` profiles, created over the past year.
    await admin`
      insert into public.profiles (name, description, timezone, created_by, created_at, updated_at)
      select 'Profile ' || n || ' of ' || left(u::text, 8), case when n % 2 = 0 then 'Seeded for the benchmark' end,
             (array['UTC', 'Europe/London', 'America/New_York', 'Asia/Tokyo'])[1 + n % 4], u,
             now() - random() * interval '365 days', now()
      from unnest(${others}::uuid[]) as u, generate_series(1, ${options.profilesPerUser}) as n`;
    await admin`
      insert into public.profile_members (profile_id, user_id, role)
      select p.id, p.created_by, 'owner' from public.profiles p
      where p.created_by = any(${others}::uuid[])`;
    // ...and is a member (admin or member) of two other users' profiles, chosen at random.
    await admin`
      insert into public.profile_members (profile_id, user_id, role, invited_by)
      select picked.id, u, (array['admin', 'member'])[1 + (random() * 1)::int], picked.created_by
      from unnest(${others}::uuid[]) as u
      cross join lateral (
        select p.id, p.created_by from public.profiles p
        where p.created_by = any(${others}::uuid[]) and p.created_by <> u
        order by random() limit 2
      ) picked
      on conflict (profile_id, user_id) do nothing`;
    // One key per owned profile; only hashes are stored, so random ones will do.
    await admin`
      insert into public.api_keys (user_id, profile_id, name, key_hash, key_suffix, last_used_at)
      select p.created_by, p.id, 'Seeded key', encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'),
             right(md5(p.id::text), 8), now() - random() * interval '30 days'
      from public.profiles p
      where p.created_by = any(${others}::uuid[])`;
  }
  if (options.ownerMemberships > 0) {
    const added = await admin`
      insert into public.profile_members (profile_id, user_id, role)
      select id, ${me.user.id}, 'member' from public.profiles
      where created_by <> ${me.user.id}
      order by created_at desc limit ${options.ownerMemberships}`;
    if (added.count < options.ownerMemberships) {
      throw new Error(`seeding: only ${added.count} other profiles exist for ${options.ownerMemberships} memberships`);
    }
  }
  await admin`analyze`;

  const [counts] = await admin<{ users: number; profiles: number; members: number; apiKeys: number }[]>`
    select (select count(*)::int from auth.users) as users,
           (select count(*)::int from public.profiles) as profiles,
           (select count(*)::int from public.profile_members) as members,
           (select count(*)::int from public.api_keys) as "apiKeys"`;
  return { userId: me.user.id, profileId: profile.id, apiKey: apiKey.key, counts: counts! };
}
