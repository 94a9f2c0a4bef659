/**
 * Immediate-post benchmark: how long `POST /api/v1/post` (publish now) takes to answer, through the local home's HTTP
 * server, for
 *   (a) text to one network (X): published inline in the request, the answer carries the post's id and URL;
 *   (b) a video to five networks (Instagram, Facebook, Threads, TikTok, YouTube): handed to the queue, the answer
 *       comes at once with the targets `pending`/`publishing`.
 * Beside them, a floor measured in the same run: `GET /api/v1/posts/{id}` with the same key (the request pipeline and
 * one read, no writes, no network), so a loaded machine shows as a slower floor rather than a slower feature.
 *
 *   1. An embedded PostgreSQL in a temp dir (fsync off) and a full local home on it (sweep and queue as `npm start`
 *      runs them; the posting rate limit raised out of reach).
 *   2. One Unlimited user with a profile, an API key, X and the five video networks connected through their OAuth
 *      flows, and a small MP4 uploaded once through upload-url.
 *   3. Sequential requests (one at a time: answer time, not throughput), each with its own text (X refuses a
 *      duplicate): the text posts after a few unmeasured warm-ups, then the video posts (whose targets the queue
 *      follows in this same process afterwards, so each is sent once that work for the previous one is done), each
 *      preceded by a floor request.
 *
 * Not a test: no vitest. Target: (a) p50 ≤ 300 ms; (b) answers without waiting for the networks. See bench/README.md.
 *
 *   npm run bench:post
 *   POST_TEXT_SAMPLES=100 POST_VIDEO_SAMPLES=20 npm run bench:post
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import postgres from "postgres";
import { startEmbeddedPostgres } from "../../src/local/embedded-postgres.js";
import { generateSecrets, startLocalHome, type LocalHome } from "../../src/local/home.js";
import { fakeMp4 } from "../../tests/helpers/fake-mp4.js";
import { fmt, intEnv, percentile, say, table } from "../sweep/report.js";

process.env.LOG_LEVEL ??= "error";

const config = {
  text: intEnv("POST_TEXT_SAMPLES", 60, 1),
  video: intEnv("POST_VIDEO_SAMPLES", 10, 1),
  warmup: intEnv("POST_WARMUP", 5, 0),
};
const TEXT_TARGET_P50_MS = 300;
const VIDEO_NETWORKS = ["instagram", "facebook", "threads", "tiktok", "youtube"];

interface Answer {
  status: number;
  body: any;
  ms: number;
}

async function request(home: LocalHome, method: string, p: string, init: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(new URL(p, home.url), {
    method,
    headers: { "content-type": "application/json", ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, ms };
}

async function call<T>(home: LocalHome, method: string, p: string, init: { headers?: Record<string, string>; body?: unknown } = {}): Promise<T> {
  const res = await request(home, method, p, init);
  if (res.status >= 300) throw new Error(`${method} ${p} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as T;
}

async function connect(home: LocalHome, apiKey: string, platform: string, sandboxUser: string): Promise<void> {
  const returnUrl = new URL("/connected", home.url).toString();
  const init = await call<{ url: string }>(home, "POST", "/api/v1/connect/init", { headers: { "x-api-key": apiKey }, body: { platform, returnUrl } });
  const consentUrl = new URL(init.url);
  consentUrl.searchParams.set("sandbox_user", sandboxUser);
  const consent = await fetch(consentUrl, { redirect: "manual" });
  const callback = await fetch(consent.headers.get("location")!, { redirect: "manual" });
  const back = new URL(callback.headers.get("location")!);
  if (!back.searchParams.get("connectionId")) throw new Error(`connecting ${platform} did not succeed: ${back.toString()}`);
}

interface Series {
  name: string;
  ms: number[];
  /** Target statuses seen in the answers, counted. */
  statuses: Map<string, number>;
}

function summarise(s: Series): string[] {
  const sorted = [...s.ms].sort((a, b) => a - b);
  const statuses = [...s.statuses].map(([k, v]) => `${k} ${v}`).join(", ");
  return [s.name, fmt(sorted.length), fmt(percentile(sorted, 50), 1), fmt(percentile(sorted, 95), 1), fmt(percentile(sorted, 99), 1), fmt(sorted.at(-1)!, 1), statuses];
}

