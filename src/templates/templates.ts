import type { Tx } from "../core/db.js";
import { AppError, notFound } from "../core/errors.js";
import { keysetPage, type Page, type PageSpec } from "../core/pagination.js";
import { assertProfileRole } from "../core/profile-scope.js";
import { mediaSizeViolations } from "../media/limits.js";
import { mediaForAttaching } from "../media/media.js";
import type { Platform } from "../platforms/catalog.js";
import { checkPostRules, type RuleViolation } from "../posts/rules.js";
import type { MediaItemInput } from "../posts/schemas.js";
import { renderTemplate } from "./render.js";
import type { CreateTemplateInput, UpdateTemplateInput } from "./schemas.js";

export interface TemplateMediaRow {
  id: string;
  media_id: string | null;
  file_path: string | null;
  public_url: string;
  mime_type: string;
  file_size: number | null;
  file_name: string | null;
}

export interface TemplateRow {
  id: string;
  profile_id: string;
  name: string;
  description: string | null;
  content: string;
  platforms: Platform[];
  category: string | null;
  is_favorite: boolean;
  usage_count: number;
  created_at: Date;
  updated_at: Date;
  media: TemplateMediaRow[];
}

/** What a post made from a template takes from it. */
export interface TemplateForPost {
  id: string;
  content: string;
  platforms: Platform[];
  /** In the shape POST /api/v1/post takes: uploaded media by id, other files by URL and type. */
  media: MediaItemInput[];
}

const templateColumns = (tx: Tx) => tx`
  t.id, t.profile_id, t.name, t.description, t.content, t.platforms, t.category, t.is_favorite, t.usage_count,
  t.created_at, t.updated_at,
  coalesce((select json_agg(json_build_object('id', m.id, 'media_id', m.media_id, 'file_path', m.file_path,
      'public_url', m.public_url, 'mime_type', m.mime_type, 'file_size', m.file_size, 'file_name', m.file_name)
      order by m.sort_order, m.id)
    from public.template_media m where m.template_id = t.id), '[]') as media`;

/**
 * The template a post is made from, as the caller sees it (RLS: a member of its profile; an API key only its own
 * profile's). 404 when it is not this profile's or not visible.
 */
export async function loadTemplateForPost(tx: Tx, profileId: string, templateId: string): Promise<TemplateForPost> {
  const [row] = await tx<TemplateRow[]>`
    select ${templateColumns(tx)} from public.templates t where t.id = ${templateId} and t.profile_id = ${profileId}`;
  if (!row) throw notFound("Template");
  return {
    id: row.id,
    content: row.content,
    platforms: row.platforms,
    media: row.media.map((m) =>
      m.media_id
        ? { id: m.media_id }
        : {
            public_url: m.public_url,
            mime_type: m.mime_type,
            ...(m.file_path !== null ? { file_path: m.file_path } : {}),
            ...(m.file_size !== null ? { file_size: Number(m.file_size) } : {}),
            ...(m.file_name !== null ? { file_name: m.file_name } : {}),
          },
    ),
  };
}

/** Counts one use of a template, in the caller's transaction (any member may); 404 when it is not visible. */
export async function countTemplateUse(tx: Tx, templateId: string): Promise<void> {
  const [row] = await tx<{ counted: boolean | null }[]>`select public.count_template_use(${templateId}) as counted`;
  if (!row?.counted) throw notFound("Template");
}

function ruleError(violations: RuleViolation[]): AppError {
  const first = violations[0]!;
  const message = first.platform ? `${first.platform}: ${first.message}` : first.message;
  return new AppError("validation_error", violations.length > 1 ? `${message} (and ${violations.length - 1} more)` : message, {
    details: violations.map((v) => ({ field: v.field, message: v.message, ...(v.platform ? { platform: v.platform } : {}), rule: v.rule })),
  });
}

/**
 * Rules that can only be known when posting are left to the post: the text length per network (variables change
 * it), whether a network needs media (the post may bring its own) and scheduling (the post decides).
 */
const postingTimeRules = new Set(["max_text_length", "media_required", "scheduling_supported"]);

interface ResolvedMedia {
  mediaId: string | null;
  filePath: string | null;
  publicUrl: string;
  mimeType: string;
  fileSize: number | null;
  fileName: string | null;
}

