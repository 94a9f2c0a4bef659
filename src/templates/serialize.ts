import { templateVariables } from "./render.js";
import type { TemplateRow } from "./templates.js";

/** The contract's template object, with the variables its content uses and its media. */
export function serializeTemplate(t: TemplateRow) {
  return {
    id: t.id,
    profile_id: t.profile_id,
    name: t.name,
    description: t.description,
    content: t.content,
    platforms: t.platforms,
    category: t.category,
    is_favorite: t.is_favorite,
    usage_count: Number(t.usage_count),
    variables: templateVariables(t.content),
    media: t.media.map((m) => ({
      id: m.id,
      media_id: m.media_id,
      file_path: m.file_path,
      public_url: m.public_url,
      mime_type: m.mime_type,
      file_size: m.file_size === null ? null : Number(m.file_size),
      file_name: m.file_name,
    })),
    created_at: new Date(t.created_at).toISOString(),
    updated_at: new Date(t.updated_at).toISOString(),
  };
}
