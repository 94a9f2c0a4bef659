import { describe, expect, it } from "vitest";
import { localOnlySettings, parseEnv } from "../../src/core/env.js";

/**
 * Issue 9, finding 13: the cloud/local switch is explicit. `parseEnv` is the pure parser behind `env()`: each case
 * hands it an environment object, as a deploy would have it.
 */
const cloud = {
  DATABASE_URL: "postgres://postgres.ref:pw@aws-0-eu-west-2.pooler.supabase.com:6543/postgres",
  SUPABASE_URL: "https://ref.supabase.co",
  SUPABASE_ANON_KEY: "anon",
  ENCRYPTION_KEY: "0".repeat(64),
  APP_URL: "https://amplify.example.com",
};

const localValues: Record<(typeof localOnlySettings)[number], string> = {
  PLATFORM_SANDBOX_URL: "http://localhost:8888/sandbox",
  STRIPE_API_URL: "http://localhost:8888",
  OUTBOUND_ALLOW_LOOPBACK: "true",
  WEBHOOK_ALLOW_LOOPBACK: "true",
  RATE_LIMIT_OVERRIDES: "api_requests=5/1m",
  RATE_LIMIT_STORE: "memory",
};

function refusal(vars: Record<string, string | undefined>): string {
  try {
    parseEnv(vars);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("parseEnv accepted the environment");
}

// Finding 13.
describe("the cloud home refuses local-only settings and a missing APP_URL", () => {
  it("a complete cloud environment parses, as cloud by default and when AMPLIFY_HOME=cloud says so", () => {
    expect(parseEnv(cloud)).toMatchObject({ AMPLIFY_HOME: "cloud", APP_URL: cloud.APP_URL });
    expect(parseEnv({ ...cloud, AMPLIFY_HOME: "cloud" })).toMatchObject({ AMPLIFY_HOME: "cloud" });
    // An empty variable is an unset one (a blank line in Netlify's UI or a .env file).
    expect(parseEnv({ ...cloud, STRIPE_API_URL: "", RATE_LIMIT_OVERRIDES: "" }).STRIPE_API_URL).toBeUndefined();
  });

  it("each local-only setting is refused in the cloud, by name, with the retired names too", () => {
    expect([...localOnlySettings].sort()).toEqual(Object.keys(localValues).sort());
    for (const [name, value] of Object.entries(localValues)) {
      for (const home of [{}, { AMPLIFY_HOME: "cloud" }]) {
        const message = refusal({ ...cloud, ...home, [name]: value });
        expect(message).toContain(name);
        expect(message).toContain("AMPLIFY_HOME=cloud");
      }
    }
    // Even a value that would turn the feature off: the variable has no business in a deploy.
    expect(refusal({ ...cloud, OUTBOUND_ALLOW_LOOPBACK: "false" })).toContain("OUTBOUND_ALLOW_LOOPBACK");
  });

  it("every offending variable is named at once, with a missing APP_URL", () => {
    const { APP_URL: _unused, ...withoutAppUrl } = cloud;
    const message = refusal({ ...withoutAppUrl, ...localValues });
    for (const name of [...Object.keys(localValues), "APP_URL"]) expect(message).toContain(name);
  });

  it("APP_URL is required in the cloud: no localhost default", () => {
    const { APP_URL: _unused, ...withoutAppUrl } = cloud;
    expect(refusal(withoutAppUrl)).toMatch(/APP_URL: required when AMPLIFY_HOME=cloud/);
    expect(refusal({ ...withoutAppUrl, APP_URL: "" })).toContain("APP_URL");
  });

  it("the local home accepts its own settings and defaults APP_URL to itself", () => {
    const { APP_URL: _unused, ...withoutAppUrl } = cloud;
    const local = parseEnv({ ...withoutAppUrl, AMPLIFY_HOME: "local", ...localValues });
    expect(local).toMatchObject({
      AMPLIFY_HOME: "local",
      APP_URL: "http://localhost:8888",
      STRIPE_API_URL: localValues.STRIPE_API_URL,
      RATE_LIMIT_OVERRIDES: localValues.RATE_LIMIT_OVERRIDES,
    });
    // The retired names are refused in the cloud only; nothing reads them.
    expect(local).not.toHaveProperty("PLATFORM_SANDBOX_URL");
    expect(local).not.toHaveProperty("WEBHOOK_ALLOW_LOOPBACK");
  });

  it("an unknown home is refused rather than guessed", () => {
    expect(refusal({ ...cloud, AMPLIFY_HOME: "production" })).toContain("AMPLIFY_HOME");
  });
});
