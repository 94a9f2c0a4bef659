import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { UNREADABLE_TOKEN } from "../../src/connections/tokens.js";
import { CiphertextError, keyringFrom, open, seal, type SealContext } from "../../src/core/crypto.js";
import { UNREADABLE_SECRET } from "../../src/webhooks/deliver.js";
import { reencrypt } from "../../scripts/reencrypt.js";
import { connectAccount, eventually, sandboxPosts } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import { standardWebhooksVerifies, webhookKit } from "../helpers/webhook-receiver.js";

/**
 * Finding 12 (and the finding-7 fault): every stored secret is sealed with AES-256-GCM whose associated data names
 * its column and row, so a ciphertext copied into another row (or column) no longer opens, and a value that does not
 * open fails closed: the connection needs reconnecting, the webhook delivery fails for good with a clear error, and
 * neither throws (no 500s, no queue retries).
 */
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.2", PUBLISH_RETRY_BASE_SECONDS: "0.2", WEBHOOK_RETRY_BASE_SECONDS: "0.05" } });
const kit = webhookKit(t);

let n = 0;
const unique = (text: string) => `${text} #${++n}-${Date.now()}`;
const ring = () => keyringFrom(t.home.secrets.encryptionKey);

async function publishTwitter(apiKey: string, content = unique("Hello")): Promise<string> {
  const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.postId as string;
}

async function settledTarget(postId: string) {
  return eventually(async () => {
    const [target] = await t.sql`select status, error_category, error_message, attempts from public.post_targets where post_id = ${postId}`;
    return target && ["published", "failed"].includes(target.status as string) ? target : undefined;
  }, 20_000, `post ${postId} to settle`);
}

async function connectionOf(apiKey: string, id: string) {
  const list = await t.call("GET", "/api/v1/connections", { apiKey });
  expect(list.status).toBe(200);
  return list.body.connections.find((c: { id: string }) => c.id === id);
}

/** The queue emulator's messages carrying this delivery, with the worker's answer to each call. */
async function queueMessagesFor(deliveryId: string) {
  return t.sql<{ state: string; answers: (number | null)[] }[]>`
    select m.state, array(select a.status from local_qstash.attempts a where a.message_id = m.id order by a.id) as answers
    from local_qstash.messages m where convert_from(m.body, 'UTF8') like ${`%${deliveryId}%`}`;
}

