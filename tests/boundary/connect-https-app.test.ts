import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Issue 9, finding 6, for an app served over https (as in the cloud): the browser-binding cookie is Secure, and
 * plain-http origins are refused outright, loopback ones included (they are only for an app itself on localhost).
 */

const APP_URL = "https://app.amplify.test";
const t = useTestHome({ appUrl: APP_URL });

describe("on an https app, the connect flow's cookie is Secure and only https origins are accepted (finding 6)", () => {
  it("sets the browser-binding cookie with Secure", async () => {
    const { user, profileId } = await paidUserWithKey(t);
    const init = await t.call("POST", "/api/v1/connect/init", {
      token: user.token,
      body: { platform: "twitter", profileId, returnUrl: `${APP_URL}/connected` },
    });
    expect(init.status, JSON.stringify(init.body)).toBe(200);
    const [cookie] = init.headers.getSetCookie();
    expect(cookie!.split(";").map((a) => a.trim().toLowerCase())).toEqual(
      expect.arrayContaining(["secure", "httponly", "samesite=lax", "path=/api/connect/callback/twitter"]),
    );
    expect(new URL(init.body.url).searchParams.get("redirect_uri")).toBe(`${APP_URL}/api/connect/callback/twitter`);
  });

  it("refuses http origins, loopback included, and returnUrls on the local server's own http origin", async () => {
    const { apiKey } = await paidUserWithKey(t);
    for (const origin of ["http://localhost:3000", "http://127.0.0.1:8080", "http://app.amplify.test"]) {
      const res = await t.call("POST", "/api/v1/connect/return-origins", { apiKey, body: { origin } });
      assertEnvelope(res, 400, "validation_error");
      expect(res.body.details[0].field).toBe("origin");
    }
    const res = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform: "twitter", returnUrl: `${t.home.url}/back` } });
    assertEnvelope(res, 400, "validation_error");
    expect(res.body.details[0].field).toBe("returnUrl");
  });
});
