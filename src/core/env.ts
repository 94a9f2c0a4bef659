import { z } from "zod";

/** A Facebook Login for Business configuration id (Meta's are digits). */
export const facebookLoginConfigIdSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[0-9A-Za-z_-]+$/, "Letters, digits, _ and - only");

/**
 * The one place that reads process.env. It is parsed once, on first use, and decides the home (`AMPLIFY_HOME`):
 *
 * - `cloud` (the default): Netlify Functions on Supabase. Every secret and `APP_URL` must be provided by the
 *   environment, and the local-only settings below are refused: the functions do not start while one is present
 *   (a sandbox URL, say, would receive real decrypted tokens).
 * - `local`: `npm start` and the tests. The local home (src/local/home.ts) sets `AMPLIFY_HOME=local` and fills in the
 *   database URL, the local Supabase URL, `APP_URL` and freshly generated local secrets before any function runs.
 *
 * Feature code never asks which home it is in; it reads the values below, which `parseEnv` has already checked
 * against the home.
 */
const envSchema = z.object({
  /** `cloud` (default) or `local`; decides which settings are allowed (see `localOnlySettings`). */
  AMPLIFY_HOME: z.enum(["cloud", "local"]).default("cloud"),
  /** Postgres connection string. In the cloud: Supabase's transaction pooler (port 6543). */
  DATABASE_URL: z.string().url(),
  /** Maximum connections per function instance (keep it tiny behind the pooler). */
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(3),
  /** Public base URL of the Supabase project (or of the local server, which serves /auth/v1). */
  SUPABASE_URL: z.string().url(),
  /** Public anon key handed to browsers by GET /api/config. */
  SUPABASE_ANON_KEY: z.string().min(1),
  /**
   * Service-role key (or `sb_secret_…` key) for Supabase Storage: the media function signs upload URLs and removes
   * files with it, after checking the caller itself; without it media uploads answer 503. The mail service
   * (src/core/mail.ts) also uses it for Supabase Auth's invite mail (team invitations to addresses without an account).
   */
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1).optional(),
  /** Legacy HS256 JWT secret. Optional when tokens are verified through JWKS only. */
  SUPABASE_JWT_SECRET: z.string().min(32).optional(),
  /** Where asymmetric signing keys are published; defaults to `${SUPABASE_URL}/auth/v1/.well-known/jwks.json`. */
  SUPABASE_JWKS_URL: z.string().url().optional(),
  /** 32-byte key (hex or base64) for AES-256-GCM encryption of OAuth tokens and webhook secrets. */
  ENCRYPTION_KEY: z.string().min(32),
  /** The key before the last rotation (same format): opens values it sealed, never seals; remove after `npm run reencrypt`. */
  ENCRYPTION_KEY_PREVIOUS: z.string().min(32).optional(),
  /**
   * The public URL of the app (dashboard, OAuth callbacks, invitation links). Required in the cloud (no default: a
   * localhost callback would be wrong there); the local home sets it to its own URL.
   */
  APP_URL: z.string().url().optional(),
  /** Link returned by discovery. */
  DOCS_URL: z.string().url().optional(),
  /** Largest JSON request body accepted, in bytes. */
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),

  // --- queue (Upstash QStash; the local home serves an emulator of its protocol) ---------------------------------
  QSTASH_URL: z.string().url().default("https://qstash.upstash.io"),
  QSTASH_TOKEN: z.string().min(1).optional(),
  QSTASH_CURRENT_SIGNING_KEY: z.string().min(1).optional(),
  QSTASH_NEXT_SIGNING_KEY: z.string().min(1).optional(),
  /** Public base URL QStash calls back (the deployed site); defaults to APP_URL. */
  QUEUE_CALLBACK_BASE_URL: z.string().url().optional(),

  // --- publishing ----------------------------------------------------------------------------------------------
  /** Attempts per target before it fails for good: the first and two retries. */
  PUBLISH_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  /** First retry delay; each next one doubles, ±10% jitter (with the defaults: about 1, then 2 minutes). */
  PUBLISH_RETRY_BASE_SECONDS: z.coerce.number().min(0).default(60),
  /** Local home: how often the sweep runs (the cloud runs it every minute). */
  SWEEP_INTERVAL_SECONDS: z.coerce.number().min(0.1).default(5),
  /**
   * Videos re-uploaded to a network (YouTube; TikTok without a verified pull prefix) are read from Storage in byte
   * ranges and sent on in chunks: the most media bytes one function holds at once (a chunk is at most half of it).
   * Default 64 MiB, far below a function's 1 GB. See src/media/transfer.ts.
   */
  MEDIA_MEMORY_BUDGET_BYTES: z.coerce.number().int().min(1024 * 1024).default(64 * 1024 * 1024),
  /**
   * The most video bytes one publish attempt sends before it hands the rest of the upload to the next queue delivery
   * (resuming where the network says it got to). Default 512 MiB; each slice also stops starting chunks after 40 s,
   * within a synchronous function's 60 s.
   */
  MEDIA_UPLOAD_SLICE_BYTES: z.coerce.number().int().min(1024 * 1024).default(512 * 1024 * 1024),
  // --- analytics ---------------------------------------------------------------------------------------------------
  /** The shortest time between two metrics syncs of one account (also how soon a new post's first metrics come). */
  ANALYTICS_SYNC_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /**
   * How often a published post's metrics are read, by its age: `every@until` steps, e.g. the default
   * `1h@1d,6h@7d,1d@30d` (hourly for the first day, every 6 hours to a week, daily to 30 days, then never again).
   */
  ANALYTICS_CADENCE: z.string().regex(/^\s*\d+[smhd]@\d+[smhd](\s*,\s*\d+[smhd]@\d+[smhd])*\s*$/, "steps like 1h@1d,6h@7d,1d@30d").default("1h@1d,6h@7d,1d@30d"),
  TWITTER_CLIENT_ID: z.string().min(1).optional(),
  TWITTER_CLIENT_SECRET: z.string().min(1).optional(),
  LINKEDIN_CLIENT_ID: z.string().min(1).optional(),
  LINKEDIN_CLIENT_SECRET: z.string().min(1).optional(),
  /**
   * LinkedIn permissions of its Community Management API that LinkedIn approved this app for, asked for at connect so
   * that LinkedIn metrics can be read (comma or space separated): `r_member_postAnalytics` (a member's own posts),
   * `r_organization_social` and `rw_organization_admin` (organization pages). Empty (the default): LinkedIn consent
   * would refuse them, so they are not asked for and LinkedIn accounts show metrics as unsupported, with the reason.
   */
  LINKEDIN_ANALYTICS_SCOPES: z
    .string()
    .regex(/^[\s,]*((r_member_postAnalytics|r_organization_social|rw_organization_admin)[\s,]*)*$/, "r_member_postAnalytics, r_organization_social, rw_organization_admin")
    .default(""),
  /** The Instagram app (Instagram API with Instagram Login): its Instagram app id and secret, not the Meta app's. */
  INSTAGRAM_CLIENT_ID: z.string().min(1).optional(),
  INSTAGRAM_CLIENT_SECRET: z.string().min(1).optional(),
  /** The Meta app (Facebook Login) publishing to Facebook Pages: its App ID and App Secret. */
  FACEBOOK_CLIENT_ID: z.string().min(1).optional(),
  FACEBOOK_CLIENT_SECRET: z.string().min(1).optional(),
  /**
   * For a Business-type Meta app: the Facebook Login for Business configuration users sign in through (App Dashboard
   * > Facebook Login for Business > Configurations). The consent URL then names it instead of asking for scopes.
   */
  FACEBOOK_LOGIN_CONFIG_ID: facebookLoginConfigIdSchema.optional(),
  /** The Threads app id and secret (Threads has its own, distinct from the Meta app's). */
  THREADS_CLIENT_ID: z.string().min(1).optional(),
  THREADS_CLIENT_SECRET: z.string().min(1).optional(),
  /** Pinterest calls the OAuth client id and secret its "app id" and "app secret". */
  PINTEREST_APP_ID: z.string().min(1).optional(),
  PINTEREST_APP_SECRET: z.string().min(1).optional(),
  /** A Reddit "web app" client (reddit.com/prefs/apps). */
  REDDIT_CLIENT_ID: z.string().min(1).optional(),
  REDDIT_CLIENT_SECRET: z.string().min(1).optional(),
  /** Reddit requires `<platform>:<app id>:<version> (by /u/<your reddit username>)`; generic agents are throttled. */
  REDDIT_USER_AGENT: z.string().min(10).optional(),
  /** TikTok calls the OAuth client id its "client key". */
  TIKTOK_CLIENT_KEY: z.string().min(1).optional(),
  TIKTOK_CLIENT_SECRET: z.string().min(1).optional(),
  /** Whether TikTok has audited the app; until then every post is private (SELF_ONLY) and readiness says so. */
  TIKTOK_APP_AUDITED: z.stringbool().optional(),
  /** Comma-separated URL prefixes verified in TikTok's portal: media under them is pulled by TikTok (PULL_FROM_URL). */
  TIKTOK_PULL_FROM_URL_PREFIXES: z.string().optional(),
  /** A Google OAuth client (web application) with the YouTube Data API v3 enabled on its project. */
  YOUTUBE_CLIENT_ID: z.string().min(1).optional(),
  YOUTUBE_CLIENT_SECRET: z.string().min(1).optional(),
  /** Whether the Google API project passed YouTube's audit; until then uploads are locked private and readiness says so. */
  YOUTUBE_PROJECT_AUDITED: z.stringbool().optional(),

  // --- outbound webhooks ------------------------------------------------------------------------------------------
  /**
   * Local home only: relaxes the outbound-fetch guard (src/core/net/guard.ts: webhook deliveries and media
   * downloads) to admit loopback addresses (127.0.0.0/8, ::1, `localhost`), and plain `http` over loopback, so a
   * receiver on the developer's machine, the Storage emulator and the sandboxes work. Private, link-local and
   * metadata addresses stay refused. Off in the cloud; the local home turns it on.
   */
  OUTBOUND_ALLOW_LOOPBACK: z.stringbool().default(false),
  /** A delivery succeeds only with a 2xx within this many seconds (a receiver should answer first, work later). */
  WEBHOOK_TIMEOUT_SECONDS: z.coerce.number().min(0.1).max(30).default(15),
  /** First retry delay; each next one is 4× longer (10 s, 40 s, 2.7 min, 10.7 min, … capped at 24 h), ±20% jitter. */
  WEBHOOK_RETRY_BASE_SECONDS: z.coerce.number().min(0).default(10),
  /** An endpoint whose deliveries have all failed for this long is disabled (a success resets it; default 5 days). */
  WEBHOOK_DISABLE_AFTER_SECONDS: z.coerce.number().min(1).default(432_000),

  // --- billing (Stripe; the local home serves an emulator of the endpoints we call) -------------------------------
  STRIPE_SECRET_KEY: z.string().min(1).optional(),
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** Stripe API base URL; only set for the local emulator (stripe-node's host/port/protocol are derived from it). */
  STRIPE_API_URL: z.string().url().optional(),
  STRIPE_PRICE_ID_STARTER: z.string().min(1).optional(),
  STRIPE_PRICE_ID_GROWTH: z.string().min(1).optional(),
  STRIPE_PRICE_ID_AGENCY: z.string().min(1).optional(),
  STRIPE_PRICE_ID_UNLIMITED: z.string().min(1).optional(),
  STRIPE_PRICE_ID_EXTRA_PROFILE: z.string().min(1).optional(),
  STRIPE_PRICE_ID_WHITE_LABEL: z.string().min(1).optional(),

  // --- mail (invitations; src/core/mail.ts) ---------------------------------------------------------------------
  /** Resend API key (https://resend.com): the transactional provider that sends invitation mails. */
  RESEND_API_KEY: z.string().min(1).optional(),
  /** The sender of those mails, e.g. `Amplify <team@mail.example.com>` (a domain verified with the provider). */
  MAIL_FROM: z.string().min(3).max(320).optional(),
  /**
   * Invite addresses that have no account through Supabase Auth's own invite mail (creates the user; needs
   * SUPABASE_SERVICE_ROLE_KEY and the "Invite user" template to link to `{{ .RedirectTo }}` or the confirmation URL).
   */
  MAIL_SUPABASE_INVITES: z.stringbool().default(true),

  // --- rate limits (Upstash Redis when configured, otherwise Postgres) --------------------------------------------
  UPSTASH_REDIS_REST_URL: z.string().url().optional(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  /** Local demos and tests: `policy=limit/window,...`, e.g. `api_requests=5/1m` (parsed in src/core/ratelimit). */
  RATE_LIMIT_OVERRIDES: z.string().min(1).optional(),
  /**
   * Where rate limits are counted when Upstash is not configured: `memory` (in this process: exact only where one
   * process serves everything, so the local home sets it and the cloud refuses it) or `postgres` (the default).
   */
  RATE_LIMIT_STORE: z.enum(["memory", "postgres"]).optional(),
  /**
   * Monthly API request counts are kept in the process and written in batches (src/core/ratelimit/api-usage.ts):
   * at the latest this many ms after the first unwritten count, or once this many are unwritten (which also bounds
   * how far one instance can take a burst past the quota).
   */
  USAGE_FLUSH_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  USAGE_FLUSH_BATCH: z.coerce.number().int().min(1).max(10_000).default(100),

  // --- local home only ------------------------------------------------------------------------------------------
  /**
   * Host names the local server answers besides loopback ones (comma-separated, e.g. a tunnel's `abc.example.dev`).
   * Every other Host is refused (DNS rebinding). Read by the local home when it starts; meaningless in the cloud.
   */
  LOCAL_ALLOWED_HOSTS: z.string().optional(),
});

