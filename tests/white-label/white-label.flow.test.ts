import { afterEach, describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.js";
import { invite, mailsTo } from "../team/team-helpers.js";
import { consentUrl, registerSandboxApp, saveSandboxApp, whiteLabelOwner } from "./helpers.js";

/**
 * White-label in the local home, end to end: a customer registers an app on the sandbox's developer portal, saves it,
 * and its profiles' users connect through it (the sandbox's consent and token endpoints see the customer's client
 * id), publish, and refresh with the customer's secret; the branding shows in the hosted connect pages, invitation
 * mails and webhook User-Agents; losing the add-on drops the branding at once and the apps for new connections at the
 * period's end, while existing connections keep refreshing through the app they were made with.
 */
const t = useTestHome({
  env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3", WEBHOOK_RETRY_BASE_SECONDS: "0.05", WEBHOOK_TIMEOUT_SECONDS: "2" },
});

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

const branding = { displayName: "Acme Social", accentColor: "#0a7c55", supportUrl: "https://help.acme.example/" };

async function brandedOwner() {
  const owner = await whiteLabelOwner(t);
  const res = await t.call("PUT", "/api/v1/white-label/branding", { token: owner.user.token, body: branding });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return owner;
}

/** The sandbox grants (codes, access and refresh tokens) of a connection's account, by kind and client. */
async function grantsOf(connectionId: string) {
  const [c] = await t.sql<{ platform: string; external_account_id: string }[]>`
    select platform, external_account_id from public.connections where id = ${connectionId}`;
  return t.sql<{ kind: string; client_id: string }[]>`
    select kind, client_id from local_sandbox.grants where network = ${c!.platform} and account_id = ${c!.external_account_id}
    order by created_at`;
}

describe("white-label: the customer's own app carries its connections", () => {
  it("registers a sandbox app, saves it, connects through it, publishes, and refreshes with the customer's secret", async () => {
    const owner = await brandedOwner();
    const app = await saveSandboxApp(t, owner.user.token, "twitter");
    // The developer portal keeps the registration (it survives a restart of the home).
    expect(await t.sql`select 1 from local_sandbox.registered_apps where client_id = ${app.clientId}`).toHaveLength(1);

    // The consent screen is the customer's: connect/init names their client id.
    const consent = await consentUrl(t, owner.apiKey, "twitter");
    expect(consent.searchParams.get("client_id")).toBe(app.clientId);

    const connectionId = await connectAccount(t, { apiKey: owner.apiKey }, "twitter");
    const [conn] = await t.sql<{ oauth_app_id: string | null }[]>`select oauth_app_id from public.connections where id = ${connectionId}`;
    expect(conn!.oauth_app_id).toBe(app.id);
    const afterConnect = await grantsOf(connectionId);
    expect(afterConnect.map((g) => g.kind).sort()).toEqual(["access", "code", "refresh"]);
    expect(new Set(afterConnect.map((g) => g.client_id))).toEqual(new Set([app.clientId]));

    // Publishing uses the connection's tokens (issued to the customer's client).
    const post = await t.call("POST", "/api/v1/post", { apiKey: owner.apiKey, body: { platform: "twitter", content: "Posted via Acme" } });
    expect(post.status, JSON.stringify(post.body)).toBe(201);
    expect(post.body).toMatchObject({ status: "published" });

    // A forced refresh goes to the token endpoint with the customer's client id and secret (X's tokens rotate, and
    // the sandbox accepts a refresh token only from the client it was issued to).
    const sync = await t.call("POST", `/api/v1/connections/${connectionId}/sync`, { apiKey: owner.apiKey });
    expect(sync.status, JSON.stringify(sync.body)).toBe(200);
    const afterRefresh = await grantsOf(connectionId);
    expect(afterRefresh.filter((g) => g.kind === "access")).toHaveLength(2);
    expect(new Set(afterRefresh.map((g) => g.client_id))).toEqual(new Set([app.clientId]));
    expect((await t.sql`select status from public.connections where id = ${connectionId}`)[0]!.status).toBe("connected");

    // An app in use cannot be removed, nor its client id changed: the connection's tokens belong to it.
    const removed = await t.call("DELETE", "/api/v1/white-label/apps/twitter", { token: owner.user.token });
    expect(removed.status).toBe(409);
    expect(removed.body).toMatchObject({ code: "conflict", details: { connections: 1 } });
    const other = await saveSandboxApp(t, owner.user.token, "linkedin");
    const changed = await t.call("PUT", "/api/v1/white-label/apps/twitter", {
      token: owner.user.token,
      body: { clientId: other.clientId, clientSecret: other.clientSecret },
    });
    expect(changed.status).toBe(409);
    // A new secret for the same client is fine (here: the same secret again), and the connection goes on refreshing.
    const resaved = await t.call("PUT", "/api/v1/white-label/apps/twitter", {
      token: owner.user.token,
      body: { clientId: app.clientId, clientSecret: app.clientSecret },
    });
    expect(resaved.status).toBe(200);
    expect((await t.call("POST", `/api/v1/connections/${connectionId}/sync`, { apiKey: owner.apiKey })).status).toBe(200);
  });

  it("publishes to Reddit through the customer's app (its client and its User-Agent option)", async () => {
    const owner = await brandedOwner();
    const app = await saveSandboxApp(t, owner.user.token, "reddit");
    const connectionId = await connectAccount(t, { apiKey: owner.apiKey }, "reddit");
    const settings = await t.call("PATCH", `/api/v1/connections/${connectionId}`, { apiKey: owner.apiKey, body: { settings: { subreddit: "acme" } } });
    expect(settings.status, JSON.stringify(settings.body)).toBe(200);
    const post = await t.call("POST", "/api/v1/post", { apiKey: owner.apiKey, body: { platform: "reddit", content: "Acme news\nPosted via Acme" } });
    expect(post.status, JSON.stringify(post.body)).toBe(201);
    expect(post.body).toMatchObject({ status: "published" });
    expect(new Set((await grantsOf(connectionId)).map((g) => g.client_id))).toEqual(new Set([app.clientId]));
  });

  it("signs Facebook users in through the customer's Login for Business configuration, and publishes to their Page", async () => {
    const owner = await brandedOwner();
    const app = await registerSandboxApp(t, "facebook");
    // The customer's Business app has a configuration granting what publishing needs (the sandbox's developer portal).
    const configured = await fetch(`${t.home.url}/sandbox/facebook/__sandbox/configurations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ clientId: app.clientId, permissions: ["pages_show_list", "pages_read_engagement", "pages_manage_posts"] }),
    });
    expect(configured.status).toBe(201);
    const { configId } = (await configured.json()) as { configId: string };
    const saved = await t.call("PUT", "/api/v1/white-label/apps/facebook", {
      token: owner.user.token,
      body: { clientId: app.clientId, clientSecret: app.clientSecret, options: { configId } },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    expect(saved.body.app.options).toEqual({ configId });

    // The consent URL names the customer's client and configuration, and asks for no scopes of its own.
    const consent = await consentUrl(t, owner.apiKey, "facebook");
    expect(consent.searchParams.get("client_id")).toBe(app.clientId);
    expect(consent.searchParams.get("config_id")).toBe(configId);
    expect(consent.searchParams.has("scope")).toBe(false);

    const connectionId = await connectAccount(t, { apiKey: owner.apiKey }, "facebook");
    const [conn] = await t.sql<{ oauth_app_id: string; scopes: string[] }[]>`select oauth_app_id, scopes from public.connections where id = ${connectionId}`;
    expect(conn!.oauth_app_id).toBe(saved.body.app.id);
    expect([...conn!.scopes].sort()).toEqual(["pages_manage_posts", "pages_read_engagement", "pages_show_list"]);
    const post = await t.call("POST", "/api/v1/post", { apiKey: owner.apiKey, body: { platform: "facebook", content: "Posted via Acme's Business app" } });
    expect(post.status, JSON.stringify(post.body)).toBe(201);
    expect(post.body).toMatchObject({ status: "published" });
    expect(new Set((await grantsOf(connectionId)).map((g) => g.client_id))).toEqual(new Set([app.clientId]));
  });

  it("leaves other accounts on our app", async () => {
    const owner = await brandedOwner();
    await saveSandboxApp(t, owner.user.token, "twitter");
    const plain = await paidUserWithKey(t);
    expect((await consentUrl(t, plain.apiKey, "twitter")).searchParams.get("client_id")).toBe("amplify-local-twitter");
    const connectionId = await connectAccount(t, { apiKey: plain.apiKey }, "twitter");
    expect((await t.sql`select oauth_app_id from public.connections where id = ${connectionId}`)[0]!.oauth_app_id).toBeNull();
  });
});

describe("white-label: branding in the flows a customer's users see", () => {
  it("brands the hosted connect pages: the hand-off to the customer's consent page and the return page", async () => {
    const owner = await brandedOwner();
    const app = await saveSandboxApp(t, owner.user.token, "twitter");
    const consent = await consentUrl(t, owner.apiKey, "twitter");
    const handoff = await t.http(`/connect/twitter/handoff?state=${consent.searchParams.get("state")}`);
    expect(handoff.status).toBe(200);
    expect(handoff.headers.get("content-type")).toMatch(/^text\/html/);
    const html = handoff.body as string;
    expect(html).toContain("Acme Social");
    expect(html).toContain("#0a7c55");
    expect(html).toContain("https://help.acme.example/");
    expect(html).toContain(`client_id=${app.clientId}`);
    expect(html).not.toMatch(/amplify/i);
    // The link is the same consent URL connect/init answered (the state stays usable).
    const href = /class="button" href="([^"]+)"/.exec(html)![1]!.replace(/&amp;/g, "&");
    expect(new URL(href).searchParams.get("code_challenge")).toBe(consent.searchParams.get("code_challenge"));

    // The return page: a returnUrl on the app's origin, which the callback sends the browser back to.
    const connectionId = await connectAccount(t, { apiKey: owner.apiKey }, "twitter", {
      returnUrl: new URL(`/connect/twitter/done?profileId=${owner.profileId}`, t.home.url).toString(),
    });
    const done = await t.http(`/connect/twitter/done?profileId=${owner.profileId}&connected=twitter&connectionId=${connectionId}`);
    expect(done.status).toBe(200);
    expect(done.body).toContain("connected to Acme Social");
    expect(done.body).not.toMatch(/amplify/i);
    const failed = await t.http(`/connect/twitter/done?profileId=${owner.profileId}&error=access_denied&platform=twitter`);
    expect(failed.body).toContain("was not connected");
    expect(failed.body).toContain("Acme Social");

    // An unknown state names no product at all.
    const unknown = await t.http("/connect/twitter/handoff?state=nope");
    expect(unknown.status).toBe(404);
    expect(unknown.body).not.toMatch(/amplify/i);
  });

  it("sends invitation mails in the customer's name", async () => {
    const owner = await brandedOwner();
    const email = `invitee-${Date.now()}@example.com`;
    const res = await invite(t, owner.user, owner.profileId, email);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const [mail] = (await mailsTo(t, email)) as (Awaited<ReturnType<typeof mailsTo>>[number] & { fromName?: string })[];
    expect(mail!.fromName).toBe("Acme Social");
    expect(mail!.subject).toContain("on Acme Social");
    expect(mail!.text).toContain("https://help.acme.example/");
    expect(`${mail!.subject}${mail!.text}${mail!.html}`).not.toMatch(/amplify/i);
  });

  it("names the customer in webhook deliveries' User-Agent", async () => {
    const owner = await brandedOwner();
    await connectAccount(t, { apiKey: owner.apiKey }, "twitter");
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const hook = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: owner.apiKey, body: { url: receiver.url, events: ["post.published"] } });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    const post = await t.call("POST", "/api/v1/post", { apiKey: owner.apiKey, body: { platform: "twitter", content: "Webhook UA" } });
    expect(post.status).toBe(201);
    const [delivery] = await receiver.waitFor(1);
    expect(delivery!.headers["user-agent"]).toBe("Acme-Social-Webhooks/1.0");
  });
});

describe("white-label: losing the add-on", () => {
  it("drops the branding at once, keeps the apps for new connections until the period ends, and deletes nothing", async () => {
    const owner = await brandedOwner();
    const app = await saveSandboxApp(t, owner.user.token, "twitter");
    const before = await connectAccount(t, { apiKey: owner.apiKey }, "twitter");

    // Payment failed past Stripe's retries: the subscription sync stores the status and white_label = false.
    const [periodEnd] = await t.sql<{ current_period_end: Date }[]>`
      update public.billing_subscriptions set status = 'unpaid', white_label = false where user_id = ${owner.user.id}
      returning current_period_end`;
    const [lapse] = await t.sql<{ white_label_apps_until: Date }[]>`
      select white_label_apps_until from public.billing_subscriptions where user_id = ${owner.user.id}`;
    expect(lapse!.white_label_apps_until.toISOString()).toBe(periodEnd!.current_period_end.toISOString());

    // Branding: ours, at once, everywhere.
    const seen = await t.call("GET", `/api/v1/white-label/branding?profileId=${owner.profileId}`, { token: owner.user.token });
    expect(seen.body.branding).toMatchObject({ whiteLabel: false, displayName: "Amplify Scheduler" });
    const refused = await t.call("GET", "/api/v1/white-label", { token: owner.user.token });
    expect(refused.status).toBe(402);
    expect(refused.body.details).toEqual({ addOn: "white_label", appsUsableUntil: lapse!.white_label_apps_until.toISOString() });

    // The apps: still used for new connections until the end of the period (the profile's key stopped working with
    // the plan, so the owner connects with their session).
    const consentSession = async () => {
      const init = await t.call("POST", "/api/v1/connect/init", {
        token: owner.user.token,
        body: { platform: "twitter", profileId: owner.profileId, returnUrl: new URL("/connected", t.home.url).toString() },
      });
      expect(init.status, JSON.stringify(init.body)).toBe(200);
      return new URL(init.body.url);
    };
    expect((await consentSession()).searchParams.get("client_id")).toBe(app.clientId);
    const handoff = await t.http(`/connect/twitter/handoff?state=${(await consentSession()).searchParams.get("state")}`);
    expect(handoff.body).toContain("Amplify Scheduler");
    expect(handoff.body).not.toContain("Acme Social");

    // The period ends: new connections use ours; the existing one keeps refreshing through the customer's app.
    await t.sql`update public.billing_subscriptions set white_label_apps_until = now() - interval '1 second' where user_id = ${owner.user.id}`;
    expect((await consentSession()).searchParams.get("client_id")).toBe("amplify-local-twitter");
    const sync = await t.call("POST", `/api/v1/connections/${before}/sync`, { token: owner.user.token });
    expect(sync.status, JSON.stringify(sync.body)).toBe(200);
    const grants = await grantsOf(before);
    expect(grants.filter((g) => g.kind === "access")).toHaveLength(2);
    expect(new Set(grants.map((g) => g.client_id))).toEqual(new Set([app.clientId]));

    // Nothing was deleted; regaining the add-on brings it all back.
    expect(await t.sql`select 1 from public.white_label_brands where user_id = ${owner.user.id}`).toHaveLength(1);
    expect(await t.sql`select 1 from public.white_label_apps where id = ${app.id}`).toHaveLength(1);
    await t.sql`update public.billing_subscriptions set status = 'active', white_label = true where user_id = ${owner.user.id}`;
    expect((await t.sql`select white_label_apps_until from public.billing_subscriptions where user_id = ${owner.user.id}`)[0]!.white_label_apps_until).toBeNull();
    expect((await consentSession()).searchParams.get("client_id")).toBe(app.clientId);
    const back = await t.call("GET", `/api/v1/white-label/branding?profileId=${owner.profileId}`, { token: owner.user.token });
    expect(back.body.branding).toMatchObject({ whiteLabel: true, displayName: "Acme Social" });
  });
});