async function main() {
  const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-bench-post-"));
  await chmod(dir, 0o755);
  const loadBefore = os.loadavg();
  say(`Node ${process.version} · ${os.availableParallelism()} CPUs · load average ${loadBefore.map((l) => fmt(l, 2)).join(" ")}`);
  const pg = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
  let home: LocalHome | undefined;
  let admin: postgres.Sql | undefined;
  try {
    const admin0 = postgres(pg.url, { max: 1, onnotice: () => {} });
    await admin0.unsafe("create database bench_post");
    await admin0.end();
    const url = new URL(pg.url);
    url.pathname = "/bench_post";
    home = await startLocalHome({
      port: 0,
      databaseUrl: url.toString(),
      secrets: generateSecrets(),
      env: { RATE_LIMIT_OVERRIDES: "api_requests=1000000000/1h,posts=1000000/1h,media_uploads=100000/1h" },
    });
    admin = postgres(url.toString(), { max: 2, onnotice: () => {} });

    const tag = Date.now().toString(36);
    const me = await call<{ access_token: string; user: { id: string } }>(home, "POST", "/auth/v1/signup", {
      headers: { apikey: home.anonKey },
      body: { email: `bench-post-${tag}@example.com`, password: "correct horse battery" },
    });
    await admin`update public.billing_subscriptions set plan = 'unlimited', status = 'active' where user_id = ${me.user.id}`;
    const bearer = { authorization: `Bearer ${me.access_token}` };
    const { profile } = await call<{ profile: { id: string } }>(home, "POST", "/api/v1/profiles", { headers: bearer, body: { name: "Bench posts" } });
    const { apiKey } = await call<{ apiKey: { key: string } }>(home, "POST", "/api/api-keys", { headers: bearer, body: { name: "bench", profileId: profile.id } });
    const key = { "x-api-key": apiKey.key };
    for (const platform of ["twitter", ...VIDEO_NETWORKS]) await connect(home, apiKey.key, platform, `bench-${platform}-${tag}`);

    const clip = fakeMp4({ durationSeconds: 5, totalBytes: 64 * 1024 });
    const upload = await call<{ upload: { signedUrl: string }; media: { id: string } }>(home, "POST", "/api/v1/media/upload-url", {
      headers: key,
      body: { fileName: "bench.mp4", contentType: "video/mp4", fileSize: clip.length },
    });
    const put = await fetch(upload.upload.signedUrl, { method: "PUT", headers: { "content-type": "video/mp4" }, body: new Uint8Array(clip) });
    if (!put.ok) throw new Error(`uploading the video answered ${put.status}`);
    const videoId = upload.media.id;

    let n = 0;
    const post = async (body: Record<string, unknown>, series?: Series) => {
      const res = await request(home!, "POST", "/api/v1/post", { headers: key, body });
      if (res.status !== 201) throw new Error(`POST /api/v1/post answered ${res.status}: ${JSON.stringify(res.body)}`);
      if (series) {
        series.ms.push(res.ms);
        for (const t of res.body.targets as { status: string }[]) series.statuses.set(t.status, (series.statuses.get(t.status) ?? 0) + 1);
      }
      return res.body as { postId: string };
    };
    const text = () => ({ platform: "twitter", content: `Bench text ${tag} #${++n}` });
    const video = () => ({ platforms: VIDEO_NETWORKS, content: `Bench video ${tag} #${++n}`, media: [{ id: videoId }] });

    const floor: Series = { name: "floor: GET /api/v1/posts/{id}", ms: [], statuses: new Map() };
    const textSeries: Series = { name: "text → X (publish now)", ms: [], statuses: new Map() };
    const videoSeries: Series = { name: `video → ${VIDEO_NETWORKS.length} networks (publish now)`, ms: [], statuses: new Map() };
    let lastPostId = "";
    const floorRequest = async () => {
      const f = await request(home!, "GET", `/api/v1/posts/${lastPostId}`, { headers: key });
      if (f.status !== 200) throw new Error(`the floor answered ${f.status}`);
      floor.ms.push(f.ms);
    };
    /** The video posts' targets are followed by the queue in this same process: let that work finish first. */
    const drained = async () => {
      for (let i = 0; i < 120; i++) {
        const [open] = await admin!`select count(*)::int as n from public.post_targets where status in ('pending', 'publishing') and due_at < now() + interval '30 seconds'`;
        if (!open!.n) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };

    // Text first, then video, so the queue's background work for the videos does not land in the text figures; a
    // floor request before each measured one, so a load spike from other processes lands on both alike.
    say(`warming up (${config.warmup} text posts)`);
    for (let i = 0; i < config.warmup; i++) lastPostId = (await post(text())).postId;
    say(`measuring ${config.text} text posts, one at a time`);
    for (let i = 0; i < config.text; i++) {
      await floorRequest();
      lastPostId = (await post(text(), textSeries)).postId;
    }
    // Each on an idle home: the previous video's five targets are followed by the queue in this same process, and
    // that work would otherwise land in the next answer (and in the floor) as if it were the request's.
    say(`measuring ${config.video} video posts, one at a time, each once the previous one's queue work is done`);
    for (let i = 0; i < config.video; i++) {
      await drained();
      await floorRequest();
      await post(video(), videoSeries);
    }
    await drained();
    const loadAfter = os.loadavg();

    say();
    say(table([["POST /api/v1/post", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "targets in the answers"], ...[textSeries, videoSeries, floor].map(summarise)]));
    const p50 = percentile([...textSeries.ms].sort((a, b) => a - b), 50);
    const floorP50 = percentile([...floor.ms].sort((a, b) => a - b), 50);
    say();
    say(`text p50 ${fmt(p50, 1)} ms = ${fmt(p50 / floorP50, 1)}× the floor's p50 (${fmt(floorP50, 1)} ms); target ≤ ${TEXT_TARGET_P50_MS} ms: ${p50 <= TEXT_TARGET_P50_MS ? "yes" : "NO"}`);
    say(`load average before ${loadBefore.map((l) => fmt(l, 2)).join(" ")}, after ${loadAfter.map((l) => fmt(l, 2)).join(" ")}`);
  } finally {
    await admin?.end({ timeout: 5 });
    await home?.stop();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
