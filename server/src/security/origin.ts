/**
 * Cross-site WebSocket hijacking defence. Browsers always send Origin on a WebSocket
 * upgrade and a page cannot forge it, so an allowlist stops another site's page from
 * opening a socket with a token it got hold of (or, behind a cookie-authenticating proxy,
 * with the user's cookies). Clients that are not browsers (the CLI, servers, tests) send
 * no Origin; they are not the victims this defends and could forge any header anyway, so
 * a missing Origin is allowed; the token still gates them.
 */
export type OriginPolicy = { readonly any: true } | { readonly any: false; readonly allowed: ReadonlySet<string> };

/** "*" (any origin) or a comma-separated list of origins like "https://app.example.com". */
export function parseOrigins(text: string): OriginPolicy {
  const entries = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (entries.length === 1 && entries[0] === "*") return { any: true };
  if (entries.length === 0) throw new Error(`list at least one origin, or "*" for any`);
  const allowed = new Set<string>();
  for (const entry of entries) {
    let origin: string;
    try {
      origin = new URL(entry).origin;
    } catch {
      throw new Error(`"${entry}" is not an origin; write scheme://host[:port], e.g. https://app.example.com`);
    }
    if (origin === "null" || origin !== entry.replace(/\/$/, "").toLowerCase()) {
      throw new Error(`"${entry}" is not an origin; write scheme://host[:port] with no path, e.g. https://app.example.com`);
    }
    allowed.add(origin);
  }
  return { any: false, allowed };
}

export function originAllowed(policy: OriginPolicy, origin: string | undefined): boolean {
  if (policy.any || origin === undefined) return true;
  return policy.allowed.has(origin.toLowerCase());
}
