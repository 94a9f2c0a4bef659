import { describe, expect, it } from "vitest";
import { sandboxClients } from "../../src/sandbox/clients.js";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Our own Meta app as a Business app: with FACEBOOK_LOGIN_CONFIG_ID set, every Facebook connection signs in through
 * that Facebook Login for Business configuration rather than asking for scopes (a customer's own app does the same
 * with its `configId` option: tests/white-label/white-label.flow.test.ts).
 */
const CONFIG_ID = "555000111222333";
const t = useTestHome({ env: { FACEBOOK_LOGIN_CONFIG_ID: CONFIG_ID } });

describe("Facebook with our own Login for Business configuration", () => {
  it("names the configuration in connect/init's consent URL, and the connection holds what the configuration grants", async () => {
    // The configuration as the App Dashboard would hold it for our app (the sandbox's copy of it). The sandbox makes
    // its tables on its first request.
    expect((await fetch(`${t.home.url}/sandbox/facebook/__sandbox/configurations`)).status).toBe(200);
    await t.sql`
      insert into local_sandbox.facebook_login_configurations (id, client_id, name, permissions)
      values (${CONFIG_ID}, ${sandboxClients.facebook.clientId}, 'Publishing', ${["pages_show_list", "pages_read_engagement", "pages_manage_posts"]})`;

    const { apiKey } = await paidUserWithKey(t);
    const init = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "facebook", returnUrl: new URL("/connected", t.home.url).toString() } });
    expect(init.status, JSON.stringify(init.body)).toBe(200);
    const consent = new URL(init.body.url);
    expect(consent.searchParams.get("client_id")).toBe(sandboxClients.facebook.clientId);
    expect(consent.searchParams.get("config_id")).toBe(CONFIG_ID);
    expect(consent.searchParams.has("scope")).toBe(false);

    const connectionId = await connectAccount(t, { apiKey }, "facebook");
    const [conn] = await t.sql<{ scopes: string[] }[]>`select scopes from public.connections where id = ${connectionId}`;
    expect([...conn!.scopes].sort()).toEqual(["pages_manage_posts", "pages_read_engagement", "pages_show_list"]);
    const post = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "facebook", content: "Through our Business app" } });
    expect(post.status, JSON.stringify(post.body)).toBe(201);
    expect(post.body).toMatchObject({ status: "published" });
  });
});
