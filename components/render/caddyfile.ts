import { SERVER_PORT, SERVICE } from "../spec";

export interface CaddySpec {
  readonly hostname: string;
  /** acme: public certificates (Let's Encrypt/ZeroSSL); internal: Caddy's local CA. */
  readonly tls: "acme" | "internal";
  readonly acmeEmail?: string;
  /** host:port of the sync server. */
  readonly upstream?: string;
}

/**
 * The Caddyfile in front of the server: automatic HTTPS for the hostname, and a
 * reverse proxy (which passes WebSocket upgrades through) to a health-checked upstream.
 */
export function renderCaddyfile(spec: CaddySpec): string {
  const upstream = spec.upstream ?? `${SERVICE.server}:${SERVER_PORT}`;
  const global = [
    ...(spec.acmeEmail && spec.tls === "acme" ? [`\temail ${spec.acmeEmail}`] : []),
    // On reload or stop, open requests get 10 s to finish.
    "\tgrace_period 10s",
  ];
  return [
    "{",
    ...global,
    "}",
    "",
    `${spec.hostname} {`,
    ...(spec.tls === "internal" ? ["\ttls internal"] : []),
    "\treverse_proxy " + upstream + " {",
    // Active checks on readiness: Caddy stops routing to a server that is not ready.
    "\t\thealth_uri /readyz",
    "\t\thealth_interval 10s",
    "\t\thealth_timeout 3s",
    "\t\thealth_status 2xx",
    "\t}",
    "\theader -Server",
    "\tlog {",
    "\t\toutput stdout",
    "\t\tformat json",
    "\t}",
    "}",
    "",
  ].join("\n");
}
