/**
 * The OAuth clients registered with the sandbox platforms, as an app registration on each network's developer portal
 * would be. The local home hands these to the adapters (src/local/platforms.ts), so it needs no network
 * credentials. They are not secrets: the sandbox only ever runs locally or in test mode.
 */
export const sandboxClients = {
  twitter: { clientId: "amplify-local-twitter", clientSecret: "amplify-local-twitter-secret" },
  linkedin: { clientId: "amplify-local-linkedin", clientSecret: "amplify-local-linkedin-secret" },
  instagram: { clientId: "amplify-local-instagram", clientSecret: "amplify-local-instagram-secret" },
  facebook: { clientId: "amplify-local-facebook", clientSecret: "amplify-local-facebook-secret" },
  threads: { clientId: "amplify-local-threads", clientSecret: "amplify-local-threads-secret" },
  tiktok: { clientId: "amplify-local-tiktok", clientSecret: "amplify-local-tiktok-secret" },
  youtube: { clientId: "amplify-local-youtube.apps.googleusercontent.com", clientSecret: "amplify-local-youtube-secret" },
  pinterest: { clientId: "amplify-local-pinterest", clientSecret: "amplify-local-pinterest-secret" },
  reddit: { clientId: "amplify-local-reddit", clientSecret: "amplify-local-reddit-secret" },
  // Bluesky has no OAuth client: users sign in with an app password. The entry only completes the registry's config.
  bluesky: { clientId: "amplify-local-bluesky", clientSecret: "unused" },
} as const;

export type SandboxNetwork = keyof typeof sandboxClients;

/** The clients a sandbox network accepts, by client id: the one registered for it above. */
export function registeredClients(network: SandboxNetwork): ReadonlyMap<string, { clientId: string; clientSecret: string }> {
  const client = sandboxClients[network];
  return new Map([[client.clientId, client]]);
}
