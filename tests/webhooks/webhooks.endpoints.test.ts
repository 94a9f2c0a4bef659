import { beforeAll, describe, expect, it } from "vitest";
import { keyringFrom, open } from "../../src/core/crypto.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createProfile, paidUserWithKey, signUp, subscribe } from "../helpers/users.js";

/**
 * Webhook endpoint management through the front door, with the cloud's SSRF setting (no loopback URLs). Public IP
 * literals stand in for receivers: these tests save endpoints but publish nothing, so nothing is ever sent to them.
 */
const t = useTestHome({ env: { OUTBOUND_ALLOW_LOOPBACK: "false" } });

let n = 0;
const publicUrl = () => `https://93.184.215.14/hooks/${++n}`;

async function endpointCount(profileId: string): Promise<number> {
  const [row] = await t.sql<{ count: number }[]>`select count(*)::int as count from public.webhook_endpoints where profile_id = ${profileId}`;
  return row!.count;
}

describe("webhook endpoints: happy paths", () => {
  it("creates an endpoint with a generated secret, shown once and stored encrypted", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const url = publicUrl();
    const res = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey, body: { url, events: ["post.published", "post.failed"] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({
      success: true,
      endpoint: {
        id: expect.any(String),
        profile_id: profileId,
        url,
        events: ["post.published", "post.failed"],
        is_active: true,
        max_retries: 5,
        disabled_reason: null,
        disabled_at: null,
        failing_since: null,
        last_delivery_at: null,
        last_delivery_status: null,
        created_at: expect.any(String),
        updated_at: expect.any(String),
        secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      },
      warning: "Save this secret now. It will not be shown again.",
    });
    const secret = res.body.endpoint.secret as string;
    expect(Buffer.from(secret.slice(6), "base64")).toHaveLength(32);
    const [row] = await t.sql`select secret_enc from public.webhook_endpoints where id = ${res.body.endpoint.id}`;
    expect(row!.secret_enc).toMatch(/^v2\./);
    expect(row!.secret_enc).not.toContain(secret.slice(6, 20));
    expect(open(row!.secret_enc, { purpose: "webhook_endpoints.secret", rowId: res.body.endpoint.id }, keyringFrom(t.home.secrets.encryptionKey))).toBe(secret);

    const list = await t.call("GET", "/api/v1/webhook-endpoints", { apiKey });
    expect(list.status).toBe(200);
    const { secret: _shownOnce, ...shown } = res.body.endpoint;
    expect(list.body.endpoints).toEqual([shown]);
    expect(JSON.stringify(list.body)).not.toContain("secret");
  });

  it("takes the contract's request as written: a chosen secret, all three events and maxRetries", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const body = {
      profileId,
      url: publicUrl(),
      secret: "your_webhook_signing_secret",
      events: ["post.published", "post.failed", "post.scheduled"],
      maxRetries: 5,
    };
    const res = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey, body });
    expect(res.status).toBe(201);
    expect(res.body.endpoint).toMatchObject({ url: body.url, events: body.events, is_active: true, max_retries: 5, secret: body.secret });
    const star = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey, body: { url: publicUrl(), events: ["*", "*"], max_retries: 0 } });
    expect(star.status).toBe(201);
    expect(star.body.endpoint).toMatchObject({ events: ["*"], max_retries: 0 });
  });

  it("updates events, retries and activity; turning an endpoint off records why, on again clears it", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const created = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey, body: { url: publicUrl(), events: ["post.published"] } });
    const id = created.body.endpoint.id as string;
    const off = await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { apiKey, body: { is_active: false, events: ["post.failed"], max_retries: 3 } });
    expect(off.status).toBe(200);
    expect(off.body).toEqual({
      success: true,
      endpoint: expect.objectContaining({ id, is_active: false, disabled_reason: "manual", disabled_at: expect.any(String), events: ["post.failed"], max_retries: 3 }),
    });
    const on = await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { apiKey, body: { isActive: true } });
    expect(on.body.endpoint).toMatchObject({ is_active: true, disabled_reason: null, disabled_at: null, events: ["post.failed"] });
    const newUrl = publicUrl();
    const moved = await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { apiKey, body: { url: newUrl, secret: "a-rotated-secret-of-enough-length" } });
    expect(moved.body.endpoint.url).toBe(newUrl);
    const [row] = await t.sql`select secret_enc from public.webhook_endpoints where id = ${id}`;
    expect(open(row!.secret_enc, { purpose: "webhook_endpoints.secret", rowId: id }, keyringFrom(t.home.secrets.encryptionKey))).toBe("a-rotated-secret-of-enough-length");
  });

  it("deletes an endpoint; it is gone from the list and its paths answer 404", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const created = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey, body: { url: publicUrl(), events: ["*"] } });
    const id = created.body.endpoint.id as string;
    const del = await t.call("DELETE", `/api/v1/webhook-endpoints/${id}`, { apiKey });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ success: true, message: "Webhook endpoint deleted" });
    expect((await t.call("GET", "/api/v1/webhook-endpoints", { apiKey })).body.endpoints).toEqual([]);
    assertEnvelope(await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { apiKey, body: { is_active: false } }), 404, "not_found");
    assertEnvelope(await t.call("GET", `/api/v1/webhook-endpoints/${id}/deliveries`, { apiKey }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", `/api/v1/webhook-endpoints/${id}`, { apiKey }), 404, "not_found");
  });

  it("serves the dashboard under /api with a session naming the profile", async () => {
    const { user, profileId } = await paidUserWithKey(t);
    const token = user.token;
    const missing = await t.call("GET", "/api/webhook-endpoints", { token });
    assertEnvelope(missing, 400, "validation_error");
    expect(missing.body.details).toEqual([{ field: "profileId", message: "Required when signed in with a session" }]);
    const created = await t.call("POST", "/api/webhook-endpoints", { token, body: { profileId, url: publicUrl(), events: ["post.scheduled"] } });
    expect(created.status).toBe(201);
    const list = await t.call("GET", `/api/webhook-endpoints?profileId=${profileId}`, { token });
    expect(list.body.endpoints.map((e: { id: string }) => e.id)).toEqual([created.body.endpoint.id]);
    const history = await t.call("GET", `/api/webhook-endpoints/${created.body.endpoint.id}/deliveries?limit=10`, { token });
    expect(history.status).toBe(200);
    expect(history.body).toEqual({ deliveries: [], nextCursor: null });
    const patched = await t.call("PATCH", `/api/webhook-endpoints/${created.body.endpoint.id}`, { token, body: { max_retries: 10 } });
    expect(patched.body.endpoint.max_retries).toBe(10);
    expect((await t.call("DELETE", `/api/webhook-endpoints/${created.body.endpoint.id}`, { token })).status).toBe(200);
  });

  it("configures webhooks in one call (the legacy form): creates, then updates the endpoint for the same URL", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const url = publicUrl();
    const first = await t.call("POST", "/api/v1/webhooks/configure", { apiKey, body: { url, events: ["post.published", "post.failed"], secret: "webhook_signing_secret" } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ success: true, endpoint: { url, events: ["post.published", "post.failed"], secret: "webhook_signing_secret" } });
    await t.call("PATCH", `/api/v1/webhook-endpoints/${first.body.endpoint.id}`, { apiKey, body: { is_active: false } });
    const again = await t.call("POST", "/api/v1/webhooks/configure", { apiKey, body: { url, events: ["*"] } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ success: true, endpoint: expect.objectContaining({ id: first.body.endpoint.id, events: ["*"], is_active: true }) });
    expect(again.body.endpoint.secret).toBeUndefined();
    expect(await endpointCount(profileId)).toBe(1);
    const [row] = await t.sql`select secret_enc from public.webhook_endpoints where id = ${first.body.endpoint.id}`;
    expect(open(row!.secret_enc, { purpose: "webhook_endpoints.secret", rowId: first.body.endpoint.id }, keyringFrom(t.home.secrets.encryptionKey))).toBe("webhook_signing_secret");
  });
});

