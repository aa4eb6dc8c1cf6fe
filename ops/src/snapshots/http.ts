import { SnapshotListError } from "./types";

/**
 * GET a JSON document with a bearer token. The token goes only to `base`'s origin: a
 * next-page link is read for its query alone and re-issued against `base` (a response
 * naming another host cannot collect the token).
 */
export async function getJson(base: string, pathAndQuery: string, token: string, what: string): Promise<unknown> {
  const url = new URL(pathAndQuery, base.endsWith("/") ? base : `${base}/`);
  if (url.origin !== new URL(base).origin) throw new SnapshotListError(`${what}: refusing to send the token to ${url.origin}`);
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" }, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (!res.ok) {
    const hint = res.status === 401 || res.status === 403 ? " (check the token and its scopes)" : "";
    throw new SnapshotListError(`${what}: HTTP ${res.status}${hint}: ${text.slice(0, 300)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SnapshotListError(`${what}: the answer is not JSON: ${text.slice(0, 100)}`);
  }
}

/** `url`'s path and query, relative to `base`'s path (so a base with a path prefix keeps it). */
export function relativeTo(base: string, url: string): string {
  const target = new URL(url, base);
  const prefix = new URL(base).pathname.replace(/\/$/, "");
  const path = target.pathname.startsWith(prefix) ? target.pathname.slice(prefix.length) : target.pathname;
  return `${path.replace(/^\//, "")}${target.search}`;
}
