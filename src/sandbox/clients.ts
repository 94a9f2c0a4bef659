import { randomBytes } from "node:crypto";
import type postgres from "postgres";
import { json } from "../local/emulator.js";

/**
 * The OAuth clients registered with the sandbox platforms, as an app registration on each network's developer portal
 * would be. The local home hands these to the adapters (src/local/platforms.ts), so it needs no network
 * credentials. They are not secrets: the sandbox only ever runs locally or in test mode.
 */
export const sandboxClients = {
  twitter: { clientId: "amplify-local-twitter", clientSecret: "amplify-local-twitter-secret" },
  linkedin: { clientId: "amplify-local-linkedin", clientSecret: "amplify-local-linkedin-secret" },
  instagram: { clientId: "amplify-local-instagram", clientSecret: "amplify-local-instagram-secret" },
  facebook: { clientId: "amplify-local-facebook", clientSecret: "amplify-local-facebook-secret" },
  threads: { clientId: "amplify-local-threads", clientSecret: "amplify-local-threads-secret" },
  tiktok: { clientId: "amplify-local-tiktok", clientSecret: "amplify-local-tiktok-secret" },
  youtube: { clientId: "amplify-local-youtube.apps.googleusercontent.com", clientSecret: "amplify-local-youtube-secret" },
  pinterest: { clientId: "amplify-local-pinterest", clientSecret: "amplify-local-pinterest-secret" },
  reddit: { clientId: "amplify-local-reddit", clientSecret: "amplify-local-reddit-secret" },
  // Bluesky has no OAuth client: users sign in with an app password. The entry only completes the registry's config.
  bluesky: { clientId: "amplify-local-bluesky", clientSecret: "unused" },
} as const;

export type SandboxNetwork = keyof typeof sandboxClients;

export interface SandboxClientEntry {
  clientId: string;
  clientSecret: string;
}

/**
 * Apps registered at runtime through a sandbox network's developer portal (`POST /sandbox/<network>/__sandbox/apps`),
 * e.g. a white-label customer's own app (src/white-label). They are kept in `local_sandbox.registered_apps`, so they
 * survive a restart of the home (loaded by `loadRegisteredApps` when the sandbox starts), and in this map, which every
 * network's client lookup consults.
 */
const runtimeApps = new Map<string, Map<string, SandboxClientEntry>>();

function runtimeApp(network: string, clientId: string): SandboxClientEntry | undefined {
  return runtimeApps.get(network)?.get(clientId);
}

function remember(network: string, app: SandboxClientEntry): void {
  if (!runtimeApps.has(network)) runtimeApps.set(network, new Map());
  runtimeApps.get(network)!.set(app.clientId, app);
}

/**
 * A network's clients: the fixed ones given, and every app registered at runtime for the network (with `defaults`
 * for the network's own flags, e.g. TikTok's audit status). Lookups are live: an app registered later is found.
 */
class LiveClients<C extends SandboxClientEntry> extends Map<string, C> {
  constructor(
    private readonly network: string,
    fixed: Iterable<readonly [string, C]>,
    private readonly defaults: Omit<C, keyof SandboxClientEntry>,
  ) {
    super(fixed);
  }

  override get(clientId: string): C | undefined {
    const fixed = super.get(clientId);
    if (fixed) return fixed;
    const app = runtimeApp(this.network, clientId);
    return app ? ({ ...this.defaults, ...app } as C) : undefined;
  }

  override has(clientId: string): boolean {
    return this.get(clientId) !== undefined;
  }
}

/** The clients a sandbox network accepts, by client id: the one registered for it above and the runtime apps. */
export function registeredClients(network: SandboxNetwork): ReadonlyMap<string, SandboxClientEntry> {
  const client = sandboxClients[network];
  return new LiveClients<SandboxClientEntry>(network, [[client.clientId, client]], {});
}

/** As `registeredClients`, for networks whose clients carry flags of their own (TikTok's audit, YouTube's project). */
export function clientsWithRuntimeApps<C extends SandboxClientEntry>(
  network: SandboxNetwork,
  fixed: Iterable<readonly [string, C]>,
  defaults: Omit<C, keyof SandboxClientEntry>,
): ReadonlyMap<string, C> {
  return new LiveClients<C>(network, fixed, defaults);
}

const ddl = `
create schema if not exists local_sandbox;
create table if not exists local_sandbox.registered_apps (
  network       text not null,
  client_id     text not null,
  client_secret text not null,
  name          text not null,
  created_at    timestamptz not null default now(),
  primary key (network, client_id)
);`;

/** Creates the registered-apps table when missing and loads its apps (the sandbox's start). */
export async function loadRegisteredApps(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(ddl);
  const rows = await sql<{ network: string; client_id: string; client_secret: string }[]>`
    select network, client_id, client_secret from local_sandbox.registered_apps`;
  for (const row of rows) remember(row.network, { clientId: row.client_id, clientSecret: row.client_secret });
}

/** A client id shaped like the network's own (Google's end in `.apps.googleusercontent.com`). */
function newClientId(network: string): string {
  const id = randomBytes(9).toString("hex");
  return network === "youtube" ? `${id}-app.apps.googleusercontent.com` : `app-${network}-${id}`;
}

/**
 * The developer portal, for tests and manual checks (local only):
 *
 *   POST /sandbox/<network>/__sandbox/apps  {"name": "…"}   registers an app: 201 { network, name, clientId, clientSecret }
 *   GET  /sandbox/<network>/__sandbox/apps                   the apps registered at runtime: { apps: [{ clientId, name }] }
 *
 * A registered app is accepted by the network's consent page and token endpoint like the home's own client (tokens are
 * bound to the client that obtained them, as on the real networks).
 */
export async function registeredAppsControl(sql: postgres.Sql, network: SandboxNetwork, req: Request): Promise<Response> {
  if (network === "bluesky") return json(404, { error: "Bluesky has no OAuth apps: users sign in with app passwords" });
  if (req.method === "GET") {
    const rows = await sql<{ client_id: string; name: string; created_at: Date }[]>`
      select client_id, name, created_at from local_sandbox.registered_apps where network = ${network} order by created_at, client_id`;
    return json(200, { apps: rows.map((r) => ({ clientId: r.client_id, name: r.name, createdAt: r.created_at.toISOString() })) });
  }
  if (req.method !== "POST") return json(405, { error: "Use GET or POST" });
  let name = "Sandbox app";
  const text = await req.text();
  if (text.trim()) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return json(400, { error: "The body must be JSON: { \"name\": \"…\" }" });
    }
    const given = (body as { name?: unknown } | null)?.name;
    if (given !== undefined && (typeof given !== "string" || !given.trim() || given.length > 100)) {
      return json(400, { error: "name must be a string of 1 to 100 characters" });
    }
    if (typeof given === "string") name = given.trim();
  }
  const app = { clientId: newClientId(network), clientSecret: `secret-${randomBytes(18).toString("hex")}` };
  await sql`
    insert into local_sandbox.registered_apps (network, client_id, client_secret, name)
    values (${network}, ${app.clientId}, ${app.clientSecret}, ${name})`;
  remember(network, app);
  return json(201, { network, name, ...app });
}

/** Whether a name is a sandbox network. */
export function isSandboxNetwork(name: string): name is SandboxNetwork {
  return Object.hasOwn(sandboxClients, name);
}
