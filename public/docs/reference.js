// Renders the API reference from the OpenAPI document this deployment serves (generated from its route tables).
// Everything stays on this origin: no web fonts, no telemetry, no Scalar proxy or registry.
Scalar.createApiReference("#reference", {
  url: "/api/v1/openapi.json",
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: false,
  showDeveloperTools: "never",
  agent: { disabled: true },
  mcp: { disabled: true },
  persistAuth: false,
  defaultOpenAllTags: false,
  metaData: { title: "Amplify Scheduler API reference" },
});
