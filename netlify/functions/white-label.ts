import { api } from "../../src/core/api.js";
import { connectPage, isConnectPagePath } from "../../src/white-label/connect-pages.js";
import { whiteLabelRoutes } from "../../src/white-label/handlers.js";

const routes = api([...whiteLabelRoutes]);

/** The white-label API, and the hosted connect pages in the profile's branding (`/connect/<platform>/handoff|done`). */
export default Object.assign(
  (req: Request, context?: unknown): Promise<Response> =>
    isConnectPagePath(new URL(req.url).pathname) ? connectPage(req) : routes(req, context),
  { routes: routes.routes, auth: routes.auth, table: routes.table },
);
