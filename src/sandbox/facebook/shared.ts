import { randomBytes } from "node:crypto";
import { registeredClients } from "../clients.js";
import { type Grant, type SandboxContext } from "../common.js";
import { graphError, type GraphErrorFields } from "../meta-graph.js";


export const NETWORK = "facebook";
export const clients = registeredClients("facebook");

export const facebookSandboxConfig = {
  shortLivedTokenSeconds: 2 * 3600,
  longLivedTokenSeconds: 60 * 24 * 3600,
  codeSeconds: 10 * 60,
  duplicateWindowSeconds: 24 * 3600,
  messageMaxChars: 63_206,
  photoMaxBytes: 10 * 1024 * 1024,
  videoMaxBytes: 100 * 1024 * 1024,
  mediaFetchTimeoutMs: 10_000,
  /** A video is ready (and published) when its status is read for the n-th time. */
  videoReadyAfterPolls: 2,
  appCallsPerHour: 5000,
  pageCallsPerHour: 200,
  /** How long an injected rate limit says it lasts. */
  injectedRegainMinutes: 1,
  minGraphMajorVersion: 21,
  maxPagesPerUser: 5,
  accountsPageLimit: 25,
  scopes: new Set([
    "public_profile",
    "email",
    "pages_show_list",
    "pages_manage_posts",
    "pages_read_engagement",
    "pages_manage_engagement",
    "pages_manage_metadata",
    "pages_read_user_content",
    "read_insights",
    "business_management",
  ]),
} as const;

/** What each token is, from the prefix the sandbox gives it (Meta's tokens all start with "EAA"). */
export const TOKEN_PREFIX = { shortUser: "EAAS", longUser: "EAAL", page: "EAAP" } as const;
export const PAGE_TASKS = ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"];
export const PUBLISH_PERMISSIONS = ["pages_manage_posts", "pages_read_engagement"];

export const ddl = `
create table if not exists local_sandbox.facebook_pages (
  id         text primary key,
  owner_id   text not null,
  name       text not null,
  username   text,
  tasks      text[] not null,
  position   integer not null,
  created_at timestamptz not null default now(),
  unique (owner_id, position)
);
-- Consent choices that /me/permissions reports as declined, per user.
create table if not exists local_sandbox.facebook_declined (
  account_id  text not null,
  permission  text not null,
  primary key (account_id, permission)
);
-- Facebook Login for Business configurations registered on the developer portal: each one stands in for the scopes
-- of a consent that names it (\`config_id\`), for its own app only.
create table if not exists local_sandbox.facebook_login_configurations (
  id          text primary key,
  client_id   text not null,
  name        text not null,
  permissions text[] not null,
  created_at  timestamptz not null default now()
);
-- Videos being processed: what the post will say once published, and how processing ends.
create table if not exists local_sandbox.facebook_videos (
  id          text primary key,
  page_id     text not null,
  description text not null,
  fate        text not null check (fate in ('finish', 'fail', 'never')),
  polls       integer not null default 0,
  created_at  timestamptz not null default now()
);
`;

// --- Meta's error envelope (src/sandbox/meta-graph.ts `graphError`) -------------------------------------------------------------

export const trace = () => randomBytes(8).toString("base64url");

/** Auth failures also carry Meta's `WWW-Authenticate` header. */
export function tokenFailure(message: string, code: number, subcode?: number): Response {
  return graphError(400, { message, code, subcode }, { "www-authenticate": `OAuth "Facebook Platform" "invalid_token" "${message.replace(/"/g, "'")}"` });
}

export const tokenErrors = {
  missing: () => graphError(400, { message: "An active access token must be used to query information about the current user.", code: 2500 }),
  unknown: () => tokenFailure("Invalid OAuth access token - Cannot parse access token", 190),
  expired: (expiredAt: Date, now: Date) =>
    tokenFailure(`Error validating access token: Session has expired on ${expiredAt.toUTCString()}. The current time is ${now.toUTCString()}.`, 190, 463),
  revoked: () =>
    tokenFailure(
      "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
      190,
      460,
    ),
};
export const error400 = (fields: GraphErrorFields) => graphError(400, fields);
export const permissionError = () =>
  graphError(403, {
    message: "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission",
    code: 200,
  });