/**
 * Settings that only make sense in the local home, and are refused when `AMPLIFY_HOME=cloud`: each one redirects
 * traffic or relaxes a limit in a way that must never reach a deploy. Two are retired names, refused too so a stale
 * deploy variable cannot linger unnoticed: `WEBHOOK_ALLOW_LOOPBACK` (the old name of `OUTBOUND_ALLOW_LOOPBACK`) and
 * `PLATFORM_SANDBOX_URL` (the sandbox's URL, which the local home now hands the adapters itself, src/local/platforms.ts).
 */
export const localOnlySettings = [
  "PLATFORM_SANDBOX_URL",
  "STRIPE_API_URL",
  "OUTBOUND_ALLOW_LOOPBACK",
  "WEBHOOK_ALLOW_LOOPBACK",
  "RATE_LIMIT_OVERRIDES",
  "RATE_LIMIT_STORE",
] as const;

/** Where the local home's app lives when nothing says otherwise (`npm start`'s default port). */
const LOCAL_APP_URL = "http://localhost:8888";

export type Env = Omit<z.infer<typeof envSchema>, "APP_URL"> & { APP_URL: string };

/**
 * Parses a set of variables (process.env, or any object a test or tool hands in) into the environment, and checks it
 * against its home. Pure: reads nothing but `vars`. Throws one readable error naming every missing, malformed or
 * refused variable.
 */
