import { describe } from "vitest";
import { useTestHome } from "./helpers/home.js";
import { securitySuite } from "./helpers/security.js";

const t = useTestHome();

describe("every authenticated endpoint refuses what it must", () => {
  securitySuite(t, [
    { method: "GET", path: () => "/api/v1/profiles", auth: "any" },
    { method: "POST", path: () => "/api/v1/profiles", auth: "any", body: () => ({ name: "x" }) },
    { method: "GET", path: (f) => `/api/v1/profiles/${f.profileId}`, auth: "any", ownedResource: true },
    { method: "PATCH", path: (f) => `/api/v1/profiles/${f.profileId}`, auth: "any", body: () => ({ name: "y" }), ownedResource: true },
    { method: "DELETE", path: (f) => `/api/v1/profiles/${f.profileId}`, auth: "any", ownedResource: true },
    { method: "GET", path: () => "/api/v1/api-keys", auth: "any" },
    { method: "POST", path: () => "/api/v1/api-keys", auth: "any", body: (f) => ({ name: "k", profileId: f.profileId }), ownedResource: true },
    { method: "DELETE", path: (f) => `/api/v1/api-keys/${f.keyId}`, auth: "any", ownedResource: true },
    { method: "GET", path: () => "/api/api-keys", auth: "session" },
    { method: "POST", path: () => "/api/api-keys", auth: "session", body: (f) => ({ name: "k", profileId: f.profileId }) },
    { method: "DELETE", path: (f) => `/api/api-keys/${f.keyId}`, auth: "session" },
  ]);
});
