import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { createApiKey, paidUserWithKey, signUp } from "../helpers/users.js";
import { addMember } from "../team/team-helpers.js";
import { optionsFor, registerSandboxApp, saveSandboxApp, whiteLabelOwner } from "./helpers.js";

/**
 * The white-label API through the front door: 402 without the add-on, the billing owner only (admins and members
 * 403, API keys 403, strangers 404), validation in the contract's error format with nothing written, secrets never
 * returned, and every network's app checked against its sandbox on save (registered client ids only).
 */
const t = useTestHome();

const brandingBody = { displayName: "Acme Social", accentColor: "#0A7C55", supportUrl: "https://help.acme.example/" };

describe("white-label: the add-on and who may manage it", () => {
  it("answers 402 subscription_required without the add-on, and writes nothing", async () => {
    const { user } = await paidUserWithKey(t);
    for (const [method, path, body] of [
      ["GET", "/api/v1/white-label", undefined],
      ["PUT", "/api/v1/white-label/branding", brandingBody],
      ["GET", "/api/v1/white-label/apps", undefined],
      ["PUT", "/api/v1/white-label/apps/twitter", { clientId: "x", clientSecret: "y" }],
      ["DELETE", "/api/v1/white-label/apps/twitter", undefined],
    ] as const) {
      const res = await t.call(method, path, { token: user.token, body });
      expect(res.status, `${method} ${path}`).toBe(402);
      expect(res.body).toMatchObject({ success: false, code: "subscription_required", details: { addOn: "white_label" } });
    }
    expect(await t.sql`select 1 from public.white_label_brands where user_id = ${user.id}`).toHaveLength(0);
    expect(await t.sql`select 1 from public.white_label_apps where user_id = ${user.id}`).toHaveLength(0);
  });

  it("lets the billing owner alone manage it: admins and members 403, API keys 403, strangers 404", async () => {
    const owner = await whiteLabelOwner(t);
    const admin = await addMember(t, owner.user, owner.profileId, "admin");
    const member = await addMember(t, owner.user, owner.profileId, "member");
    const stranger = await whiteLabelOwner(t);
    const q = `?profileId=${owner.profileId}`;
    const calls = [
      ["GET", `/api/v1/white-label${q}`, undefined],
      ["PUT", `/api/v1/white-label/branding${q}`, brandingBody],
      ["GET", `/api/v1/white-label/apps${q}`, undefined],
      ["PUT", `/api/v1/white-label/apps/linkedin${q}`, { clientId: "x", clientSecret: "y" }],
      ["DELETE", `/api/v1/white-label/apps/linkedin${q}`, undefined],
    ] as const;
    for (const [method, path, body] of calls) {
      for (const who of [admin.user, member.user]) {
        const res = await t.call(method, path, { token: who.token, body });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body).toMatchObject({ code: "forbidden", details: { reason: "not_billing_owner" } });
      }
      const byKey = await t.call(method, path, { apiKey: owner.apiKey, body });
      expect(byKey.status).toBe(403);
      const byStranger = await t.call(method, path, { token: stranger.user.token, body });
      expect(byStranger.status).toBe(404);
    }
    // An admin's own account (no add-on) is a 402, never the owner's settings.
    expect((await t.call("GET", "/api/v1/white-label", { token: admin.user.token })).status).toBe(402);
    // The owner, naming the account through the profile or not.
    expect((await t.call("PUT", `/api/v1/white-label/branding${q}`, { token: owner.user.token, body: brandingBody })).status).toBe(200);
    const mine = await t.call("GET", "/api/v1/white-label", { token: owner.user.token });
    expect(mine.status).toBe(200);
    expect(mine.body.whiteLabel).toMatchObject({ active: true, branding: { displayName: "Acme Social", accentColor: "#0a7c55" }, apps: [] });
    // Every member (and the owner's key) sees the branding the profile shows; the stranger's own settings are untouched.
    for (const who of [{ token: admin.user.token }, { token: member.user.token }, { apiKey: owner.apiKey }]) {
      const seen = await t.call("GET", `/api/v1/white-label/branding${q}`, who);
      expect(seen.status).toBe(200);
      expect(seen.body.branding).toEqual({
        whiteLabel: true,
        displayName: "Acme Social",
        logoUrl: null,
        accentColor: "#0a7c55",
        supportUrl: "https://help.acme.example/",
      });
    }
    expect((await t.call("GET", "/api/v1/white-label", { token: stranger.user.token })).body.whiteLabel.branding).toBeNull();
    expect((await t.call("GET", `/api/v1/white-label/branding${q}`, { token: stranger.user.token })).status).toBe(404);
    // A profile without white-label shows ours.
    const plain = await paidUserWithKey(t);
    const ours = await t.call("GET", "/api/v1/white-label/branding", { apiKey: plain.apiKey });
    expect(ours.body.branding).toMatchObject({ whiteLabel: false, displayName: "Amplify Scheduler" });
  });
});