// Finding 12: a ciphertext moved between rows.
describe("a token sealed for one connection does not open in another", () => {
  it("copying both tokens of another tenant's connection: the publish fails as needs_reconnect and nothing reaches the victim's account", async () => {
    const victim = await paidUserWithKey(t);
    const victimConnection = await connectAccount(t, { apiKey: victim.apiKey }, "twitter");
    const thief = await paidUserWithKey(t);
    const thiefConnection = await connectAccount(t, { apiKey: thief.apiKey }, "twitter");
    // What a writer of ciphertext columns (an admin, a leaked backup restored into place) could do.
    await t.sql`
      update public.connections c set access_token_enc = v.access_token_enc, refresh_token_enc = v.refresh_token_enc
      from public.connections v where v.id = ${victimConnection} and c.id = ${thiefConnection}`;

    const postId = await publishTwitter(thief.apiKey, unique("Posted with someone else's token"));
    expect(await settledTarget(postId)).toMatchObject({ status: "failed", error_category: "auth_error", error_message: UNREADABLE_TOKEN });
    expect(await connectionOf(thief.apiKey, thiefConnection)).toMatchObject({
      connectionStatus: "needs_reconnect",
      readiness: { status: "needs_reconnect", canPublish: false },
    });
    const [row] = await t.sql`select status, last_error from public.connections where id = ${thiefConnection}`;
    expect(row).toEqual({ status: "needs_reconnect", last_error: UNREADABLE_TOKEN });
    expect(await sandboxPosts(t, victimConnection)).toEqual([]);
    expect(await sandboxPosts(t, thiefConnection)).toEqual([]);
    // The victim's own connection is untouched and still publishes.
    const own = await publishTwitter(victim.apiKey);
    expect((await settledTarget(own)).status).toBe("published");
  });

  it("an unreadable access token with a readable refresh token is refreshed: the post goes out on the connection's own account", async () => {
    const victim = await paidUserWithKey(t);
    const victimConnection = await connectAccount(t, { apiKey: victim.apiKey }, "twitter");
    const other = await paidUserWithKey(t);
    const otherConnection = await connectAccount(t, { apiKey: other.apiKey }, "twitter");
    await t.sql`
      update public.connections c set access_token_enc = v.access_token_enc
      from public.connections v where v.id = ${victimConnection} and c.id = ${otherConnection}`;

    const content = unique("Own account only");
    const postId = await publishTwitter(other.apiKey, content);
    expect((await settledTarget(postId)).status).toBe("published");
    expect((await sandboxPosts(t, otherConnection)).map((p) => p.text)).toEqual([content]);
    expect(await sandboxPosts(t, victimConnection)).toEqual([]);
    const [row] = await t.sql`select status, access_token_enc from public.connections where id = ${otherConnection}`;
    expect(row!.status).toBe("connected");
    expect(open(row!.access_token_enc, { purpose: "connections.access_token", rowId: otherConnection }, ring())).toEqual(expect.any(String));
  });

  it("reconnecting an account keeps its row and seals the new tokens for that row", async () => {
    const owner = await paidUserWithKey(t);
    const sandboxUser = `reconnect-${Date.now()}`;
    const first = await connectAccount(t, { apiKey: owner.apiKey }, "twitter", { sandboxUser });
    const again = await connectAccount(t, { apiKey: owner.apiKey }, "twitter", { sandboxUser });
    expect(again).toBe(first);
    const [row] = await t.sql`select access_token_enc, refresh_token_enc from public.connections where id = ${first}`;
    expect(open(row!.access_token_enc, { purpose: "connections.access_token", rowId: first }, ring())).toEqual(expect.any(String));
    expect(open(row!.refresh_token_enc, { purpose: "connections.refresh_token", rowId: first }, ring())).toEqual(expect.any(String));
    const postId = await publishTwitter(owner.apiKey);
    expect((await settledTarget(postId)).status).toBe("published");
  });
});

// Finding 12, and finding 7's fault: a bad secret_enc made the worker throw after claiming, looping 500s.
describe("a webhook secret sealed for one endpoint does not open in another", () => {
  it("the delivery fails for good with a clear error, the worker answers 2xx once, and the other endpoint still gets its event", async () => {
    const good = await kit.setup();
    const moved = await kit.setup();
    await t.sql`
      update public.webhook_endpoints e set secret_enc = g.secret_enc
      from public.webhook_endpoints g where g.id = ${good.endpointId} and e.id = ${moved.endpointId}`;

    await kit.publish(good.apiKey);
    const [received] = await good.receiver.waitFor(1);
    expect(standardWebhooksVerifies(received!, good.secret)).toBe(true);
    const failed = await kit.settledDelivery(moved, "failed");
    expect(failed).toMatchObject({ status: "failed", last_error: UNREADABLE_SECRET, attempt_number: 0 });
    expect(moved.receiver.received).toEqual([]);
    // Every queue message for this delivery was answered 2xx at its first call: no 500, no retry loop.
    const messages = await eventually(async () => {
      const rows = await queueMessagesFor(failed.id);
      return rows.length && rows.every((m) => m.state === "DELIVERED") ? rows : undefined;
    }, 10_000, "the queue to settle the delivery's messages");
    for (const m of messages) {
      expect(m.answers).toHaveLength(1);
      expect(m.answers[0]).toBeGreaterThanOrEqual(200);
      expect(m.answers[0]).toBeLessThan(300);
    }

    // Rotating the secret is the fix the error names: the next event is delivered and signed with the new secret.
    const secret = `whsec_${randomBytes(32).toString("base64")}`;
    const rotated = await t.call("PATCH", `/api/v1/webhook-endpoints/${moved.endpointId}`, { apiKey: moved.apiKey, body: { secret } });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    await kit.publish(moved.apiKey);
    const [after] = await moved.receiver.waitFor(1);
    expect(standardWebhooksVerifies(after!, secret)).toBe(true);
  });
});

