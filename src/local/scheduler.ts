import { readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { log } from "../core/log.js";
import { projectRoot } from "./server.js";

type ScheduledModule = { default: (req: Request) => Promise<Response>; config?: { schedule?: string } };

/** The function modules that declare a `schedule` (Netlify runs those by cron; the local home runs them here). */
export async function scheduledFunctions(): Promise<{ name: string; run: (req: Request) => Promise<Response> }[]> {
  const dir = path.join(projectRoot, "netlify/functions");
  const found = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts")).sort()) {
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as ScheduledModule;
    if (mod.config?.schedule) found.push({ name: file.replace(/\.ts$/, ""), run: mod.default });
  }
  return found;
}

/**
 * Runs every scheduled function every `intervalSeconds` (instead of once a minute by cron), one run at a time per
 * function, with the same request body Netlify sends (`{ "next_run": … }`).
 */
export function startScheduler(functions: { name: string; run: (req: Request) => Promise<Response> }[], intervalSeconds: number, baseUrl: string) {
  let stopped = false;
  const running = new Set<Promise<void>>();
  const timers = functions.map((fn) => {
    let busy = false;
    const tick = () => {
      if (busy || stopped) return;
      busy = true;
      const nextRun = new Date(Date.now() + intervalSeconds * 1000).toISOString();
      const run = fn
        .run(new Request(`${baseUrl}/.netlify/functions/${fn.name}`, { method: "POST", body: JSON.stringify({ next_run: nextRun }) }))
        .then(async (res) => {
          if (!res.ok) log.warn("scheduled function failed", { name: fn.name, status: res.status, body: await res.text() });
        })
        .catch((error: unknown) => log.error("scheduled function threw", { name: fn.name, error }))
        .finally(() => {
          busy = false;
          running.delete(run);
        });
      running.add(run);
    };
    return setInterval(tick, intervalSeconds * 1000);
  });
  return {
    async stop() {
      stopped = true;
      timers.forEach(clearInterval);
      await Promise.allSettled([...running]);
    },
  };
}
