import { route } from "../core/api.js";
import { catalog, platformIds } from "./catalog.js";
import { platformCatalogResponse } from "./schemas.js";

// Every network's capability contract and constraints (public)
export const platformCatalogRoute = route("GET /api/v1/platforms", {
  auth: "none",
  response: platformCatalogResponse,
  handle: async () => ({ platforms: platformIds.map((id) => catalog[id]) }),
});