describe("white-label: validation", () => {
  it("refuses bad branding with 400s naming the field, and writes nothing", async () => {
    const owner = await whiteLabelOwner(t);
    const other = await whiteLabelOwner(t);
    const [media] = await t.sql<{ id: string }[]>`
      insert into public.media (id, profile_id, uploaded_by, file_path, public_url, mime_type, file_size, file_name)
      values (gen_random_uuid(), ${other.profileId}, ${other.user.id}, ${`${other.user.id}/${other.profileId}/logo.png`},
              'https://storage.example/logo.png', 'image/png', 100, 'logo.png')
      returning id`;
    const cases: [Record<string, unknown>, string][] = [
      [{ ...brandingBody, displayName: "" }, "displayName"],
      [{ ...brandingBody, displayName: "x".repeat(61) }, "displayName"],
      [{ ...brandingBody, accentColor: "#12345g" }, "accentColor"],
      [{ ...brandingBody, accentColor: "teal" }, "accentColor"],
      [{ ...brandingBody, supportUrl: "javascript:alert(1)" }, "supportUrl"],
      [{ ...brandingBody, logoMediaId: "not-a-uuid" }, "logoMediaId"],
      [{ ...brandingBody, logoMediaId: media!.id }, "logoMediaId"],
      [{ ...brandingBody, extra: 1 }, "extra"],
    ];
    for (const [body, field] of cases) {
      const res = await t.call("PUT", "/api/v1/white-label/branding", { token: owner.user.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ success: false, code: "validation_error" });
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    expect(await t.sql`select 1 from public.white_label_brands where user_id = ${owner.user.id}`).toHaveLength(0);

    // A logo uploaded to one of the owner's own profiles (a media record, as the upload flow writes it) is taken, and
    // the profile shows it; a PDF is not a logo.
    const [logo] = await t.sql<{ id: string }[]>`
      insert into public.media (id, profile_id, uploaded_by, file_path, public_url, mime_type, file_size, file_name)
      values (gen_random_uuid(), ${owner.profileId}, ${owner.user.id}, ${`${owner.user.id}/${owner.profileId}/logo.png`},
              'https://storage.example/acme-logo.png', 'image/png', 100, 'logo.png')
      returning id`;
    const [pdf] = await t.sql<{ id: string }[]>`
      insert into public.media (id, profile_id, uploaded_by, file_path, public_url, mime_type, file_size, file_name)
      values (gen_random_uuid(), ${owner.profileId}, ${owner.user.id}, ${`${owner.user.id}/${owner.profileId}/a.pdf`},
              'https://storage.example/a.pdf', 'application/pdf', 100, 'a.pdf')
      returning id`;
    const notImage = await t.call("PUT", "/api/v1/white-label/branding", { token: owner.user.token, body: { ...brandingBody, logoMediaId: pdf!.id } });
    expect(notImage.status).toBe(400);
    const saved = await t.call("PUT", "/api/v1/white-label/branding", { token: owner.user.token, body: { ...brandingBody, logoMediaId: logo!.id } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    expect(saved.body.branding).toMatchObject({ logoMediaId: logo!.id, logoUrl: "https://storage.example/acme-logo.png" });
    const shown = await t.call("GET", "/api/v1/white-label/branding", { apiKey: owner.apiKey });
    expect(shown.body.branding.logoUrl).toBe("https://storage.example/acme-logo.png");
    // Fields left out are cleared.
    const cleared = await t.call("PUT", "/api/v1/white-label/branding", { token: owner.user.token, body: { displayName: "Acme" } });
    expect(cleared.body.branding).toMatchObject({ displayName: "Acme", logoMediaId: null, logoUrl: null, accentColor: null, supportUrl: null });
  });

  it("refuses bad apps (unknown network, missing fields, options, credentials the network refuses) and writes nothing", async () => {
    const owner = await whiteLabelOwner(t);
    const app = await registerSandboxApp(t, "twitter");
    const put = (platform: string, body: unknown) => t.call("PUT", `/api/v1/white-label/apps/${platform}`, { token: owner.user.token, body });
    expect((await put("bluesky", { clientId: "a", clientSecret: "b" })).status).toBe(404);
    expect((await put("myspace", { clientId: "a", clientSecret: "b" })).status).toBe(404);
    const fieldOf = async (platform: string, body: unknown) => {
      const res = await put(platform, body);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.code).toBe("validation_error");
      return res.body.details.map((d: { field: string }) => d.field) as string[];
    };
    expect(await fieldOf("twitter", { clientId: app.clientId })).toContain("clientSecret");
    expect(await fieldOf("twitter", { clientSecret: app.clientSecret })).toContain("clientId");
    expect(await fieldOf("twitter", { clientId: app.clientId, clientSecret: `${app.clientSecret}-wrong` })).toEqual(["clientSecret"]);
    expect(await fieldOf("twitter", { clientId: "never-registered", clientSecret: app.clientSecret })).toEqual(["clientSecret"]);
    expect(await fieldOf("twitter", { ...app, options: { userAgent: "x" } })).toEqual(["options.userAgent"]);
    const reddit = await registerSandboxApp(t, "reddit");
    expect(await fieldOf("reddit", { ...reddit })).toEqual(["options.userAgent"]);
    expect(await fieldOf("tiktok", { clientId: "a", clientSecret: "b", options: { appAudited: "yes" } })).toEqual(["options.appAudited"]);
    expect(await fieldOf("facebook", { clientId: "a", clientSecret: "b", options: { configId: "12 34; drop" } })).toEqual(["options.configId"]);
    expect(await t.sql`select 1 from public.white_label_apps where user_id = ${owner.user.id}`).toHaveLength(0);
  });

  it("checks every network's app against its sandbox: a registered client is saved, a wrong secret refused", async () => {
    const owner = await whiteLabelOwner(t);
    const platforms = ["twitter", "linkedin", "instagram", "facebook", "threads", "tiktok", "youtube", "pinterest", "reddit"];
    for (const platform of platforms) {
      const app = await registerSandboxApp(t, platform);
      const put = (clientSecret: string) =>
        t.call("PUT", `/api/v1/white-label/apps/${platform}`, {
          token: owner.user.token,
          body: { clientId: app.clientId, clientSecret, options: optionsFor(platform) },
        });
      const refused = await put(`${app.clientSecret}x`);
      expect(refused.status, `${platform}: ${JSON.stringify(refused.body)}`).toBe(400);
      expect(refused.body.details).toEqual([expect.objectContaining({ field: "clientSecret" })]);
      const saved = await put(app.clientSecret);
      expect(saved.status, `${platform}: ${JSON.stringify(saved.body)}`).toBe(201);
      expect(saved.body.app).toMatchObject({ platform, clientId: app.clientId, hasClientSecret: true, validatedAt: expect.any(String) });
    }
    const listed = await t.call("GET", "/api/v1/white-label/apps", { token: owner.user.token });
    expect(listed.body.apps.map((a: { platform: string }) => a.platform).sort()).toEqual([...platforms].sort());
  });
});

describe("white-label: secrets", () => {
  it("seals the secret at rest and never returns it; a new secret for the same client updates the app in place", async () => {
    const owner = await whiteLabelOwner(t);
    const saved = await saveSandboxApp(t, owner.user.token, "linkedin");
    const reads = [
      await t.call("GET", "/api/v1/white-label", { token: owner.user.token }),
      await t.call("GET", "/api/v1/white-label/apps", { token: owner.user.token }),
    ];
    for (const r of reads) {
      expect(r.status).toBe(200);
      expect(JSON.stringify(r.body)).not.toContain(saved.clientSecret);
    }
    expect(reads[1]!.body.apps).toEqual([expect.objectContaining({ id: saved.id, clientId: saved.clientId, hasClientSecret: true })]);
    const [row] = await t.sql<{ client_secret_enc: string }[]>`select client_secret_enc from public.white_label_apps where id = ${saved.id}`;
    expect(row!.client_secret_enc).toMatch(/^v2\./);
    expect(row!.client_secret_enc).not.toContain(saved.clientSecret);
    // amplify_api cannot read the sealed column at all.
    const refused = await t.sql
      .begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${JSON.stringify({ role: "authenticated", sub: owner.user.id })}, true)`;
        await tx.unsafe("set local role amplify_api");
        return tx`select client_secret_enc from public.white_label_apps`;
      })
      .catch((e: { code?: string }) => e.code);
    expect(refused).toBe("42501");
    // Same client id, a wrong secret: refused, the stored app unchanged.
    const wrong = await t.call("PUT", "/api/v1/white-label/apps/linkedin", {
      token: owner.user.token,
      body: { clientId: saved.clientId, clientSecret: "not-the-secret" },
    });
    expect(wrong.status).toBe(400);
    const [after] = await t.sql<{ client_secret_enc: string }[]>`select client_secret_enc from public.white_label_apps where id = ${saved.id}`;
    expect(after!.client_secret_enc).toBe(row!.client_secret_enc);
    // An API key of the owner is refused on every owner route (it is confined to one profile).
    const key = await createApiKey(t, owner.user, owner.profileId, "another");
    expect((await t.call("GET", "/api/v1/white-label/apps", { apiKey: key.key })).status).toBe(403);
    // Removing it (no connection uses it) and reading again.
    expect((await t.call("DELETE", "/api/v1/white-label/apps/linkedin", { token: owner.user.token })).status).toBe(200);
    expect((await t.call("DELETE", "/api/v1/white-label/apps/linkedin", { token: owner.user.token })).status).toBe(404);
    expect((await t.call("GET", "/api/v1/white-label/apps", { token: owner.user.token })).body.apps).toEqual([]);
    const someoneElse = await signUp(t);
    expect((await t.call("GET", "/api/v1/white-label/apps", { token: someoneElse.token })).status).toBe(402);
  });
});