// Finding 12: altered values fail closed, as a clear state rather than an error on every attempt.
describe("a tampered ciphertext fails closed", () => {
  const context: SealContext = { purpose: "webhook_endpoints.secret", rowId: "6f1c2d3e-0000-4000-8000-000000000001" };

  /** Changes one character in the middle of part `index` of a sealed value (every bit there is significant). */
  function flip(sealed: string, index: number): string {
    const parts = sealed.split(".");
    const part = parts[index]!;
    const at = Math.floor(part.length / 2);
    parts[index] = part.slice(0, at) + (part[at] === "A" ? "B" : "A") + part.slice(at + 1);
    return parts.join(".");
  }

  it("refuses an altered key id, iv, tag or body, another row, another column, and garbage, without returning anything", () => {
    const keyring = ring();
    const sealed = seal("the plaintext", context, keyring);
    expect(sealed).toMatch(new RegExp(`^v2\\.${keyring.current.id}\\.[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]+$`));
    expect(open(sealed, context, keyring)).toBe("the plaintext");
    const refused = [
      flip(sealed, 1),
      flip(sealed, 2),
      flip(sealed, 3),
      flip(sealed, 4),
      sealed.replace(/^v2\./, "v3."),
      sealed.slice(0, -2),
      `${sealed}!`,
      sealed.split(".").slice(0, 4).join("."),
      "",
      "v1.not.base64",
    ];
    for (const value of refused) expect(() => open(value, context, keyring), value).toThrow(CiphertextError);
    expect(() => open(sealed, { ...context, rowId: "6f1c2d3e-0000-4000-8000-000000000002" }, keyring)).toThrow(CiphertextError);
    expect(() => open(sealed, { purpose: "connections.access_token", rowId: context.rowId }, keyring)).toThrow(CiphertextError);
    expect(() => open(sealed, context, keyringFrom("ab".repeat(32)))).toThrow(/sealed by key/);
  });

  it("a connection whose stored tokens were altered needs reconnecting instead of failing with a 500 on every attempt", async () => {
    const owner = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey: owner.apiKey }, "twitter");
    const [row] = await t.sql<{ access_token_enc: string; refresh_token_enc: string }[]>`
      select access_token_enc, refresh_token_enc from public.connections where id = ${id}`;
    await t.sql`
      update public.connections set access_token_enc = ${flip(row!.access_token_enc, 4)}, refresh_token_enc = ${flip(row!.refresh_token_enc, 3)}
      where id = ${id}`;
    const sync = await t.call("POST", `/api/v1/connections/${id}/sync`, { apiKey: owner.apiKey });
    expect(sync.status).toBe(200);
    expect(sync.body.connection).toMatchObject({ connectionStatus: "needs_reconnect", readiness: { status: "needs_reconnect", canPublish: false } });
    const events = await t.sql`select payload from public.events where event_type = 'connection.needs_reconnect' and payload->'data'->>'connection_id' = ${id}`;
    expect(events).toHaveLength(1);
    expect(events[0]!.payload.data.reason).toBe(UNREADABLE_TOKEN);
  });
});

// Finding 12.
describe("the re-encrypt script reports values no configured key opens and leaves them alone", () => {
  it("counts them as failed, with their row ids", async () => {
    const owner = await paidUserWithKey(t);
    const a = await connectAccount(t, { apiKey: owner.apiKey }, "twitter");
    const b = await connectAccount(t, { apiKey: owner.apiKey }, "linkedin");
    await t.sql`
      update public.connections c set access_token_enc = o.access_token_enc
      from public.connections o where o.id = ${a} and c.id = ${b}`;
    const [before] = await t.sql`select access_token_enc from public.connections where id = ${b}`;
    const counts = await reencrypt({ sql: t.sql, keyring: ring() });
    const access = counts.find((c) => c.column === "access_token_enc")!;
    expect(access.failedIds).toContain(b);
    expect(access.failedIds).not.toContain(a);
    const [after] = await t.sql`select access_token_enc from public.connections where id = ${b}`;
    expect(after!.access_token_enc).toBe(before!.access_token_enc);
  });
});