/** Resolves media items (uploaded media must be the profile's; its record is the truth) and checks them for `platforms`. */
async function resolveMedia(tx: Tx, profileId: string, platforms: Platform[], items: MediaItemInput[]): Promise<ResolvedMedia[]> {
  const uploaded = await mediaForAttaching(tx, profileId, items.flatMap((m) => (m.id ? [m.id] : [])));
  const media: ResolvedMedia[] = items.map((m) => {
    const record = m.id ? uploaded.get(m.id) : undefined;
    if (record) {
      return {
        mediaId: record.id,
        filePath: record.file_path,
        publicUrl: record.public_url,
        mimeType: record.mime_type,
        fileSize: Number(record.file_size),
        fileName: record.file_name,
      };
    }
    return {
      mediaId: null,
      filePath: m.file_path ?? null,
      publicUrl: m.public_url!,
      mimeType: m.mime_type!.toLowerCase(),
      fileSize: m.file_size ?? null,
      fileName: m.file_name ?? null,
    };
  });
  const violations = [
    ...checkPostRules({ platforms, content: "", media, scheduled: false }).filter((v) => !postingTimeRules.has(v.rule)),
    ...mediaSizeViolations(platforms, media),
  ];
  if (violations.length) throw ruleError(violations);
  return media;
}

async function insertMedia(tx: Tx, templateId: string, profileId: string, media: ResolvedMedia[]): Promise<void> {
  for (const [i, m] of media.entries()) {
    await tx`
      insert into public.template_media (template_id, profile_id, media_id, file_path, public_url, mime_type, file_size, file_name, sort_order)
      values (${templateId}, ${profileId}, ${m.mediaId}, ${m.filePath}, ${m.publicUrl}, ${m.mimeType}, ${m.fileSize}, ${m.fileName}, ${i})`;
  }
}

const forbidden = () => new AppError("forbidden", "Only the profile's owner or an admin can create, change or delete its templates");

/** 403 unless the caller is an owner or admin of the profile (RLS enforces it too; this gives the clear answer). */
const assertManager = (tx: Tx, profileId: string) =>
  assertProfileRole(tx, profileId, ["owner", "admin"], "create, change or delete its templates");

async function assertNameFree(tx: Tx, profileId: string, name: string, exceptId?: string): Promise<void> {
  const [taken] = await tx`
    select 1 from public.templates
    where profile_id = ${profileId} and lower(name) = lower(${name}) and id is distinct from ${exceptId ?? null}::uuid`;
  if (taken) throw nameTaken(name);
}

export const nameTaken = (name: string) =>
  new AppError("conflict", `A template named '${name}' already exists in this profile`, {
    details: [{ field: "name", message: "Already used by another template of this profile" }],
  });

/** Maps the unique-name violation a concurrent create or rename can still hit to the same 409. */
export function asNameConflict(error: unknown, name: string | undefined): unknown {
  const e = error as { code?: string; constraint_name?: string };
  if (name !== undefined && e?.code === "23505" && e.constraint_name === "templates_profile_id_name_key") return nameTaken(name);
  return error;
}

export async function getTemplateOrThrow(tx: Tx, templateId: string): Promise<TemplateRow> {
  const [row] = await tx<TemplateRow[]>`select ${templateColumns(tx)} from public.templates t where t.id = ${templateId}`;
  if (!row) throw notFound("Template");
  return row;
}

export async function createTemplate(tx: Tx, input: CreateTemplateInput & { profileId: string; userId: string }): Promise<TemplateRow> {
  await assertManager(tx, input.profileId);
  await assertNameFree(tx, input.profileId, input.name);
  const platforms = input.platforms ?? [];
  const media = await resolveMedia(tx, input.profileId, platforms, input.media ?? []);
  const [row] = await tx<{ id: string }[]>`
    insert into public.templates (profile_id, name, description, content, platforms, category, is_favorite, created_by)
    values (${input.profileId}, ${input.name}, ${input.description ?? null}, ${input.content}, ${platforms}::text[],
            ${input.category ?? null}, ${input.is_favorite ?? false}, ${input.userId})
    returning id`;
  await insertMedia(tx, row!.id, input.profileId, media);
  return getTemplateOrThrow(tx, row!.id);
}

