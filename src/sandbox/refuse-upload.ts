/**
 * Answers an upload request the sandbox refuses before reading its body. The body is read and thrown away first
 * (up to `maxBytes`), because the local server cannot reuse a keep-alive connection whose request body was left
 * unread: the client's next request on it would fail with ECONNRESET. A real network answers such uploads the same
 * way (an error after the body), so clients see no difference.
 */
export async function refuseUpload(req: Request, response: Response, maxBytes = 256 * 1024 * 1024): Promise<Response> {
  if (!req.body || req.bodyUsed) return response;
  const reader = req.body.getReader();
  let read = 0;
  try {
    while (read <= maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      read += value.byteLength;
    }
  } catch {
    // The client went away: nothing left to drain.
  } finally {
    await reader.cancel().catch(() => {});
  }
  return response;
}
