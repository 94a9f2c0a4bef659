import type { SandboxContext } from "./schema.js";

/** Published posts and uploaded media, as the control endpoints list them. */

export interface PostMedia {
  id: string;
  mimeType: string | null;
  sizeBytes: number | null;
}

export async function recordPost(
  ctx: SandboxContext,
  network: string,
  post: { id: string; accountId: string; text: string; media: PostMedia[] },
): Promise<void> {
  await ctx.sql`
    insert into local_sandbox.posts (network, id, account_id, text, media, created_at)
    values (${network}, ${post.id}, ${post.accountId}, ${post.text}, ${ctx.sql.json(post.media as never)}, ${ctx.now()})`;
}

/** The earlier post with the same text from the same account within the window, if any. */
export async function findDuplicate(
  ctx: SandboxContext,
  network: string,
  accountId: string,
  text: string,
  windowSeconds: number,
): Promise<{ id: string } | undefined> {
  const since = new Date(ctx.now().getTime() - windowSeconds * 1000);
  const [row] = await ctx.sql<{ id: string }[]>`
    select id from local_sandbox.posts
    where network = ${network} and account_id = ${accountId} and text = ${text} and created_at > ${since}
    order by created_at desc limit 1`;
  return row;
}

/**
 * `findDuplicate` then `recordPost` in one statement: records the post unless the same account posted the same text
 * within the window, and returns that earlier post when there is one (nothing is recorded then).
 */
export async function recordPostUnlessDuplicate(
  ctx: SandboxContext,
  network: string,
  post: { id: string; accountId: string; text: string; media: PostMedia[] },
  windowSeconds: number,
): Promise<{ id: string } | undefined> {
  const now = ctx.now();
  const since = new Date(now.getTime() - windowSeconds * 1000);
  const [row] = await ctx.sql<{ duplicate: string | null }[]>`
    with duplicate as (
      select id from local_sandbox.posts
      where network = ${network} and account_id = ${post.accountId} and text = ${post.text} and created_at > ${since}
      order by created_at desc limit 1
    ), recorded as (
      insert into local_sandbox.posts (network, id, account_id, text, media, created_at)
      select ${network}, ${post.id}, ${post.accountId}, ${post.text}, ${ctx.sql.json(post.media as never)}, ${now}
      where not exists (select from duplicate)
    )
    select (select id from duplicate) as duplicate`;
  return row?.duplicate ? { id: row.duplicate } : undefined;
}

export interface MediaRow {
  id: string;
  account_id: string;
  state: string;
  mime_type: string | null;
  size_bytes: number | null;
  upload_token: string | null;
}

export async function createMedia(
  ctx: SandboxContext,
  network: string,
  media: { id: string; accountId: string; state: string; mimeType?: string; sizeBytes?: number; sha256?: string; uploadToken?: string },
): Promise<void> {
  await ctx.sql`
    insert into local_sandbox.media (network, id, account_id, state, mime_type, size_bytes, sha256, upload_token, created_at)
    values (${network}, ${media.id}, ${media.accountId}, ${media.state}, ${media.mimeType ?? null}, ${media.sizeBytes ?? null},
            ${media.sha256 ?? null}, ${media.uploadToken ?? null}, ${ctx.now()})`;
}

export async function findMedia(ctx: SandboxContext, network: string, id: string): Promise<MediaRow | undefined> {
  const [row] = await ctx.sql<MediaRow[]>`
    select id, account_id, state, mime_type, size_bytes, upload_token from local_sandbox.media where network = ${network} and id = ${id}`;
  return row;
}

export async function setMediaState(
  ctx: SandboxContext,
  network: string,
  ids: string[],
  state: string,
  upload?: { mimeType: string | null; sizeBytes: number; sha256: string },
): Promise<void> {
  if (!ids.length) return;
  await ctx.sql`
    update local_sandbox.media
    set state = ${state},
        mime_type = coalesce(${upload?.mimeType ?? null}, mime_type),
        size_bytes = coalesce(${upload?.sizeBytes ?? null}, size_bytes),
        sha256 = coalesce(${upload?.sha256 ?? null}, sha256)
    where network = ${network} and id in ${ctx.sql(ids)}`;
}
