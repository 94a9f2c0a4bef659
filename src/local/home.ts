import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type http from "node:http";
import os from "node:os";
import path from "node:path";
import { SignJWT } from "jose";
import postgres from "postgres";
import type { Clock } from "../core/clock.js";
import { env, resetEnvForTests } from "../core/env.js";
import { closeServices, configureServices } from "../core/services.js";
import { mediaBucket } from "../media/limits.js";
import { configurePlatforms } from "../platforms/registry.js";
import { createSandboxPlatforms } from "../sandbox/index.js";
import { invitePageHandler } from "../team/invite-page.js";
import { dashboardInviteHandler } from "./dashboard.js";
import { createAuthEmulator } from "./auth-emulator.js";
import { createQStashEmulator } from "./qstash-emulator.js";
import { createStorageEmulator } from "./storage-emulator.js";
import { createStripeEmulator } from "./stripe/index.js";
import { startEmbeddedPostgres, type RunningPostgres } from "./embedded-postgres.js";
import { createMailbox } from "./mailbox.js";
import { migrate } from "./migrate.js";
import { sandboxPlatformConfig } from "./platforms.js";
import { scheduledFunctions, startScheduler } from "./scheduler.js";
import { createLocalHandler, listen, parseAllowedHosts, type FetchHandler } from "./server.js";
import { serveLocallyInProcess } from "./in-process.js";
import { ensureReferenceBundle } from "../openapi/docs-assets.js";

export interface LocalSecrets {
  jwtSecret: string;
  encryptionKey: string;
  qstashToken: string;
  qstashCurrentSigningKey: string;
  qstashNextSigningKey: string;
  stripeSecretKey: string;
  stripeWebhookSecret: string;
}

export function generateSecrets(): LocalSecrets {
  const hex = () => randomBytes(32).toString("hex");
  const token = () => randomBytes(24).toString("base64url");
  return {
    jwtSecret: hex(),
    encryptionKey: hex(),
    qstashToken: token(),
    qstashCurrentSigningKey: `sig_${token()}`,
    qstashNextSigningKey: `sig_${token()}`,
    stripeSecretKey: `sk_test_local_${token()}`,
    stripeWebhookSecret: `whsec_${randomBytes(24).toString("base64")}`,
  };
}

/**
 * Local-only secrets, generated on first start and kept beside the data so sessions survive restarts. A file from
 * an older version gets the secrets it lacks added.
 */
export async function loadOrCreateSecrets(dataDir: string): Promise<LocalSecrets> {
  const file = path.join(dataDir, "local-secrets.json");
  const existing = existsSync(file) ? (JSON.parse(await readFile(file, "utf8")) as Partial<LocalSecrets>) : {};
  const secrets = { ...generateSecrets(), ...existing };
  if (Object.keys(existing).length !== Object.keys(secrets).length) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return secrets;
}

/** Price ids the local Stripe emulator knows, by our plan and add-on names. */
export const localStripePrices = {
  starter: "price_local_starter",
  growth: "price_local_growth",
  agency: "price_local_agency",
  unlimited: "price_local_unlimited",
  extra_profile: "price_local_extra_profile",
  white_label: "price_local_white_label",
} as const;