describe("webhook endpoints: bad input and refusals", () => {
  const badBodies: [string, Record<string, unknown>, string][] = [
    ["http in the cloud", { url: "http://93.184.215.14/hook", events: ["*"] }, "url"],
    ["a private address", { url: "https://10.0.0.5/hook", events: ["*"] }, "url"],
    ["a 192.168 address", { url: "https://192.168.1.20/hook", events: ["*"] }, "url"],
    ["loopback in the cloud", { url: "https://127.0.0.1:8443/hook", events: ["*"] }, "url"],
    ["localhost in the cloud", { url: "http://localhost:3000/webhook", events: ["*"] }, "url"],
    ["IPv6 loopback", { url: "https://[::1]/hook", events: ["*"] }, "url"],
    ["IPv4-mapped loopback", { url: "https://[::ffff:127.0.0.1]/hook", events: ["*"] }, "url"],
    ["the metadata address", { url: "https://169.254.169.254/latest/meta-data/", events: ["*"] }, "url"],
    ["carrier-grade NAT", { url: "https://100.64.12.1/hook", events: ["*"] }, "url"],
    ["unique-local IPv6", { url: "https://[fd00::1]/hook", events: ["*"] }, "url"],
    ["link-local IPv6", { url: "https://[fe80::1]/hook", events: ["*"] }, "url"],
    ["credentials in the URL", { url: "https://user:pw@93.184.215.14/hook", events: ["*"] }, "url"],
    ["an unresolvable host", { url: "https://no-such-host.invalid/hook", events: ["*"] }, "url"],
    ["not a URL", { url: "webhook please", events: ["*"] }, "url"],
    ["an unknown event", { url: "https://93.184.215.14/x", events: ["post.deleted"] }, "events.0"],
    ["no events", { url: "https://93.184.215.14/x", events: [] }, "events"],
    ["events missing", { url: "https://93.184.215.14/x" }, "events"],
    ["maxRetries above 10", { url: "https://93.184.215.14/x", events: ["*"], maxRetries: 11 }, "maxRetries"],
    ["negative maxRetries", { url: "https://93.184.215.14/x", events: ["*"], maxRetries: -1 }, "maxRetries"],
    ["fractional maxRetries", { url: "https://93.184.215.14/x", events: ["*"], maxRetries: 2.5 }, "maxRetries"],
    ["both retry spellings", { url: "https://93.184.215.14/x", events: ["*"], maxRetries: 2, max_retries: 3 }, "maxRetries"],
    ["a short secret", { url: "https://93.184.215.14/x", events: ["*"], secret: "short" }, "secret"],
    ["an unknown field", { url: "https://93.184.215.14/x", events: ["*"], retries: 3 }, "retries"],
  ];

  let fixture: Awaited<ReturnType<typeof paidUserWithKey>>;
  beforeAll(async () => {
    fixture = await paidUserWithKey(t);
  });

  for (const [what, body, field] of badBodies) {
    it(`refuses ${what} (400 naming ${field}), saving nothing`, async () => {
      const res = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: fixture.apiKey, body });
      assertEnvelope(res, 400, "validation_error");
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
      const legacy = await t.call("POST", "/api/v1/webhooks/configure", { apiKey: fixture.apiKey, body });
      assertEnvelope(legacy, 400, "validation_error");
      expect(await endpointCount(fixture.profileId)).toBe(0);
    });
  }

  it("refuses a bad URL or event on update too, changing nothing", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const url = publicUrl();
    const created = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey, body: { url, events: ["*"] } });
    const id = created.body.endpoint.id as string;
    assertEnvelope(await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { apiKey, body: { url: "https://10.1.1.1/x" } }), 400, "validation_error");
    assertEnvelope(await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { apiKey, body: { events: ["nope"] } }), 400, "validation_error");
    assertEnvelope(await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { apiKey, body: { max_retries: 99 } }), 400, "validation_error");
    assertEnvelope(await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { apiKey, body: {} }), 400, "validation_error");
    const [row] = await t.sql`select url, events, max_retries from public.webhook_endpoints where id = ${id}`;
    expect(row).toEqual({ url, events: ["*"], max_retries: 5 });
  });

  it("refuses a second endpoint with the same URL in one profile (409)", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const url = publicUrl();
    expect((await t.call("POST", "/api/v1/webhook-endpoints", { apiKey, body: { url, events: ["*"] } })).status).toBe(201);
    assertEnvelope(await t.call("POST", "/api/v1/webhook-endpoints", { apiKey, body: { url, events: ["post.failed"] } }), 409, "conflict");
    expect(await endpointCount(profileId)).toBe(1);
  });

  it("answers 402 on the Free plan, and lets a lapsed plan still remove its endpoints", async () => {
    const free = await signUp(t);
    const profileId = await createProfile(t, free, "Free profile");
    const body = { profileId, url: publicUrl(), events: ["*"] };
    assertEnvelope(await t.call("POST", "/api/webhook-endpoints", { token: free.token, body }), 402, "subscription_required");
    assertEnvelope(await t.call("POST", "/api/v1/webhook-endpoints", { token: free.token, body }), 402, "subscription_required");
    assertEnvelope(await t.call("GET", `/api/webhook-endpoints?profileId=${profileId}`, { token: free.token }), 402, "subscription_required");
    assertEnvelope(await t.call("POST", "/api/v1/webhooks/configure", { token: free.token, body }), 402, "subscription_required");
    expect(await endpointCount(profileId)).toBe(0);

    const lapsing = await paidUserWithKey(t);
    const created = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: lapsing.apiKey, body: { url: publicUrl(), events: ["*"] } });
    await subscribe(t, lapsing.user, "starter", "canceled");
    const token = lapsing.user.token;
    assertEnvelope(await t.call("GET", `/api/webhook-endpoints?profileId=${lapsing.profileId}`, { token }), 402, "subscription_required");
    assertEnvelope(await t.call("PATCH", `/api/webhook-endpoints/${created.body.endpoint.id}`, { token, body: { is_active: false } }), 402, "subscription_required");
    assertEnvelope(await t.call("GET", `/api/webhook-endpoints/${created.body.endpoint.id}/deliveries`, { token }), 402, "subscription_required");
    expect((await t.call("DELETE", `/api/webhook-endpoints/${created.body.endpoint.id}`, { token })).status).toBe(200);
  });

  it("lets members see endpoints but only owners and admins change them (403)", async () => {
    const owner = await paidUserWithKey(t);
    const created = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: owner.apiKey, body: { url: publicUrl(), events: ["*"] } });
    const member = await signUp(t);
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${owner.profileId}, ${member.id}, 'member')`;
    const token = member.token;
    const list = await t.call("GET", `/api/webhook-endpoints?profileId=${owner.profileId}`, { token });
    expect(list.status).toBe(200);
    expect(list.body.endpoints).toHaveLength(1);
    assertEnvelope(await t.call("POST", "/api/webhook-endpoints", { token, body: { profileId: owner.profileId, url: publicUrl(), events: ["*"] } }), 403, "forbidden");
    assertEnvelope(await t.call("PATCH", `/api/webhook-endpoints/${created.body.endpoint.id}`, { token, body: { is_active: false } }), 403, "forbidden");
    assertEnvelope(await t.call("DELETE", `/api/webhook-endpoints/${created.body.endpoint.id}`, { token }), 403, "forbidden");
    const admin = await signUp(t);
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${owner.profileId}, ${admin.id}, 'admin')`;
    const byAdmin = await t.call("PATCH", `/api/webhook-endpoints/${created.body.endpoint.id}`, { token: admin.token, body: { is_active: false } });
    expect(byAdmin.status).toBe(200);
  });

  it("confines an API key to its own profile and never reveals a secret to the database role", async () => {
    const a = await paidUserWithKey(t);
    const b = await paidUserWithKey(t);
    const created = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: a.apiKey, body: { url: publicUrl(), events: ["*"] } });
    const id = created.body.endpoint.id as string;
    assertEnvelope(await t.call("GET", `/api/v1/webhook-endpoints?profileId=${a.profileId}`, { apiKey: b.apiKey }), 404, "not_found");
    assertEnvelope(await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: b.apiKey, body: { profileId: a.profileId, url: publicUrl(), events: ["*"] } }), 404, "not_found");
    assertEnvelope(await t.call("PATCH", `/api/v1/webhook-endpoints/${id}`, { apiKey: b.apiKey, body: { is_active: false } }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", `/api/v1/webhook-endpoints/${id}`, { apiKey: b.apiKey }), 404, "not_found");
    assertEnvelope(await t.call("GET", `/api/v1/webhook-endpoints/${id}/deliveries`, { apiKey: b.apiKey }), 404, "not_found");
    assertEnvelope(await t.call("POST", `/api/v1/webhook-deliveries/00000000-0000-4000-8000-000000000000/retry`, { apiKey: a.apiKey }), 404, "not_found");
    await expect(
      t.sql.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${JSON.stringify({ sub: a.user.id, role: "authenticated" })}, true)`;
        await tx`set local role amplify_api`;
        return tx`select secret_enc from public.webhook_endpoints`;
      }),
    ).rejects.toMatchObject({ code: "42501" });
  });
});
