import { route } from "../core/api.js";
import { catalog, platformIds } from "./catalog.js";

// GET /api/v1/platforms — every network's capability contract and constraints (public)
export const platformCatalogHandler = route({
  auth: "none",
  handle: async () => ({ platforms: platformIds.map((id) => catalog[id]) }),
});