export const unsupportedGet = (id: string) =>
  error400({
    message: `Unsupported get request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    code: 100,
    subcode: 33,
    type: "GraphMethodException",
  });
export const unknownPath = (path: string) => error400({ message: `Unknown path components: ${path}`, code: 2500 });
export const invalidParameter = (message: string) => error400({ message: `(#100) ${message}`, code: 100 });
export const duplicateStatus = () => error400({ message: "(#506) Duplicate status message", code: 506 });
export const invalidImage = () => error400({ message: "(#324) Missing or invalid image file", code: 324 });
export const pageThrottled = () =>
  error400({
    message:
      "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    code: 80001,
  });

// --- usage accounting ----------------------------------------------------------------------------------------------

export interface Usage {
  callCount: number;
  regainMinutes: number;
}

/** What the answer's usage headers report (set while handling the call). */
export interface Call {
  app?: Usage;
  page?: { id: string; usage: Usage };
}

export interface Caller {
  grant: Grant;
  kind: "user" | "page";
  /** The user behind the token (for a Page token: the Page's owner). */
  userId: string;
  /** The Page a Page token is for. */
  pageId?: string;
}

export interface PageRow {
  id: string;
  owner_id: string;
  name: string;
  username: string | null;
  tasks: string[];
}


export function usageOf(calls: number, limit: number, regainMinutes: number): Usage {
  return { callCount: Math.min(100, Math.floor((calls * 100) / limit)), regainMinutes };
}

export function usageHeader(usage: Usage) {
  return { call_count: usage.callCount, total_cputime: Math.floor(usage.callCount / 2), total_time: Math.floor(usage.callCount / 2) };
}

export function photoTooLarge(): Response {
  return error400({
    message: "Invalid parameter",
    code: 100,
    subcode: 1366046,
    userTitle: "Photo upload failed",
    userMessage: "Your photos couldn't be uploaded. Photos should be less than 4 MB and saved as JPG, PNG, GIF, TIFF, HEIF or WebP files.",
  });
}

/** The `fields` parameter as a list (nested selections such as `picture{url}` keep their first name). */
export function fieldList(params: URLSearchParams, defaults: string[]): string[] {
  const raw = params.get("fields");
  if (!raw) return defaults;
  const fields: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of raw) {
    if (char === "{" || char === "(") depth++;
    if (char === "}" || char === ")") depth--;
    if (char === "," && depth === 0) {
      fields.push(current.trim());
      current = "";
    } else current += char;
  }
  if (current.trim()) fields.push(current.trim());
  return fields.map((f) => f.replace(/[{(.].*$/, ""));
}

/** A video's `status` as Meta reports it for each state. */
export function statusOf(state: string, bytes: number, now: Date): Record<string, unknown> {
  const uploaded = { status: "complete", bytes_transferred: bytes };
  if (state === "ready") {
    return {
      video_status: "ready",
      uploading_phase: uploaded,
      processing_phase: { status: "complete" },
      publishing_phase: { status: "complete", publish_status: "published", publish_time: Math.floor(now.getTime() / 1000) },
    };
  }
  if (state === "error") {
    return {
      video_status: "error",
      uploading_phase: uploaded,
      processing_phase: { status: "error", errors: [{ code: 1363008, message: "The video could not be processed. Please try again with another file." }] },
      publishing_phase: { status: "not_started" },
    };
  }
  return { video_status: "processing", uploading_phase: uploaded, processing_phase: { status: "in_progress" }, publishing_phase: { status: "not_started" } };
}

/** The sandbox's context plus the Facebook Page lookups every resource uses. */
export interface Facebook extends SandboxContext {
  pageById(id: string): Promise<PageRow | undefined>;
  pagesOf(ownerId: string): Promise<PageRow[]>;
}

export function facebookContext(ctx: SandboxContext): Facebook {
  return {
    ...ctx,
    pageById: async (id) => {
      const [row] = await ctx.sql<PageRow[]>`select id, owner_id, name, username, tasks from local_sandbox.facebook_pages where id = ${id}`;
      return row;
    },
    pagesOf: (ownerId) =>
      ctx.sql<PageRow[]>`select id, owner_id, name, username, tasks from local_sandbox.facebook_pages where owner_id = ${ownerId} order by position`,
  };
}
