import { createCipheriv, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { keyringFrom, open, parseKey, type SealContext } from "../../src/core/crypto.js";
import { resetEnvForTests } from "../../src/core/env.js";
import { main, reencrypt, sealedColumns } from "../../scripts/reencrypt.js";
import { connectAccount, eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import { standardWebhooksVerifies, webhookKit, type WebhookReceiver } from "../helpers/webhook-receiver.js";

/**
 * Finding 12: secrets at rest survive a key rotation and the upgrade from the format without associated data. The
 * key is changed the way an operator does it (ENCRYPTION_KEY / ENCRYPTION_KEY_PREVIOUS in the environment of the
 * running functions), and every check goes through the front door: a publish with the stored token, a webhook
 * delivery signed with the stored secret.
 */
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.2", WEBHOOK_RETRY_BASE_SECONDS: "0.05" } });
const kit = webhookKit(t);

const keyA = () => t.home.secrets.encryptionKey;
const keyB = randomBytes(32).toString("hex");
const keyC = randomBytes(32).toString("base64");

/** Sets the keys as a deploy would; the functions read them on their next call. */
function deployKeys(current: string, previous?: string): void {
  process.env.ENCRYPTION_KEY = current;
  if (previous) process.env.ENCRYPTION_KEY_PREVIOUS = previous;
  else delete process.env.ENCRYPTION_KEY_PREVIOUS;
  resetEnvForTests();
}

afterEach(() => deployKeys(keyA()));

/** The format written before associated data existed: `v1.<iv>.<tag>.<ciphertext>`, bound to no row. */
function sealV1(plaintext: string, key: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", parseKey(key), iv);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return ["v1", iv, cipher.getAuthTag(), body].map((p) => (typeof p === "string" ? p : p.toString("base64url"))).join(".");
}

let n = 0;
const unique = (text: string) => `${text} #${++n}-${Date.now()}`;

async function publishes(apiKey: string): Promise<void> {
  const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: unique("Rotation") } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const target = await eventually(async () => {
    const [row] = await t.sql`select status, error_message from public.post_targets where post_id = ${res.body.postId}`;
    return row && ["published", "failed"].includes(row.status as string) ? row : undefined;
  }, 20_000, "the post to settle");
  expect(target).toMatchObject({ status: "published", error_message: null });
}

/** A twitter connection's stored tokens, opened with the test's own view of the keys. */
async function tokensOf(id: string, keys = keyringFrom(keyA())) {
  const [row] = await t.sql<{ access_token_enc: string; refresh_token_enc: string }[]>`
    select access_token_enc, refresh_token_enc from public.connections where id = ${id}`;
  return {
    sealed: row!,
    access: open(row!.access_token_enc, { purpose: "connections.access_token", rowId: id }, keys),
    refresh: open(row!.refresh_token_enc, { purpose: "connections.refresh_token", rowId: id }, keys),
  };
}

/** Rewrites a connection's tokens and an endpoint's secret in the v1 format, as a database from before v2 holds them. */
async function downgradeToV1(connectionId: string, endpointId: string, secret: string, key: string): Promise<void> {
  const { access, refresh } = await tokensOf(connectionId);
  await t.sql`
    update public.connections set access_token_enc = ${sealV1(access, key)}, refresh_token_enc = ${sealV1(refresh, key)}
    where id = ${connectionId}`;
  await t.sql`update public.webhook_endpoints set secret_enc = ${sealV1(secret, key)} where id = ${endpointId}`;
}

async function deliveredSignedWith(s: { apiKey: string; receiver: WebhookReceiver; secret: string }): Promise<void> {
  const before = s.receiver.received.length;
  await kit.publish(s.apiKey);
  const got = await s.receiver.waitFor(before + 1);
  expect(standardWebhooksVerifies(got[before]!, s.secret)).toBe(true);
}

async function allSealedValues() {
  const values: { context: SealContext; sealed: string }[] = [];
  for (const c of sealedColumns) {
    const rows = await t.sql<{ id: string; value: string | null }[]>`select id, ${t.sql(c.column)} as value from ${t.sql(`public.${c.table}`)} order by id`;
    for (const r of rows) if (r.value !== null) values.push({ context: { purpose: c.purpose, rowId: r.id }, sealed: r.value });
  }
  return values;
}

// Finding 12.
describe("values written before associated data existed (v1) still open", () => {
  it("a v1 token still publishes and a v1 webhook secret still signs", async () => {
    const s = await kit.setup();
    const [connection] = await t.sql<{ id: string }[]>`select id from public.connections where profile_id = ${s.profileId}`;
    await downgradeToV1(connection!.id, s.endpointId, s.secret, keyA());
    await publishes(s.apiKey);
    await deliveredSignedWith(s);
  });
});

// Finding 12.
describe("after a key rotation, values sealed by the previous key still open and new ones use the new key", () => {
  it("ENCRYPTION_KEY=B with ENCRYPTION_KEY_PREVIOUS=A: old tokens publish, old secrets sign, a new secret is sealed by B", async () => {
    const owner = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey: owner.apiKey }, "twitter");
    const receiver = await kit.receiver();
    const res = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: owner.apiKey, body: { url: receiver.url, events: ["*"] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const s = { apiKey: owner.apiKey, receiver, endpointId: res.body.endpoint.id as string, secret: res.body.endpoint.secret as string };

    deployKeys(keyB, keyA());
    await publishes(owner.apiKey);
    await deliveredSignedWith(s);
    const created = await t.call("POST", "/api/v1/webhook-endpoints", {
      apiKey: owner.apiKey,
      body: { url: receiver.url.replace("/webhook", "/other"), events: ["post.published"] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const [row] = await t.sql`select secret_enc from public.webhook_endpoints where id = ${created.body.endpoint.id}`;
    expect(row!.secret_enc.startsWith(`v2.${keyringFrom(keyB).current.id}.`)).toBe(true);

    // Dropping the previous key before re-encrypting (the mistake the procedure avoids): what A sealed no longer
    // opens, and that fails closed: the connection needs reconnecting and the deliveries fail for good, nothing throws.
    deployKeys(keyB);
    const post = await t.call("POST", "/api/v1/post", { apiKey: owner.apiKey, body: { platform: "twitter", content: unique("Too early") } });
    expect(post.status).toBe(201);
    const failed = await kit.settledDelivery(s, "failed");
    expect(failed.last_error).toBe("Not sent: the endpoint secret cannot be decrypted; rotate the secret");
    const [connection] = await t.sql`select status, last_error from public.connections where id = ${connectionId}`;
    expect(connection).toEqual({ status: "needs_reconnect", last_error: "The stored token cannot be decrypted; reconnect the account" });
    // This profile's values are deliberately unreadable now; remove it so the next test sees only sound ones.
    await t.sql`delete from public.profiles where id = ${owner.profileId}`;
  });
});

// Finding 12.
describe("the re-encrypt script upgrades every value to the new key, so the previous key can be dropped", () => {
  it("re-seals v1 and previous-key values, is idempotent, and everything opens with the new key alone", async () => {
    const upgraded = await kit.setup();
    const [legacy] = await t.sql<{ id: string }[]>`select id from public.connections where profile_id = ${upgraded.profileId}`;
    await downgradeToV1(legacy!.id, upgraded.endpointId, upgraded.secret, keyA());
    const other = await paidUserWithKey(t);
    const otherConnection = await connectAccount(t, { apiKey: other.apiKey }, "twitter");

    // Rotate to C (base64 this time), with A still accepted; the script runs against the database with the new keys.
    deployKeys(keyC, keyA());
    expect(await main([])).toBe(0);
    const ringC = keyringFrom(keyC);
    const values = await allSealedValues();
    expect(values.length).toBeGreaterThanOrEqual(5);
    for (const v of values) {
      expect(v.sealed.startsWith(`v2.${ringC.current.id}.`), `${v.context.purpose} ${v.context.rowId}`).toBe(true);
      expect(() => open(v.sealed, v.context, ringC)).not.toThrow();
    }
    // Idempotent: a second run finds everything current and rewrites nothing.
    const again = await reencrypt({ sql: t.sql, keyring: keyringFrom(keyC, keyA()), batchSize: 2 });
    expect(again.reduce((sum, c) => sum + c.resealed + c.failed, 0)).toBe(0);
    expect(again.reduce((sum, c) => sum + c.current, 0)).toBe(values.length);
    expect(await allSealedValues()).toEqual(values);

    // Drop the previous key: both connections publish, the upgraded secret still signs.
    deployKeys(keyC);
    await publishes(upgraded.apiKey);
    await publishes(other.apiKey);
    await deliveredSignedWith(upgraded);
    expect((await tokensOf(otherConnection, ringC)).access).toEqual(expect.any(String));
  });
});
