import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { connectAccount, eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * End to end: the repository's example receivers (`webhook-receiver.example.js` run with node,
 * `webhook-receiver.example.ts` with tsx), started as the README says with WEBHOOK_SECRET and PORT and registered
 * against the local home, receive and verify the deliveries of a published and a scheduled post.
 */
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", WEBHOOK_RETRY_BASE_SECONDS: "0.05" } });

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

interface RunningReceiver {
  port: number;
  output: string[];
  child: ChildProcess;
}

const running: RunningReceiver[] = [];
afterAll(async () => {
  for (const r of running) {
    if (r.child.exitCode === null) {
      const exited = new Promise((resolve) => r.child.once("exit", resolve));
      r.child.kill("SIGTERM");
      await exited;
    }
  }
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts an example receiver as a user would, and waits until it says it is listening. */
async function startExample(file: string, secret: string): Promise<RunningReceiver> {
  const port = await freePort();
  const args = file.endsWith(".ts") ? ["--import", "tsx", file] : [file];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, WEBHOOK_SECRET: secret, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const r: RunningReceiver = { port, output: [], child };
  running.push(r);
  const collect = (chunk: Buffer) => r.output.push(...chunk.toString("utf8").split("\n").filter(Boolean));
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  await eventually(async () => (r.output.some((l) => l.includes(`listening on http://localhost:${port}/webhook`)) ? true : undefined), 20_000, `${file} to listen`);
  return r;
}

const received = (r: RunningReceiver, type: string) => r.output.filter((l) => l.startsWith(`Received ${type} `));

describe("the example receivers, end to end", () => {
  it("verify and log the deliveries of a published and a scheduled post", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const jsSecret = `whsec_${crypto.randomBytes(32).toString("base64")}`;
    const tsSecret = "a-secret-the-integrator-chose-1234";
    const [js, ts] = await Promise.all([
      startExample("webhook-receiver.example.js", jsSecret),
      startExample("webhook-receiver.example.ts", tsSecret),
    ]);
    const events = ["post.published", "post.failed", "post.scheduled"];
    for (const [r, secret] of [[js, jsSecret], [ts, tsSecret]] as const) {
      const res = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey, body: { url: `http://localhost:${r.port}/webhook`, secret, events } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }

    const now = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "Live from the e2e test" } });
    expect(now.body.status).toBe("published");
    const later = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: "Scheduled from the e2e test", scheduleDate: new Date(Date.now() + 2000).toISOString() },
    });
    expect(later.status).toBe(201);

    for (const r of [js, ts]) {
      await eventually(async () => (received(r, "post.published").length >= 2 && received(r, "post.scheduled").length >= 1 ? true : undefined), 20_000, "deliveries to the example");
      expect(received(r, "post.published").join("\n")).toContain(now.body.postId);
      expect(received(r, "post.published").join("\n")).toContain(later.body.postId);
      expect(received(r, "post.scheduled").join("\n")).toContain(later.body.postId);
      expect(r.output.filter((l) => l.startsWith("Rejected"))).toEqual([]);
      // The payload is logged as it arrived.
      expect(r.output.join("\n")).toContain('"event_type": "post.scheduled"');
    }

    // Our history agrees: every delivery answered 200 on its first attempt.
    const endpoints = await t.call("GET", "/api/v1/webhook-endpoints", { apiKey });
    for (const e of endpoints.body.endpoints) {
      const history = await t.call("GET", `/api/v1/webhook-endpoints/${e.id}/deliveries`, { apiKey });
      expect(history.body.deliveries.map((d: any) => [d.status, d.response_status, d.attempt_number])).toEqual([
        ["delivered", 200, 1],
        ["delivered", 200, 1],
        ["delivered", 200, 1],
      ]);
    }
  });

  it("refuse a forged signature and a replayed delivery", async () => {
    const secret = `whsec_${crypto.randomBytes(32).toString("base64")}`;
    const r = await startExample("webhook-receiver.example.js", secret);
    const body = JSON.stringify({ event_type: "post.published", timestamp: new Date().toISOString(), profile_id: "p", data: { post_id: "x" } });
    const send = (headers: Record<string, string>) =>
      fetch(`http://127.0.0.1:${r.port}/webhook`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    expect((await send({ "x-webhook-signature": "0".repeat(64) })).status).toBe(401);
    // A genuine signature on a delivery captured ten minutes ago: the Standard Webhooks timestamp gives it away.
    const id = crypto.randomUUID();
    const sign = (ts: number) => ({
      "x-webhook-signature": crypto.createHmac("sha256", secret).update(body).digest("hex"),
      "webhook-id": id,
      "webhook-timestamp": String(ts),
      "webhook-signature": `v1,${crypto.createHmac("sha256", Buffer.from(secret.slice(6), "base64")).update(`${id}.${ts}.${body}`).digest("base64")}`,
    });
    expect((await send(sign(Math.floor(Date.now() / 1000) - 600))).status).toBe(401);
    expect((await send(sign(Math.floor(Date.now() / 1000)))).status).toBe(200);
    expect(r.output.filter((l) => l.startsWith("Rejected"))).toHaveLength(2);
    expect(received(r, "post.published")).toHaveLength(1);
  });
});
