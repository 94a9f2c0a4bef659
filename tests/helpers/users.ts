import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { TestHome } from "./home.js";

export interface TestUser {
  id: string;
  email: string;
  token: string;
}

/** Signs a new user up through the local Auth emulator (the same endpoint supabase-js calls). */
export async function signUp(t: TestHome, email = `user-${randomBytes(5).toString("hex")}@example.com`): Promise<TestUser> {
  const res = await t.home.fetch(
    new Request(`${t.home.url}/auth/v1/signup`, {
      method: "POST",
      headers: { apikey: t.home.anonKey, "content-type": "application/json" },
      body: JSON.stringify({ email, password: "correct horse battery" }),
    }),
  );
  const session = (await res.json()) as { access_token: string; user: { id: string } };
  expect(res.status).toBe(200);
  return { id: session.user.id, email, token: session.access_token };
}

/** Puts the user on a paid plan, as the Stripe webhook does when a checkout completes. */
export async function subscribe(t: TestHome, user: TestUser, plan = "starter", status = "active"): Promise<void> {
  await t.sql`update public.billing_subscriptions set plan = ${plan}, status = ${status} where user_id = ${user.id}`;
}

export async function createProfile(t: TestHome, user: TestUser, name = "Acme"): Promise<string> {
  const res = await t.call("POST", "/api/v1/profiles", { token: user.token, body: { name } });
  expect(res.status).toBe(201);
  return res.body.profile.id as string;
}

export async function createApiKey(t: TestHome, user: TestUser, profileId: string, name = "Test key"): Promise<{ id: string; key: string }> {
  const res = await t.call("POST", "/api/api-keys", { token: user.token, body: { name, profileId } });
  expect(res.status).toBe(201);
  return { id: res.body.apiKey.id, key: res.body.apiKey.key };
}

/** A paid user with one profile and an API key for it: the starting point of most API tests. */
export async function paidUserWithKey(t: TestHome, plan = "starter") {
  const user = await signUp(t);
  await subscribe(t, user, plan);
  const profileId = await createProfile(t, user);
  const apiKey = await createApiKey(t, user, profileId);
  return { user, profileId, apiKey: apiKey.key, keyId: apiKey.id };
}
