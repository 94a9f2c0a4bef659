import { z } from "zod";

/**
 * The one place that reads process.env. It is parsed once, on first use, and decides the home:
 *
 * - `cloud`: Netlify Functions on Supabase. Every secret must be provided by the environment.
 * - `local`: `npm start` and the tests. The local server (src/local/main.ts) or the test setup fills in the database
 *   URL, the local Supabase URL and freshly generated local secrets before any function module runs.
 *
 * Feature code never asks which home it is in; it reads the values below.
 */
const envSchema = z.object({
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
   * files with it, after checking the caller itself. Only that function reads it; without it media uploads answer 503.
   */
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1).optional(),
  /** Legacy HS256 JWT secret. Optional when tokens are verified through JWKS only. */
  SUPABASE_JWT_SECRET: z.string().min(32).optional(),
  /** Where asymmetric signing keys are published; defaults to `${SUPABASE_URL}/auth/v1/.well-known/jwks.json`. */
  SUPABASE_JWKS_URL: z.string().url().optional(),
  /** 32-byte key (hex or base64) for AES-256-GCM encryption of OAuth tokens and webhook secrets. */
  ENCRYPTION_KEY: z.string().min(32),
  /** The public URL of the app (dashboard, OAuth callbacks, invitation links). */
  APP_URL: z.string().url().default("http://localhost:8888"),
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
  /** Attempts per target before it fails for good (contract: 3). */
  PUBLISH_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  /** First retry delay; each next one doubles (contract: 1 → 2 → 4 minutes). */
  PUBLISH_RETRY_BASE_SECONDS: z.coerce.number().min(0).default(60),
  /** Local home: how often the sweep runs (the cloud runs it every minute). */
  SWEEP_INTERVAL_SECONDS: z.coerce.number().min(0.1).default(5),
  /** When set, every platform adapter talks to `${PLATFORM_SANDBOX_URL}/<platform>` instead of the real network. */
  PLATFORM_SANDBOX_URL: z.string().url().optional(),
  TWITTER_CLIENT_ID: z.string().min(1).optional(),
  TWITTER_CLIENT_SECRET: z.string().min(1).optional(),
  LINKEDIN_CLIENT_ID: z.string().min(1).optional(),
  LINKEDIN_CLIENT_SECRET: z.string().min(1).optional(),
  /** The Instagram app (Instagram API with Instagram Login): its Instagram app id and secret, not the Meta app's. */
  INSTAGRAM_CLIENT_ID: z.string().min(1).optional(),
  INSTAGRAM_CLIENT_SECRET: z.string().min(1).optional(),
  /** The Meta app (Facebook Login) publishing to Facebook Pages: its App ID and App Secret. */
  FACEBOOK_CLIENT_ID: z.string().min(1).optional(),
  FACEBOOK_CLIENT_SECRET: z.string().min(1).optional(),
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
   * Relaxes the SSRF guard to accept endpoint URLs on loopback addresses (127.0.0.0/8, ::1, `localhost`), over
   * `http` too, so a receiver on the developer's machine works. Private, link-local and metadata addresses stay
   * refused. Off in the cloud; the local home turns it on.
   */
  WEBHOOK_ALLOW_LOOPBACK: z.stringbool().default(false),
  /** A delivery succeeds only with a 2xx within this many seconds (Svix / Standard Webhooks: 15). */
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

  // --- rate limits (Upstash Redis when configured, otherwise Postgres) --------------------------------------------
  UPSTASH_REDIS_REST_URL: z.string().url().optional(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  /** Local demos and tests: `policy=limit/window,...`, e.g. `api_requests=5/1m` (parsed in src/core/ratelimit). */
  RATE_LIMIT_OVERRIDES: z.string().min(1).optional(),
});

export type Env = z.infer<typeof envSchema>;

let cached: Env | undefined;

/** The parsed environment. Throws a readable error naming every missing or malformed variable. */
export function env(): Env {
  if (cached) return cached;
  // An empty variable (`KEY=` in a .env file) means "not set".
  const given = Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== ""));
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`Invalid environment: ${problems}. See .env.example.`);
  }
  cached = parsed.data;
  return cached;
}

/** Forget the parsed environment (the local server calls this after it fills in local values). */
export function resetEnvForTests(): void {
  cached = undefined;
}
