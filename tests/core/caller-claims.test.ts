import { describe, expect, it } from "vitest";
import { services } from "../../src/core/services.js";
import { useTestHome } from "../helpers/home.js";
import { createProfile, signUp } from "../helpers/users.js";

/**
 * The caller's claims reach Postgres exactly as given. src/core/pg.ts sends them as a quoted literal (a statement
 * without parameters costs one round trip instead of two), so text that would end or escape a literal must arrive
 * unchanged and must not run as SQL.
 */
const t = useTestHome();

describe("a caller's transaction (db.as)", () => {
  it("sees its claims byte for byte, whatever quotes, dollar signs and backslashes they contain", async () => {
    const user = await signUp(t);
    const emails = ["plain@example.com", "o'brien@example.com", "a$q$b@example.com", "$q0$$q$x\\'; drop table public.profiles; --@example.com"];
    for (const email of emails) {
      const [row] = await services().db.as({ sub: user.id, role: "authenticated", email }, (tx) =>
        tx<{ uid: string; email: string; role: string }[]>`
          select auth.uid()::text as uid, auth.jwt() ->> 'email' as email, current_user::text as role`,
      );
      expect(row).toEqual({ uid: user.id, email, role: "amplify_api" });
    }
  });

  it("runs under the policies as that caller: a key's claims see only the key's profile", async () => {
    const user = await signUp(t);
    const first = await createProfile(t, user, "First");
    await createProfile(t, user, "Second");
    const ids = await services().db.as({ sub: user.id, role: "authenticated", profile_id: first }, (tx) =>
      tx<{ id: string }[]>`select id from public.profiles`,
    );
    expect(ids.map((r) => r.id)).toEqual([first]);
  });
});