export async function listTemplates(
  tx: Tx,
  filter: { profileId: string; category?: string; favorites?: boolean; search?: string },
  page: PageSpec,
): Promise<Page<TemplateRow>> {
  const pattern = filter.search ? `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
  return keysetPage(tx, page, (after, take) => tx<TemplateRow[]>`
    select ${templateColumns(tx)} from public.templates t
    where t.profile_id = ${filter.profileId}
      and ${filter.category !== undefined ? tx`t.category = ${filter.category}` : tx`true`}
      and ${filter.favorites ? tx`t.is_favorite` : tx`true`}
      and ${pattern !== null ? tx`(t.name ilike ${pattern} or t.content ilike ${pattern})` : tx`true`}
      and ${after}
    order by t.created_at desc, t.id desc
    limit ${take}`, { createdAt: "t.created_at", id: "t.id" });
}

/**
 * Changes a template. `increment_usage` alone is using it (any member); every other field is managing it (owners and
 * admins: RLS refuses the row to anyone else, answered 403 when the caller can see the template, 404 otherwise).
 * `media`, when given, replaces the whole list.
 */
export async function updateTemplate(tx: Tx, templateId: string, input: UpdateTemplateInput): Promise<TemplateRow> {
  const current = await getTemplateOrThrow(tx, templateId);
  const { increment_usage: incrementUsage, media: mediaInput, ...fields } = input;
  const changes = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  const managing = Object.keys(changes).length > 0 || mediaInput !== undefined;
  if (managing) {
    await assertManager(tx, current.profile_id);
    if (typeof changes.name === "string" && changes.name.toLowerCase() !== current.name.toLowerCase()) {
      await assertNameFree(tx, current.profile_id, changes.name, templateId);
    }
    const platforms = (changes.platforms as Platform[] | undefined) ?? current.platforms;
    // New platforms are checked against the media the template will have (the new list, or the one it has).
    const media = mediaInput !== undefined || changes.platforms !== undefined
      ? await resolveMedia(tx, current.profile_id, platforms, mediaInput ?? (await loadTemplateForPost(tx, current.profile_id, templateId)).media)
      : undefined;
    const [updated] = await tx`
      update public.templates set ${tx({ ...changes, updated_at: new Date() } as Record<string, unknown>)}
      where id = ${templateId} returning id`;
    if (!updated) throw forbidden();
    if (mediaInput !== undefined && media) {
      await tx`delete from public.template_media where template_id = ${templateId}`;
      await insertMedia(tx, templateId, current.profile_id, media);
    }
  }
  if (incrementUsage) await countTemplateUse(tx, templateId);
  return getTemplateOrThrow(tx, templateId);
}

export async function deleteTemplate(tx: Tx, templateId: string): Promise<void> {
  const current = await getTemplateOrThrow(tx, templateId);
  await assertManager(tx, current.profile_id);
  const deleted = await tx`delete from public.templates where id = ${templateId} returning id`;
  if (!deleted.length) throw forbidden();
}

/**
 * What a post made from a template says, in the post's transaction: the template's content rendered with `variables`
 * (built-ins at `at` in `timezone`, or the profile's timezone), its platforms and media, and one use counted. A
 * missing variable is a 400 naming each one, so no half-rendered post is ever written.
 */
export async function postFromTemplate(
  tx: Tx,
  input: { profileId: string; templateId: string; variables?: Record<string, string>; at: Date; timezone?: string },
): Promise<TemplateForPost> {
  const template = await loadTemplateForPost(tx, input.profileId, input.templateId);
  let timezone = input.timezone;
  if (!timezone) {
    const [profile] = await tx<{ timezone: string }[]>`select timezone from public.profiles where id = ${input.profileId}`;
    timezone = profile?.timezone ?? "UTC";
  }
  const rendered = renderTemplate(template.content, input.variables ?? {}, { at: input.at, timezone });
  if (!rendered.ok) {
    const names = rendered.missing.map((n) => `'${n}'`).join(", ");
    throw new AppError("validation_error", `Missing template variable${rendered.missing.length > 1 ? "s" : ""} ${names}`, {
      details: rendered.missing.map((n) => ({ field: `variables.${n}`, message: "Required by the template", rule: "template_variable" })),
    });
  }
  await countTemplateUse(tx, template.id);
  return { ...template, content: rendered.content };
}
