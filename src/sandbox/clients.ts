/**
 * The OAuth clients registered with the sandbox platforms, as an app registration on each network's developer portal
 * would be. The platform registry uses these when PLATFORM_SANDBOX_URL is set, so the local home needs no network
 * credentials. They are not secrets: the sandbox only ever runs locally or in test mode.
 */
export const sandboxClients = {
  twitter: { clientId: "amplify-local-twitter", clientSecret: "amplify-local-twitter-secret" },
  linkedin: { clientId: "amplify-local-linkedin", clientSecret: "amplify-local-linkedin-secret" },
} as const;

export type SandboxNetwork = keyof typeof sandboxClients;
