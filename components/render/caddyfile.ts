import { PUBLIC_PATHS, SERVER_PORT, SERVICE } from "../spec";

export interface CaddySpec {
  readonly hostname: string;
  /** acme: public certificates (Let's Encrypt/ZeroSSL); internal: Caddy's local CA. */
  readonly tls: "acme" | "internal";
  readonly acmeEmail?: string;
  /** host:port of the sync server. */
  readonly upstream?: string;
  /**
   * The HTTPS port clients see, when it differs from the port Caddy listens on (the local
   * stack publishes the container's 443 as 8443). The HTTP→HTTPS redirect keeps it.
   * @default 443
   */
  readonly publicHttpsPort?: number;
  /**
   * Ports Caddy itself listens on (global `http_port`/`https_port`). Only tests change them.
   * @default { http: 80, https: 443 }
   */
  readonly listen?: { readonly http: number; readonly https: number };
  /** Paths forwarded to the server. @default PUBLIC_PATHS */
  readonly publicPaths?: readonly string[];
}

/** HSTS for a year. No `preload`: that is a decision for the domain's owner. */
export const HSTS = "max-age=31536000; includeSubDomains";

/**
 * The Caddyfile in front of the server: automatic HTTPS for the hostname, HSTS, and a
 * health-checked reverse proxy (which passes WebSocket upgrades through) for the public
 * paths only; every other path gets 404 at the edge. The access log redacts `?token=`.
 */
export function renderCaddyfile(spec: CaddySpec): string {
  const upstream = spec.upstream ?? `${SERVICE.server}:${SERVER_PORT}`;
  const paths = spec.publicPaths ?? PUBLIC_PATHS;
  const publicPort = spec.publicHttpsPort ?? 443;
  const listen = spec.listen ?? { http: 80, https: 443 };
  // Caddy's automatic redirect points at its own https_port; when the published port
  // differs, redirect explicitly so the port survives (https://localhost:8443/...).
  const ownRedirect = publicPort !== listen.https;
  const global = [
    ...(spec.acmeEmail && spec.tls === "acme" ? [`\temail ${spec.acmeEmail}`] : []),
    ...(listen.http !== 80 ? [`\thttp_port ${listen.http}`] : []),
    ...(listen.https !== 443 ? [`\thttps_port ${listen.https}`] : []),
    ...(ownRedirect ? ["\tauto_https disable_redirects"] : []),
    // The local CA's root stays in Caddy's storage; never touch the host's trust store.
    ...(spec.tls === "internal" ? ["\tskip_install_trust"] : []),
    // On reload or stop, open requests get 10 s to finish.
    "\tgrace_period 10s",
  ];
  const redirect = ownRedirect ? ["", `http://${spec.hostname} {`, `\tredir https://{host}:${publicPort}{uri} 308`, "}"] : [];
  return [
    "{",
    ...global,
    "}",
    "",
    `${spec.hostname} {`,
    ...(spec.tls === "internal" ? ["\ttls internal"] : []),
    `\theader Strict-Transport-Security "${HSTS}"`,
    "\theader -Server",
    `\t@public path ${paths.join(" ")}`,
    "\thandle @public {",
    `\t\treverse_proxy ${upstream} {`,
    // Active checks on readiness: Caddy stops routing to a server that is not ready.
    "\t\t\thealth_uri /readyz",
    "\t\t\thealth_interval 10s",
    "\t\t\thealth_timeout 3s",
    "\t\t\thealth_status 2xx",
    "\t\t}",
    "\t}",
    "\thandle {",
    "\t\trespond 404",
    "\t}",
    "\tlog {",
    "\t\toutput stdout",
    // The access token may ride in the query string (browsers cannot set WebSocket headers).
    "\t\tformat filter {",
    "\t\t\twrap json",
    "\t\t\tfields {",
    "\t\t\t\trequest>uri query {",
    "\t\t\t\t\treplace token REDACTED",
    "\t\t\t\t}",
    "\t\t\t\trequest>headers>Authorization delete",
    "\t\t\t}",
    "\t\t}",
    "\t}",
    "}",
    ...redirect,
    "",
  ].join("\n");
}
