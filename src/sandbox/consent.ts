/**
 * Drives a sandbox consent page the way a browser would: GET the authorize URL (adding the sandbox's own
 * `sandbox_user` / `sandbox_deny` parameters) without following the redirect, and return where it sends the user back
 * to. For tests of anything that connects an account (adapters, the connections API).
 */
export async function followSandboxConsent(
  authorizeUrl: string,
  options: { user?: string; deny?: boolean } = {},
): Promise<{ callback: URL; code: string | null; state: string | null; error: string | null }> {
  const url = new URL(authorizeUrl);
  if (options.user) url.searchParams.set("sandbox_user", options.user);
  if (options.deny) url.searchParams.set("sandbox_deny", "1");
  const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
  const location = res.headers.get("location");
  if (res.status !== 302 || !location) {
    throw new Error(`sandbox consent answered ${res.status} without a redirect: ${(await res.text()).slice(0, 300)}`);
  }
  const callback = new URL(location);
  const q = callback.searchParams;
  return { callback, code: q.get("code"), state: q.get("state"), error: q.get("error") };
}
