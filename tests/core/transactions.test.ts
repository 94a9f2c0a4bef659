import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { retryIfAborted } from "../../src/core/pg.js";
import { serviceDb, services } from "../../src/core/services.js";
import { useTestHome } from "../helpers/home.js";
import { statementsSent as statementsSentTo } from "../helpers/wire.js";
import { createProfile, signUp } from "../helpers/users.js";

/**
 * The transactions every handler and job runs in (src/core/pg.ts: `db.as`, `serviceDb`): all or nothing, a failed
 * statement fails the transaction even when the code caught it, a statement sent but never awaited counts, a fragment
 * runs only inside its statement, savepoints roll back just their part, and a caller's statements run under its claims.
 */
const t = useTestHome();

/** Statements this process sends to the home's Postgres while `run` runs. */
const statementsSent = <T>(run: () => Promise<T>) => statementsSentTo(Number(new URL(services().env.DATABASE_URL).port), run);

describe("db.as and serviceDb transactions", () => {
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
    const { value, statements } = await statementsSent(() =>
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

describe("retryIfAborted", () => {
  it("runs a transaction Postgres aborted as a deadlock's victim again: both sides commit, each once", async () => {
    const user = await signUp(t);
    const first = await createProfile(t, user, "first");
    const second = await createProfile(t, user, "second");
    // Each transaction appends its letter to both profiles' names, in opposite orders, and takes its second row only
    // once both hold their first: a deadlock, of which Postgres aborts one.
    let holding = 0;
    let bothHold!: () => void;
    const bothHolding = new Promise<void>((resolve) => (bothHold = resolve));
    const runs = { a: 0, b: 0 };
    const append = (letter: "a" | "b", order: string[]) =>
      retryIfAborted(() =>
        serviceDb()(async (tx) => {
          runs[letter]++;
          await tx`update public.profiles set name = name || ${letter} where id = ${order[0]!}`;
          if (++holding === 2) bothHold();
          await bothHolding;
          await tx`update public.profiles set name = name || ${letter} where id = ${order[1]!}`;
        }),
      );
    await Promise.all([append("a", [first, second]), append("b", [second, first])]);

    expect(runs.a + runs.b).toBe(3);
    const names = await t.sql<{ name: string }[]>`select name from public.profiles where id in (${first}, ${second}) order by name`;
    expect(names.map((r) => [...r.name.slice(-2)].sort().join(""))).toEqual(["ab", "ab"]);
  });

  it("does not run again a transaction that failed for any other reason", async () => {
    let runs = 0;
    await expect(
      retryIfAborted(() =>
        serviceDb()(async (tx) => {
          runs++;
          await tx`select 1 / 0`;
        }),
      ),
    ).rejects.toMatchObject({ code: "22012" });
    expect(runs).toBe(1);
  });
});
