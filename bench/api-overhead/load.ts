/**
 * The load generator, in a child process of its own (run.ts forks it) so that its CPU is never counted as the
 * servers': run.ts sends autocannon options, this answers with autocannon's result, one job at a time.
 */
import autocannon from "autocannon";

export type LoadJob = autocannon.Options;
export type LoadReply = { ok: true; result: autocannon.Result } | { ok: false; error: string };

if (process.send) {
  process.on("message", (job: LoadJob) => {
    autocannon(job).then(
      (result) => process.send!({ ok: true, result } satisfies LoadReply),
      (error: unknown) => process.send!({ ok: false, error: String(error) } satisfies LoadReply),
    );
  });
  // Leave with the parent, however it ends.
  process.on("disconnect", () => process.exit(0));
}
