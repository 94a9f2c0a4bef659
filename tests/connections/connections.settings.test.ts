import { beforeAll, describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { createApiKey, paidUserWithKey, signUp } from "../helpers/users.js";

/**
 * PATCH /api/v1/connections/:connectionId: a connection's network settings (Pinterest's default board, Reddit's
 * subreddit), validated by the adapter's schema and against the account, for owners and admins only, answered with
 * the connection in the contract's shape and its readiness as it now is.
 */

const t = useTestHome();

let owner: Awaited<ReturnType<typeof paidUserWithKey>>;
let pinterestId: string;
let boards: { id: string; name: string }[];

const patch = (id: string, body: unknown, apiKey = owner.apiKey) => t.call("PATCH", `/api/v1/connections/${id}`, { apiKey, body });
const settingsOf = async (id: string) => (await t.sql`select settings from public.connections where id = ${id}`)[0]!.settings;

beforeAll(async () => {
  owner = await paidUserWithKey(t);
  pinterestId = await connectAccount(t, { apiKey: owner.apiKey }, "pinterest");
  const [row] = await t.sql<{ metadata: { boards: { id: string; name: string }[] } }[]>`
    select metadata from public.connections where id = ${pinterestId}`;
  boards = row!.metadata.boards;
});

describe("PATCH /api/v1/connections/:id: happy paths", () => {
  it("sets Pinterest's default board and answers with the connection, now ready", async () => {
    const res = await patch(pinterestId, { settings: { boardId: boards[1]!.id } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      connection: expect.objectContaining({
        id: pinterestId,
        platform: "pinterest",
        connectionStatus: "connected",
        settings: { boardId: boards[1]!.id },
        capabilities: { text: true, images: true, video: false, scheduling: true, analytics: true },
        contract: expect.objectContaining({ displayName: "Pinterest", publish: { supported: true, scheduling: true } }),
        readiness: { status: "ready", canPublish: true, canSchedule: true, missingRequirements: [], warnings: [] },
      }),
    });
    const listed = (await t.call("GET", "/api/v1/connections", { apiKey: owner.apiKey })).body.connections;
    expect(listed.find((c: { id: string }) => c.id === pinterestId)).toMatchObject({ settings: { boardId: boards[1]!.id }, readiness: { status: "ready" } });
  });

  it("merges keys into the settings; a key set to null is removed and readiness says what is missing again", async () => {
    await patch(pinterestId, { settings: { boardId: boards[0]!.id } });
    const cleared = await patch(pinterestId, { settings: { boardId: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.body.connection.settings).toEqual({});
    expect(cleared.body.connection.readiness).toMatchObject({
      status: "not_ready",
      canPublish: false,
      missingRequirements: [expect.stringContaining("No default board")],
    });
    await patch(pinterestId, { settings: { boardId: boards[0]!.id } });
  });

  it("normalises what the network's schema normalises (a subreddit given as r/name)", async () => {
    const { apiKey } = owner;
    const redditId = await connectAccount(t, { apiKey }, "reddit");
    const res = await patch(redditId, { settings: { subreddit: "r/AmplifyTest", nsfw: false } });
    expect(res.body.connection).toMatchObject({ settings: { subreddit: "AmplifyTest", nsfw: false }, readiness: { status: "ready", canPublish: true } });
    expect(await settingsOf(redditId)).toEqual({ subreddit: "AmplifyTest", nsfw: false });
  });
});

describe("PATCH /api/v1/connections/:id: bad input", () => {
  it("a board that is not one of the account's boards is a 400 naming settings.boardId, and nothing changes", async () => {
    const before = await settingsOf(pinterestId);
    const res = await patch(pinterestId, { settings: { boardId: "999999999" } });
    assertEnvelope(res, 400, "validation_error");
    expect(res.body.details).toEqual([{ field: "settings.boardId", message: expect.stringContaining("not one of this Pinterest account's boards") }]);
    expect(await settingsOf(pinterestId)).toEqual(before);
  });

  it("refuses values the schema refuses, and settings the network does not have, each by name", async () => {
    const malformed = await patch(pinterestId, { settings: { boardId: "my-board" } });
    assertEnvelope(malformed, 400, "validation_error");
    expect(malformed.body.details).toEqual([{ field: "settings.boardId", message: expect.stringContaining("digits") }]);

    const unknown = await patch(pinterestId, { settings: { board: boards[0]!.id } });
    assertEnvelope(unknown, 400, "validation_error");
    expect(unknown.body.details).toEqual([{ field: "settings.board", message: "Unknown setting" }]);

    // X has no settings at all: a key is refused rather than silently dropped.
    const xId = await connectAccount(t, { apiKey: owner.apiKey }, "twitter");
    const forX = await patch(xId, { settings: { boardId: "1" } });
    assertEnvelope(forX, 400, "validation_error");
    expect(forX.body.details).toEqual([{ field: "settings.boardId", message: "Unknown setting" }]);
    expect((await patch(xId, { settings: {} })).status).toBe(200);
  });

  it("refuses a body without a settings object (400 naming the field)", async () => {
    for (const body of [{}, { settings: "board" }, { settings: [] }, { settings: {}, extra: 1 }]) {
      assertEnvelope(await patch(pinterestId, body), 400, "validation_error");
    }
    const res = await patch(pinterestId, { settings: "board" });
    expect(res.body.details[0].field).toBe("settings");
  });
});

describe("PATCH /api/v1/connections/:id: who may", () => {
  it("a member gets 403, a stranger 404, and neither changes anything", async () => {
    const before = await settingsOf(pinterestId);
    const member = await signUp(t);
    await t.sql`update public.billing_subscriptions set plan = 'starter', status = 'active' where user_id = ${member.id}`;
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${owner.profileId}, ${member.id}, 'member')`;
    const memberKey = (await createApiKey(t, member, owner.profileId)).key;
    assertEnvelope(await patch(pinterestId, { settings: { boardId: boards[1]!.id } }, memberKey), 403, "forbidden");
    // Validation does not run first: even a wrong value from a member is a 403.
    assertEnvelope(await patch(pinterestId, { settings: { boardId: "nope" } }, memberKey), 403, "forbidden");

    const stranger = await paidUserWithKey(t);
    assertEnvelope(await patch(pinterestId, { settings: { boardId: boards[1]!.id } }, stranger.apiKey), 404, "not_found");
    assertEnvelope(await patch("00000000-0000-4000-8000-000000000000", { settings: {} }), 404, "not_found");
    expect(await settingsOf(pinterestId)).toEqual(before);
  });

  it("an admin may change settings, with a browser session too", async () => {
    const admin = await signUp(t);
    await t.sql`insert into public.profile_members (profile_id, user_id, role) values (${owner.profileId}, ${admin.id}, 'admin')`;
    const res = await t.call("PATCH", `/api/v1/connections/${pinterestId}`, { token: admin.token, body: { settings: { boardId: boards[1]!.id } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.connection.settings).toEqual({ boardId: boards[1]!.id });
  });
});
