import type http from "node:http";
import { Readable } from "node:stream";

/**
 * node:http's request as a Fetch `Request` for the local server, built in full only when something reads more than
 * its method, URL and headers.
 *
 * Constructing Node's (undici's) `Request` costs a parsed URL, an AbortController with its signal and, for a body, a
 * web stream: in `npm run bench` that was about 5 % of the server's CPU per API call, and most calls are GETs
 * whose functions read only the method, the URL and a few headers. So the object handed to a function answers those
 * three itself and, on the first use of anything else (the body and its readers, `signal`, `clone()`, …), builds the
 * real `Request` once and answers from it. Its prototype chain runs through `Request.prototype`, so `instanceof
 * Request` holds, and every property of `Request` is answered. Hono's Node adapter does the same.
 */
interface Light {
  readonly [STATE]: LightState;
}

interface LightState {
  method: string;
  url: string;
  headers: Headers;
  incoming: http.IncomingMessage;
  real?: Request;
}

const STATE = Symbol("amplify.lightRequest");

/** The real `Request`, built on first need: the same method, URL and headers, and the incoming body as a stream. */
function realOf(light: Light): Request {
  const state = light[STATE];
  if (!state.real) {
    const hasBody = state.method !== "GET" && state.method !== "HEAD";
    state.real = new Request(state.url, {
      method: state.method,
      headers: state.headers,
      body: hasBody ? (Readable.toWeb(state.incoming) as ReadableStream<Uint8Array>) : undefined,
      // @ts-expect-error Node's fetch needs duplex for streamed request bodies.
      duplex: "half",
    });
  }
  return state.real;
}

const prototype: object = Object.create(Request.prototype, {
  method: { get(this: Light) { return this[STATE].method; }, enumerable: true },
  url: { get(this: Light) { return this[STATE].url; }, enumerable: true },
  headers: { get(this: Light) { return this[STATE].headers; }, enumerable: true },
});
for (const name of Object.getOwnPropertyNames(Request.prototype)) {
  if (name === "constructor" || name in Object.getOwnPropertyDescriptors(prototype)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, name)!;
  if (typeof descriptor.value === "function") {
    Object.defineProperty(prototype, name, {
      value(this: Light, ...args: unknown[]) {
        const real = realOf(this) as unknown as Record<string, (...a: unknown[]) => unknown>;
        return real[name]!(...args);
      },
      writable: true,
      configurable: true,
    });
  } else if (descriptor.get) {
    Object.defineProperty(prototype, name, {
      get(this: Light) {
        return (realOf(this) as unknown as Record<string, unknown>)[name];
      },
      enumerable: descriptor.enumerable ?? false,
      configurable: true,
    });
  }
}

/** The `Request` for an incoming node:http request, as the function sees it at `origin` (`http://<Host>`). */
export function incomingRequest(incoming: http.IncomingMessage, origin: string): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(incoming.headers)) {
    if (Array.isArray(v)) v.forEach((item) => headers.append(k, item));
    else if (v !== undefined) headers.set(k, v);
  }
  // Parsed as the real Request would parse it, so the URL a function reads is the same normalised href.
  const url = new URL(incoming.url ?? "/", origin).href;
  const state: LightState = { method: incoming.method ?? "GET", url, headers, incoming };
  return Object.create(prototype, { [STATE]: { value: state } }) as Request;
}
