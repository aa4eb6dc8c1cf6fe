import type { IncomingMessage } from "node:http";

/**
 * The request-target as a URL, or null. Node's HTTP parser accepts targets that the
 * WHATWG URL parser refuses ("//[" throws "Invalid URL"): parsed unguarded, one such
 * request, with no token, threw out of the request and upgrade handlers and ended the
 * process. Every handler reads the target through here and answers 400 on null.
 */
export function requestUrl(req: IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? "/", "http://localhost");
  } catch {
    return null;
  }
}
