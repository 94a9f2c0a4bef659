import net from "node:net";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { serviceDb, services } from "../../src/core/services.js";
import { useTestHome } from "../helpers/home.js";
import { createProfile, signUp } from "../helpers/users.js";

/**
 * The transactions every handler and job runs in (src/core/pg.ts: `db.as`, `serviceDb`): BEGIN travels with the
 * caller's setup and the first statement, and what postgres.js' own `sql.begin` promises still holds: all or nothing,
 * a failed statement fails the transaction even when the code caught it, savepoints roll back just their part.
 */
const t = useTestHome();

/** Writes this process sends to Postgres while `run` runs, and how many of them wait for an answer. */
async function writesTo<T>(run: () => Promise<T>): Promise<{ value: T; waits: number; statements: number }> {
  const port = Number(new URL(services().env.DATABASE_URL).port);
  const write = net.Socket.prototype.write;
  let waits = 0;
  let statements = 0;
  net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    if (this.remotePort === port && Buffer.isBuffer(chunk)) {
      let at = 0;
      let waiting = false;
      while (at + 5 <= chunk.length) {
        const type = chunk[at]!;
        if (type === 0x45 /* Execute */ || type === 0x51 /* Query */) statements++;
        if (type === 0x53 /* Sync */ || type === 0x48 /* Flush */ || type === 0x51) waiting = true;
        at += 1 + chunk.readInt32BE(at + 1);
      }
      if (waiting) waits++;
    }
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof net.Socket.prototype.write;
  try {
    const value = await run();
    return { value, waits, statements };
  } finally {
    net.Socket.prototype.write = write;
  }
}

describe("db.as and serviceDb transactions", () => {
  it("send BEGIN, the caller's claims and a first statement without parameters in one write, and COMMIT in another", async () => {
    const user = await signUp(t);
    await services().db.as({ sub: user.id, role: "authenticated" }, (tx) => tx`select 1`); // the pool's connection is open
    const { value, waits } = await writesTo(() =>
      services().db.as({ sub: user.id, role: "authenticated" }, (tx) => tx<{ uid: string }[]>`select auth.uid()::text as uid`),
    );
    expect(value[0]!.uid).toBe(user.id);
    expect(waits).toBe(2);
  });

  it("keep nothing of a transaction whose handler throws, and answer with the handler's error", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user, "Before");
    await expect(
      serviceDb()(async (tx) => {
        await tx`update public.profiles set name = 'During' where id = ${profileId}`;
        throw new Error("the handler changed its mind");
      }),
    ).rejects.toThrow("the handler changed its mind");
    const [row] = await t.sql<{ name: string }[]>`select name from public.profiles where id = ${profileId}`;
    expect(row!.name).toBe("Before");
  });

  it("fail with the statement's own error when the code caught it and went on, and keep nothing", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user, "Before");
    const attempt = serviceDb()(async (tx) => {
      await tx`update public.profiles set name = 'During' where id = ${profileId}`;
      await tx`select 1 / 0`.catch(() => undefined); // caught: the transaction is still aborted
      await tx`select 1`.catch(() => undefined); // "current transaction is aborted", also caught
      return "done";
    });
    await expect(attempt).rejects.toMatchObject({ code: "22012" }); // division_by_zero, not 25P02
    const [row] = await t.sql<{ name: string }[]>`select name from public.profiles where id = ${profileId}`;
    expect(row!.name).toBe("Before");
  });

  it("fail the transaction for a statement that was sent but never awaited", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user, "Before");
    const attempt = serviceDb()(async (tx) => {
      await tx`update public.profiles set name = 'During' where id = ${profileId}`;
      void tx`select 1 / 0`.execute();
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
    await expect(attempt).rejects.toBeInstanceOf(postgres.PostgresError);
    const [row] = await t.sql<{ name: string }[]>`select name from public.profiles where id = ${profileId}`;
    expect(row!.name).toBe("Before");
  });

  it("run a fragment only as part of the statement it is in", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user, "Fragment");
    const { value, statements } = await writesTo(() =>
      serviceDb()(async (tx) => {
        const where = tx`id = ${profileId}`;
        return tx<{ name: string }[]>`select name from public.profiles where ${where}`;
      }),
    );
    expect(value.map((r) => r.name)).toEqual(["Fragment"]);
    expect(statements).toBe(3); // BEGIN, the select, COMMIT
  });

  it("roll a savepoint back alone: the work before it commits, the caught error inside it does not fail the rest", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user, "Before");
    await serviceDb()(async (tx) => {
      await tx`update public.profiles set name = 'Outer' where id = ${profileId}`;
      await expect(
        tx.savepoint(async (sp) => {
          await sp`update public.profiles set description = 'Inner' where id = ${profileId}`;
          await sp`select 1 / 0`;
        }),
      ).rejects.toMatchObject({ code: "22012" });
      const kept = await tx.savepoint(async (sp) => {
        await sp`update public.profiles set timezone = 'Europe/Paris' where id = ${profileId}`;
        return "kept";
      });
      expect(kept).toBe("kept");
    });
    const [row] = await t.sql<{ name: string; description: string | null; timezone: string }[]>`
      select name, description, timezone from public.profiles where id = ${profileId}`;
    expect(row).toEqual({ name: "Outer", description: null, timezone: "Europe/Paris" });
  });

  it("run a caller's first statement under its claims, and fail closed on claims Postgres cannot read", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user, "Mine");
    // A subject that is not a uuid makes the policies' auth.uid() fail: the statement errs instead of running as anyone.
    await expect(
      services().db.as({ sub: "not-a-uuid", role: "authenticated" }, (tx) => tx`select id from public.profiles where id = ${profileId}`),
    ).rejects.toBeInstanceOf(postgres.PostgresError);
    const rows = await services().db.as({ sub: user.id, role: "authenticated" }, (tx) =>
      tx<{ id: string; role: string }[]>`select id, current_user::text as role from public.profiles`,
    );
    expect(rows).toEqual([{ id: profileId, role: "amplify_api" }]);
  });
});