export function parseEnv(vars: Record<string, string | undefined>): Env {
  // An empty variable (`KEY=` in a .env file or an empty Netlify variable) means "not set".
  const given = Object.fromEntries(Object.entries(vars).filter(([, value]) => value !== undefined && value !== ""));
  const problems: string[] = [];
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  // The home is decided from the raw value too, so a malformed schema elsewhere still reports the home's rules.
  const home = parsed.success ? parsed.data.AMPLIFY_HOME : given.AMPLIFY_HOME === "local" ? "local" : "cloud";
  if (home === "cloud") {
    for (const name of localOnlySettings) {
      if (given[name] !== undefined) {
        problems.push(`${name}: a local-only setting, refused when AMPLIFY_HOME=cloud; remove it from the deploy's environment`);
      }
    }
    if (given.APP_URL === undefined) problems.push("APP_URL: required when AMPLIFY_HOME=cloud (the app's public https URL)");
  }
  if (problems.length || !parsed.success) {
    throw new Error(`Invalid environment (AMPLIFY_HOME=${home}): ${problems.join("; ")}. See .env.example.`);
  }
  return { ...parsed.data, APP_URL: parsed.data.APP_URL ?? LOCAL_APP_URL };
}

let cached: Env | undefined;

/** The parsed environment of this process. Throws a readable error naming every missing or refused variable. */
export function env(): Env {
  if (cached) return cached;
  cached = parseEnv(process.env);
  return cached;
}

/** Forget the parsed environment (the local server calls this after it fills in local values). */
export function resetEnvForTests(): void {
  cached = undefined;
}
