import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";

/**
 * A small Upstash-Redis-REST-compatible server in front of a real Redis, for testing @upstash/redis and
 * @upstash/ratelimit without an Upstash account, and a minimal RESP client for it (no Redis client package needed).
 *
 * The wire format, as @upstash/redis speaks it:
 * - `POST /` with a JSON command array (`["evalsha", "<sha>", 1, "key", "10"]`) → `{ "result": … }`, or HTTP 400 with
 *   `{ "error": "<Redis error>" }`;
 * - `POST /pipeline` with an array of command arrays → an array of `{ result }` / `{ error }`, in order, not atomic;
 * - `Authorization: Bearer <token>`, else 401;
 * - `Upstash-Encoding: base64` (the SDK's default): every string in the result is base64-encoded, inside arrays too,
 *   except the literal "OK"; integers and nulls pass through.
 *
 * One difference from Upstash is papered over: @upstash/ratelimit's scripts start with `#!lua flags=allow-key-locking`,
 * a flag Upstash accepts and open-source Redis 7 rejects ("Unexpected flag in script shebang"). The shim drops flags
 * Redis does not know before EVAL, and maps the SDK's hard-coded EVALSHA digests to the digests of what it loaded.
 */

// ---------------------------------------------------------------------------------------------------------------------
// RESP2 client
// ---------------------------------------------------------------------------------------------------------------------

export class RedisReplyError extends Error {}

export type RespValue = string | number | null | RedisReplyError | RespValue[];

type Parsed = { value: RespValue; end: number } | undefined;

function parseReply(buf: Buffer, start: number): Parsed {
  const lineEnd = buf.indexOf("\r\n", start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[start]!);
  const line = buf.toString("utf8", start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new RedisReplyError(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buf.length < next + length + 2) return undefined;
      return { value: buf.toString("utf8", next, next + length), end: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type '${type}'`);
  }
}

function encodeCommand(args: (string | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(String(arg), "utf8");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** One connection; commands are pipelined and their replies matched in order, as Redis guarantees. */
export class RespClient {
  private buffer = Buffer.alloc(0);
  private waiting: { resolve: (v: RespValue) => void; reject: (e: Error) => void }[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      for (;;) {
        const parsed = parseReply(this.buffer, 0);
        if (!parsed) break;
        this.buffer = this.buffer.subarray(parsed.end);
        this.waiting.shift()?.resolve(parsed.value);
      }
    });
    const failAll = (error: Error) => {
      for (const w of this.waiting.splice(0)) w.reject(error);
    };
    socket.on("error", failAll);
    socket.on("close", () => failAll(new Error("Redis connection closed")));
  }

  static connect(url: string, timeoutMs = 1000): Promise<RespClient> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: hostname, port: Number(port || 6379) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no Redis answered at ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new RespClient(socket));
      });
    });
  }

  send(args: (string | number)[]): Promise<RespValue> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(encodeCommand(args));
    });
  }

  close(): void {
    this.socket.end();
  }
}

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || "redis://127.0.0.1:6379";

/** True when a Redis answers PING at `url` within the timeout. */
export async function redisAnswers(url = TEST_REDIS_URL, timeoutMs = 500): Promise<boolean> {
  let client: RespClient | undefined;
  try {
    client = await RespClient.connect(url, timeoutMs);
    const pong = await Promise.race([
      client.send(["PING"]),
      new Promise<RespValue>((resolve) => setTimeout(() => resolve(null), timeoutMs)),
    ]);
    return pong === "PONG";
  } catch {
    return false;
  } finally {
    client?.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// The REST shim
// ---------------------------------------------------------------------------------------------------------------------

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");

/** Script flags open-source Redis 7 knows; anything else (Upstash's `allow-key-locking`) is dropped. */
const redisScriptFlags = new Set(["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"]);

function compatibleScript(script: string): string {
  return script.replace(/^#!lua(?: flags=([^\n]*))?/, (_all, flags: string | undefined) => {
    const kept = (flags ?? "").split(",").map((f) => f.trim()).filter((f) => redisScriptFlags.has(f));
    return kept.length ? `#!lua flags=${kept.join(",")}` : "#!lua";
  });
}

function encodeResult(value: RespValue, base64: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => encodeResult(v, base64));
  if (typeof value === "string" && base64 && value !== "OK") return Buffer.from(value, "utf8").toString("base64");
  return value;
}

export interface UpstashShim {
  url: string;
  token: string;
  /** Commands received, by name (lower case), for assertions. */
  commands: string[];
  /** Requests refused while the shim was down. */
  refused: number;
  /**
   * Makes every request fail as an Upstash outage does (HTTP 503 with an error body) until `up()`, Redis untouched.
   */
  down(): void;
  up(): void;
  close(): Promise<void>;
}

/**
 * Starts the shim in front of the Redis at `redisUrl`. With `null` there is no Redis behind it at all: the shim starts
 * down and stays down (an Upstash that never answers, for tests of the fallback that need no Redis).
 */
export async function startUpstashShim(redisUrl: string | null = TEST_REDIS_URL): Promise<UpstashShim> {
  const redis = redisUrl === null ? undefined : await RespClient.connect(redisUrl);
  let isDown = redis === undefined;
  let refused = 0;
  const token = randomBytes(16).toString("hex");
  const commands: string[] = [];
  /** The SDK's digest of a script → the digest of the Redis-compatible script actually loaded. */
  const loadedAs = new Map<string, string>();

  const run = async (command: unknown): Promise<{ result?: unknown; error?: string }> => {
    if (!Array.isArray(command) || command.length === 0) return { error: "ERR command must be a non-empty JSON array" };
    const args = command.map((a) => (typeof a === "string" ? a : JSON.stringify(a)));
    const name = args[0]!.toLowerCase();
    commands.push(name);
    if (name === "eval" && args[1] !== undefined) {
      const compatible = compatibleScript(args[1]);
      loadedAs.set(sha1(args[1]), sha1(compatible));
      args[1] = compatible;
    } else if (name === "evalsha" && args[1] !== undefined) {
      args[1] = loadedAs.get(args[1].toLowerCase()) ?? args[1];
    }
    const reply = await redis!.send(args);
    return reply instanceof RedisReplyError ? { error: reply.message } : { result: reply };
  };

  const server = http.createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      if (isDown) {
        refused++;
        req.resume();
        return reply(503, { error: "ERR shim: Upstash is down" });
      }
      if (req.headers.authorization !== `Bearer ${token}`) return reply(401, { error: "Unauthorized" });
      if (req.method !== "POST") return reply(405, { error: "Only POST is supported by this shim" });
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
      const path = new URL(req.url ?? "/", "http://shim").pathname.replace(/\/+$/, "");
      if (path === "/pipeline") {
        if (!Array.isArray(body)) return reply(400, { error: "ERR pipeline body must be an array of commands" });
        const results = await Promise.all(body.map(run));
        return reply(200, results.map((r) => (r.error !== undefined ? { error: r.error } : { result: encodeResult(r.result as RespValue, base64) })));
      }
      if (path !== "") return reply(404, { error: `ERR ${path} is not supported by this shim` });
      const r = await run(body);
      if (r.error !== undefined) return reply(400, { error: r.error });
      return reply(200, { result: encodeResult(r.result as RespValue, base64) });
    } catch (error) {
      reply(500, { error: `ERR shim: ${(error as Error).message}` });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    commands,
    get refused() {
      return refused;
    },
    down() {
      isDown = true;
    },
    up() {
      if (!redis) throw new Error("this shim has no Redis behind it");
      isDown = false;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis?.close();
    },
  };
}
