-- Large videos are sent to their network a slice per publish attempt (src/media/transfer.ts); each slice is a row in
-- the job logs with job_type 'media_upload' and where the upload stands in its metadata (receivedBytes of
-- totalBytes, percent, sentBytes by that attempt).
alter table public.job_logs drop constraint job_logs_job_type_check;
alter table public.job_logs add constraint job_logs_job_type_check
  check (job_type in ('publish', 'status_check', 'token_refresh', 'media_upload'));
