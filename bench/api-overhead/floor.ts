import http from "node:http";
import type { AddressInfo } from "node:net";
import postgres from "postgres";

export interface Floor {
  url: string;
  close(): Promise<void>;
}

interface Row {
  id: string;
  name: string;
  description: string | null;
  timezone: string;
  role: string;
  created_at: Date;
  updated_at: Date;
}

/** The endpoint's default page size (pageQuerySchema's `limit` default). */
const PAGE_LIMIT = 50;

/**
 * The floor: the least a server can do to answer GET /api/v1/profiles for one known user. A bare node:http server and
 * a postgres.js pool of the same size and settings as ours, running the statement `listProfiles` runs (same columns,
 * join, where, order and limit) with the user's id in place of `auth.uid()`, in one autocommit round trip, and writing
 * the same JSON. No routing table, no credentials, no billing gate, no transaction, no role switch, no RLS, no query
 * validation, no Request/Response objects.
 */
export async function startFloor(options: {
  databaseUrl: string;
  poolMax: number;
  userId: string;
  /**
   * Only when the user belongs to other profiles too: the key's profile, added to the WHERE as the one thing RLS does
   * for an API key (confine it to its profile), so that the floor answers the same body.
   */
  onlyProfileId?: string;
}): Promise<Floor> {
  const sql = postgres(options.databaseUrl, {
    prepare: false,
    max: options.poolMax,
    idle_timeout: 20,
    connect_timeout: 10,
    onnotice: () => {},
  });
  const { userId, onlyProfileId } = options;
  /** Queries still running; closing waits for them, since postgres.js' end() lets queued ones reconnect. */
  const inFlight = new Set<Promise<void>>();

  async function listProfiles(res: http.ServerResponse): Promise<void> {
    const rows = await sql<Row[]>`
      select p.id, p.name, p.description, p.timezone, p.created_at, p.updated_at, m.role
      from public.profiles p
      join public.profile_members m on m.profile_id = p.id and m.user_id = ${userId}
      where ${onlyProfileId ? sql`p.id = ${onlyProfileId}` : sql`true`}
      order by p.created_at desc, p.id desc
      limit ${PAGE_LIMIT + 1}`;
    const page = rows.slice(0, PAGE_LIMIT);
    const last = page.at(-1);
    const body = JSON.stringify({
      profiles: page.map((p) => ({
        id: p.id,
        name: p.name,
        description: p.description,
        timezone: p.timezone,
        role: p.role,
        created_at: p.created_at.toISOString(),
        updated_at: p.updated_at.toISOString(),
      })),
      nextCursor:
        rows.length > PAGE_LIMIT && last
          ? Buffer.from(JSON.stringify([last.created_at.toISOString(), last.id])).toString("base64url")
          : null,
    });
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" }).end(body);
  }

  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || (req.url !== "/api/v1/profiles" && !req.url?.startsWith("/api/v1/profiles?"))) {
      res.writeHead(404).end();
      return;
    }
    const answered = listProfiles(res).catch((error: unknown) => {
      process.stderr.write(`floor: ${String(error)}\n`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
    inFlight.add(answered);
    void answered.finally(() => inFlight.delete(answered));
  });
  server.keepAliveTimeout = 5000; // as the local home's server

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await Promise.allSettled([...inFlight]);
      await sql.end({ timeout: 5 });
    },
  };
}
