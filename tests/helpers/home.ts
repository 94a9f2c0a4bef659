import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, inject } from "vitest";
import { generateSecrets, startLocalHome, type LocalHome, type LocalHomeOptions } from "../../src/local/home.js";
import { checkAgainstDocument } from "./openapi.js";

/** Creates a fresh database for this test file, cloned from the run's migrated template. */
export async function cloneTemplateDatabase(): Promise<string> {
  const serverUrl = inject("pgServerUrl");
  const template = inject("pgTemplate");
  const name = `${template.replace("amplify_template_", "amplify_t_")}_${randomBytes(4).toString("hex")}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name} template ${template}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface CallOptions {
  apiKey?: string;
  token?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface CallResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface TestHome {
  home: LocalHome;
  /** Admin SQL on this file's database (bypasses RLS): for arranging state and checking what was written. */
  sql: postgres.Sql;
  call<T = any>(method: string, path: string, options?: CallOptions): Promise<CallResult<T>>;
  /** A real HTTP request to the home's port (no in-process shortcut), its body parsed as JSON when it is JSON. */
  http<T = any>(path: string, init?: RequestInit): Promise<CallResult<T>>;
}

async function resultOf(res: Response): Promise<CallResult> {
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/**
 * Starts the local home against a fresh database for the current test file and stops it afterwards. It listens on a
 * free port like `npm start` (emulators and sandboxes call each other with real HTTP requests; the queue's deliveries and the sandbox calls go through the home's router in-process); `call` sends requests through
 * the same router in-process (netlify.toml redirects → function modules).
 */
export function useTestHome(options: Omit<LocalHomeOptions, "databaseUrl" | "secrets"> = {}): TestHome {
  const ctx = {} as TestHome;
  beforeAll(async () => {
    const databaseUrl = await cloneTemplateDatabase();
    ctx.home = await startLocalHome({ port: 0, ...options, databaseUrl, secrets: generateSecrets() });
    ctx.sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await ctx.sql?.end({ timeout: 5 });
    await ctx.home?.stop();
  });
  ctx.call = async (method, path, callOptions = {}) => {
    const headers = new Headers(callOptions.headers);
    if (callOptions.apiKey !== undefined) headers.set("x-api-key", callOptions.apiKey);
    if (callOptions.token !== undefined) headers.set("authorization", `Bearer ${callOptions.token}`);
    let body: string | undefined = callOptions.rawBody;
    if (callOptions.body !== undefined) {
      body = JSON.stringify(callOptions.body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    const result = await resultOf(await ctx.home.fetch(new Request(new URL(path, ctx.home.url), { method, headers, body })));
    await checkAgainstDocument(method, path, result); // every answer fits the OpenAPI document (tests/helpers/openapi.ts)
    return result;
  };
  ctx.http = async (path, init = {}) => {
    const result = await resultOf(await fetch(new URL(path, ctx.home.url), init));
    await checkAgainstDocument(init.method ?? "GET", String(path), result);
    return result;
  };
  return ctx;
}
