import { log } from "../core/log.js";
import type { Tx } from "../core/pg.js";
import type { UploadProgress } from "../platforms/types.js";

/**
 * A slice of a large video's upload (src/media/transfer.ts), in the job logs: one `media_upload` row per publish
 * attempt that sent media, with where the upload stands in its metadata (`receivedBytes` of `totalBytes`, `percent`,
 * `sentBytes` by this attempt), and one line in the logs. The publish executor writes it with the attempt's outcome.
 */
export async function writeUploadProgress(
  tx: Tx,
  target: { id: string; profile_id: string; post_id: string; platform: string; attempts: number },
  timing: { startedAt: Date; completedAt: Date },
  progress: UploadProgress,
): Promise<void> {
  const durationMs = timing.completedAt.getTime() - timing.startedAt.getTime();
  const percent = progress.totalBytes > 0 ? Math.floor((progress.receivedBytes / progress.totalBytes) * 1000) / 10 : 100;
  const metadata = { ...progress, percent, complete: progress.receivedBytes >= progress.totalBytes, durationMs };
  await tx`
    insert into public.job_logs (profile_id, post_id, target_id, platform, job_type, status, attempt_number, started_at,
      completed_at, duration_ms, metadata)
    values (${target.profile_id}, ${target.post_id}, ${target.id}, ${target.platform}, 'media_upload', 'success',
      ${target.attempts}, ${timing.startedAt}, ${timing.completedAt}, ${durationMs}, ${tx.json(metadata)})`;
  log.info("media upload", { platform: target.platform, postId: target.post_id, targetId: target.id, ...metadata });
}
