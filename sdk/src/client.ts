import createFetchClient, { type Client, type FetchResponse, type MaybeOptionalInit, type Middleware } from "openapi-fetch";
import type { HttpMethod, PathsWithMethod, RequiredKeysOf } from "openapi-typescript-helpers";
import { AmplifyError, errorFromResponse } from "./errors.js";
import { retryingFetch, type RetryOptions } from "./retry.js";
import type { paths } from "./schema.js";

export type { paths };

export interface AmplifyClientOptions extends RetryOptions {
  /** The deployment's origin, e.g. `https://your-site.netlify.app` or `http://localhost:8888`. */
  baseUrl: string;
  /** An API key (`X-API-Key`; paid plans): acts on its own profile. */
  apiKey?: string;
  /** A signed-in session's access token (`Authorization: Bearer`), or a function returning a fresh one. */
  accessToken?: string | (() => string | Promise<string>);
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
}

type InitParam<Init> = RequiredKeysOf<Init> extends never ? [(Init & { [key: string]: unknown })?] : [Init & { [key: string]: unknown }];

/** A method that resolves to the success body, typed from the document, and throws AmplifyError otherwise. */
export type DataMethod<M extends HttpMethod> = <Path extends PathsWithMethod<paths, M>, Init extends MaybeOptionalInit<paths[Path], M>>(
  url: Path,
  ...init: InitParam<Init>
) => Promise<NonNullable<FetchResponse<paths[Path][M] & Record<string | number, any>, Init, `${string}/${string}`>["data"]>>;

/** The items of a paginated answer: the element type of its array field. */
type ItemOf<D> = { [K in keyof D]: D[K] extends readonly (infer I)[] ? I : never }[keyof D];

/** GET paths whose operation takes a `cursor` query parameter and answers a `nextCursor`. */
export type PaginatedPath = {
  [P in PathsWithMethod<paths, "get">]: paths[P]["get"] extends { parameters: { query?: { cursor?: unknown } }; responses: { 200: { content: { "application/json": { nextCursor: unknown } } } } }
    ? P
    : never;
}[PathsWithMethod<paths, "get">];

export interface AmplifyClient {
  GET: DataMethod<"get">;
  POST: DataMethod<"post">;
  PATCH: DataMethod<"patch">;
  PUT: DataMethod<"put">;
  DELETE: DataMethod<"delete">;
  /**
   * Every item of a paginated list, page after page (following `nextCursor`), as an async iterator:
   * `for await (const post of client.paginate("/api/v1/posts", { params: { query: { limit: 50 } } })) …`
   */
  paginate<Path extends PaginatedPath, Init extends MaybeOptionalInit<paths[Path], "get">>(
    url: Path,
    ...init: InitParam<Init>
  ): AsyncGenerator<ItemOf<NonNullable<FetchResponse<paths[Path]["get"] & Record<string | number, any>, Init, `${string}/${string}`>["data"]>>>;
  /** The underlying openapi-fetch client (answers `{ data, error, response }` instead of throwing). */
  raw: Client<paths>;
}

const newKey = () => globalThis.crypto.randomUUID();

/**
 * A client for the Amplify Scheduler API: API-key or session auth, 429/5xx retried honouring Retry-After, an
 * Idempotency-Key generated for each POST /api/v1/post unless you give one, AmplifyError (with `code` and `requestId`)
 * for every failure, and `paginate` for lists.
 */
export function createAmplifyClient(options: AmplifyClientOptions): AmplifyClient {
  const inner = options.fetch ?? globalThis.fetch.bind(globalThis);
  const raw = createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: retryingFetch(inner, options),
    headers: options.headers,
  });
  const auth: Middleware = {
    async onRequest({ request }) {
      if (options.apiKey !== undefined && !request.headers.has("x-api-key")) request.headers.set("x-api-key", options.apiKey);
      if (options.accessToken !== undefined && !request.headers.has("authorization")) {
        const token = typeof options.accessToken === "function" ? await options.accessToken() : options.accessToken;
        request.headers.set("authorization", `Bearer ${token}`);
      }
      if (request.method === "POST" && new URL(request.url).pathname.replace(/\/+$/, "").endsWith("/api/v1/post") && !request.headers.has("idempotency-key")) {
        request.headers.set("idempotency-key", newKey());
      }
      return request;
    },
  };
  raw.use(auth);

  const call =
    (method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE") =>
    async (url: string, init?: Record<string, unknown>): Promise<unknown> => {
      let result: { data?: unknown; error?: unknown; response: Response };
      try {
        result = await (raw[method] as (u: string, i?: unknown) => Promise<typeof result>)(url, init);
      } catch (error) {
        throw new AmplifyError({ status: 0, code: "network_error", message: `${method} ${url} failed: ${error instanceof Error ? error.message : String(error)}`, cause: error });
      }
      if (!result.response.ok) throw errorFromResponse(result.response, result.error);
      return result.data;
    };

  const GET = call("GET");
  async function* paginate(url: string, init: { params?: { query?: Record<string, unknown> } } & Record<string, unknown> = {}) {
    let cursor: string | null | undefined;
    do {
      const query = { ...(init.params?.query ?? {}), ...(cursor ? { cursor } : {}) };
      const page = (await GET(url, { ...init, params: { ...(init.params ?? {}), query } })) as Record<string, unknown>;
      const items = Object.values(page).find(Array.isArray) as unknown[] | undefined;
      for (const item of items ?? []) yield item;
      cursor = typeof page.nextCursor === "string" ? page.nextCursor : null;
    } while (cursor);
  }

  return {
    GET: GET as DataMethod<"get">,
    POST: call("POST") as DataMethod<"post">,
    PATCH: call("PATCH") as DataMethod<"patch">,
    PUT: call("PUT") as DataMethod<"put">,
    DELETE: call("DELETE") as DataMethod<"delete">,
    paginate: paginate as AmplifyClient["paginate"],
    raw,
  };
}