/** A Supabase-style API key: a long-lived JWT carrying only a role, signed with the project's JWT secret. */
export async function roleKey(role: "anon" | "service_role", jwtSecret: string): Promise<string> {
  return new SignJWT({ role, iss: "supabase-local" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(1_700_000_000)
    .setExpirationTime(4_102_444_800)
    .sign(new TextEncoder().encode(jwtSecret));
}

export interface LocalHomeOptions {
  /** Any Postgres; when absent an embedded PostgreSQL 17 is started with its data under `dataDir`. */
  databaseUrl?: string;
  dataDir?: string;
  /** Port for the HTTP server; 0 picks a free one; `false` serves in-process only (tests call `fetch`). */
  port?: number | false;
  secrets?: LocalSecrets;
  /** How the local Auth emulator signs access tokens (HS256 as Supabase's legacy secret, or ES256 via JWKS). */
  authSigning?: "HS256" | "ES256";
  /** The app's public URL when it is not the local server's own (e.g. behind a tunnel). */
  appUrl?: string;
  /** Extra environment for this home (e.g. a small rate limit or a short retry base in a test). */
  env?: Record<string, string>;
  /**
   * Host names the HTTP server answers besides loopback names and addresses (default: `LOCAL_ALLOWED_HOSTS`,
   * comma-separated). Every other `Host` is refused with 403 (DNS rebinding).
   */
  allowedHosts?: string[];
  /**
   * Where handlers and jobs read "now" (`ctx.clock`), e.g. a `manualClock()` a test advances instead of sleeping.
   * Default: the system clock. The emulators and the database keep real time.
   */
  clock?: Clock;
  log?: (line: string) => void;
}

export interface LocalHome {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  databaseUrl: string;
  secrets: LocalSecrets;
  /** Where the Storage emulator keeps uploaded files. */
  storageDir: string;
  /** Sends a request through the same router the HTTP server uses, without a socket. */
  fetch: FetchHandler;
  stop(): Promise<void>;
}

/**
 * Starts the local home: Postgres (embedded unless a URL is given), migrations, the environment the function
 * modules read, the emulators and the router, and optionally the HTTP server.
 */
export async function startLocalHome(options: LocalHomeOptions = {}): Promise<LocalHome> {
  const say = options.log ?? (() => {});
  const dataDir = path.resolve(options.dataDir ?? process.env.AMPLIFY_DATA_DIR ?? ".data");
  let embedded: RunningPostgres | undefined;
  let databaseUrl = options.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(path.join(dataDir, "postgres"));
    databaseUrl = embedded.url;
    say(`embedded PostgreSQL 17 on port ${embedded.port}, data in ${embedded.dataDir}`);
  }
  await migrate(databaseUrl, say);

  const secrets = options.secrets ?? (await loadOrCreateSecrets(dataDir));
  // Uploaded files live beside the home's data (`npm start`: .data/storage). A home on a database it was handed,
  // with no data directory of its own (the tests), gets a temporary one, removed when it stops.
  const keepsData = options.dataDir !== undefined || process.env.AMPLIFY_DATA_DIR !== undefined || !options.databaseUrl;
  const storageDir = keepsData ? path.join(dataDir, "storage") : await mkdtemp(path.join(os.tmpdir(), "amplify-storage-"));
  const requestedPort = options.port === undefined ? 8888 : options.port;
  // The URL is known before the server listens only for a fixed port; port 0 is resolved below.
  let url = requestedPort ? `http://localhost:${requestedPort}` : "http://localhost";
  const anonKey = await roleKey("anon", secrets.jwtSecret);
  const serviceRoleKey = await roleKey("service_role", secrets.jwtSecret);

  let server: http.Server | undefined;
  let handler: FetchHandler | undefined;
  const fetchThrough: FetchHandler = (req) => handler!(req);
  if (requestedPort !== false) {
    const allowedHosts = options.allowedHosts ?? parseAllowedHosts(options.env?.LOCAL_ALLOWED_HOSTS ?? process.env.LOCAL_ALLOWED_HOSTS);
    server = await listen(fetchThrough, requestedPort, "127.0.0.1", { allowedHosts });
    const address = server.address();
    if (address && typeof address === "object") url = `http://localhost:${address.port}`;
  }

  Object.assign(process.env, {
    DATABASE_URL: databaseUrl,
    SUPABASE_URL: url,
    SUPABASE_ANON_KEY: anonKey,
    SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
    SUPABASE_JWT_SECRET: secrets.jwtSecret,
    ENCRYPTION_KEY: secrets.encryptionKey,
    APP_URL: options.appUrl ?? url,
    QSTASH_URL: `${url}/qstash`,
    QSTASH_TOKEN: secrets.qstashToken,
    QSTASH_CURRENT_SIGNING_KEY: secrets.qstashCurrentSigningKey,
    QSTASH_NEXT_SIGNING_KEY: secrets.qstashNextSigningKey,
    QUEUE_CALLBACK_BASE_URL: url,
    STRIPE_SECRET_KEY: secrets.stripeSecretKey,
    STRIPE_WEBHOOK_SECRET: secrets.stripeWebhookSecret,
    STRIPE_API_URL: url,
    STRIPE_PRICE_ID_STARTER: localStripePrices.starter,
    STRIPE_PRICE_ID_GROWTH: localStripePrices.growth,
    STRIPE_PRICE_ID_AGENCY: localStripePrices.agency,
    STRIPE_PRICE_ID_UNLIMITED: localStripePrices.unlimited,
    STRIPE_PRICE_ID_EXTRA_PROFILE: localStripePrices.extra_profile,
    STRIPE_PRICE_ID_WHITE_LABEL: localStripePrices.white_label,
    // Outbound fetches may reach this machine: a webhook receiver (http://localhost:3000/webhook), the Storage emulator.
    OUTBOUND_ALLOW_LOOPBACK: process.env.OUTBOUND_ALLOW_LOOPBACK || "true",
    // One process serves every request here, so rate limits are counted in it (exact, no database write); Upstash,
    // when configured, still wins (src/core/ratelimit/limiter.ts).
    RATE_LIMIT_STORE: process.env.RATE_LIMIT_STORE || "memory",
    // One process runs every function here, where the cloud runs an instance, each with its own small pool, per
    // request in flight: three connections shared by the whole home made a burst of queue deliveries queue for them.
    DATABASE_POOL_MAX: process.env.DATABASE_POOL_MAX || "10",
    ...options.env,
    // Explicit, and last: this process is the local home whatever else the environment says, and env() checks the
    // settings above (Stripe emulator URL, loopback outbound, overrides) against it.
    AMPLIFY_HOME: "local",
  });
  // The adapters talk to the sandbox platforms, with the clients registered there (src/local/platforms.ts).
  configurePlatforms(sandboxPlatformConfig(`${url}/sandbox`, `${url}/storage/v1/object/public/`));
  // Mail stays on this machine: the mailbox at /_local/mailbox lists every message sent.
  const mailbox = createMailbox();
  configureServices({ clock: options.clock, mail: mailbox.transport });
  resetEnvForTests();

  // The emulators keep their own state in the same database, outside the public schema. They stand in for services
  // that are not Postgres clients of ours in the cloud (Supabase Auth and Storage, QStash, Stripe, the networks), so
  // their pool talks to this Postgres directly, never through Supabase's transaction pooler: it keeps prepared
  // statements (postgres.js' default), and a statement with parameters costs one round trip instead of two. The app's
  // own pool (src/core/pg.ts) keeps `prepare: false`, as in the cloud.
  const emulatorSql = postgres(databaseUrl, { max: 6, onnotice: () => {} });
  const auth = await createAuthEmulator({
    sql: emulatorSql,
    jwtSecret: secrets.jwtSecret,
    issuer: `${url}/auth/v1`,
    apiKeys: [anonKey, serviceRoleKey],
    signing: options.authSigning ?? "HS256",
    sendMail: (message) => mailbox.transport.deliver(message),
    siteUrl: options.appUrl ?? url,
  });
  const qstash = await createQStashEmulator({
    sql: emulatorSql,
    token: secrets.qstashToken,
    currentSigningKey: secrets.qstashCurrentSigningKey,
    nextSigningKey: secrets.qstashNextSigningKey,
  });
  const sandbox = await createSandboxPlatforms({ sql: emulatorSql, baseUrl: `${url}/sandbox` });
  const stripe = await createStripeEmulator({
    sql: emulatorSql,
    secretKey: secrets.stripeSecretKey,
    webhookSecret: secrets.stripeWebhookSecret,
    webhookUrl: `${url}/api/billing/webhook`,
    baseUrl: url,
    prices: { ...localStripePrices },
  });
  const storage = createStorageEmulator({ root: storageDir, jwtSecret: secrets.jwtSecret, buckets: [mediaBucket] });
  ensureReferenceBundle(); // /docs/ runs Scalar's bundle from this origin (src/openapi/docs-assets.ts)
  handler = createLocalHandler({
    mounts: {
      "/auth/v1": auth, "/storage/v1": storage, "/qstash": qstash.handler, "/sandbox": sandbox, "/v1": stripe, "/stripe": stripe,
      "/_local/mailbox": mailbox.handler, "/invite": dashboardInviteHandler(invitePageHandler),
    },
  });
  // The home's parts reach one another without a socket to this same process (src/local/in-process.ts): the queue
  // emulator's deliveries to its functions, the adapters' calls to the sandbox networks.
  const stopServingInProcess = serveLocallyInProcess(url, fetchThrough);
  qstash.start();
  const scheduler = startScheduler(await scheduledFunctions(), env().SWEEP_INTERVAL_SECONDS, url);

  return {
    url,
    anonKey,
    serviceRoleKey,
    databaseUrl,
    secrets,
    storageDir,
    fetch: fetchThrough,
    async stop() {
      // Background work first, while the server can still answer the deliveries in flight; then the server.
      await scheduler.stop();
      await qstash.stop();
      stopServingInProcess();
      if (server) {
        const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      }
      await emulatorSql.end({ timeout: 5 });
      await closeServices();
      configureServices({});
      if (embedded) await embedded.stop();
      if (!keepsData) await rm(storageDir, { recursive: true, force: true });
    },
  };
}
