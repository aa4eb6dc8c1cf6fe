import { ENV_FILE_UNSAFE } from "../config";
import { CONTAINER_LIMITS, SERVER_PORT, SERVER_STOP_SECONDS, SERVICE, STACK_DIR, VOLUME_DIRS } from "../spec";

export interface ComposeSpec {
  /** The server image, by digest: `repo@sha256:…`. */
  readonly image: string;
  readonly caddyImage: string;
  /** Non-secret server environment. */
  readonly environment: Readonly<Record<string, string>>;
  /** The 0600 env file holding the token (on the VM: /etc/sync/server.env). */
  readonly envFile: string;
  readonly caddyfile: string;
  /** Host directories for the server's data, backups and Caddy's certificates. */
  readonly dirs?: { readonly data: string; readonly backups: string; readonly caddy: string };
  readonly ports?: { readonly http: number; readonly https: number };
}

const healthcheck = {
  test: ["CMD", "node", "-e", `fetch('http://127.0.0.1:${SERVER_PORT}/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
  interval: "10s",
  timeout: "3s",
  retries: 3,
  start_period: "30s",
};

const logging = { driver: "json-file", options: { "max-size": "10m", "max-file": "5" } };

/**
 * Least privilege for both containers: an immutable root filesystem (writes go to the
 * volume or a small tmpfs), no privilege gain through setuid/file capabilities, no
 * capabilities at all unless listed, and memory/pids ceilings so a runaway process
 * cannot take the VM down with it.
 */
function hardening(limits: { readonly memory: string; readonly pids: number }, capAdd: readonly string[] = []) {
  return {
    read_only: true,
    security_opt: ["no-new-privileges:true"],
    cap_drop: ["ALL"],
    ...(capAdd.length > 0 ? { cap_add: [...capAdd] } : {}),
    mem_limit: limits.memory,
    pids_limit: limits.pids,
  };
}

/**
 * The compose project every VM runs: the server and Caddy in front of it. Pure: plain
 * values in, a plain object out (serialized with `toYaml`). Compose file format 2.4
 * features only, so Debian's docker-compose and the compose plugin both run it.
 */
export function renderCompose(spec: ComposeSpec): Record<string, unknown> {
  const dirs = spec.dirs ?? VOLUME_DIRS;
  const ports = spec.ports ?? { http: 80, https: 443 };
  return {
    version: "2.4",
    services: {
      [SERVICE.server]: {
        image: spec.image,
        restart: "unless-stopped",
        env_file: [spec.envFile],
        environment: { ...spec.environment },
        volumes: [`${dirs.data}:/data`, `${dirs.backups}:/data/backups`],
        expose: [String(SERVER_PORT)],
        ...hardening(CONTAINER_LIMITS.server),
        tmpfs: ["/tmp:size=64m,mode=1777"],
        healthcheck,
        stop_signal: "SIGTERM",
        // The server drains within 30 s (SYNC_SHUTDOWN_TIMEOUT); give it that before SIGKILL.
        stop_grace_period: `${SERVER_STOP_SECONDS}s`,
        logging,
      },
      [SERVICE.proxy]: {
        image: spec.caddyImage,
        restart: "unless-stopped",
        // TCP only: Caddy's HTTP/3 (UDP 443) is neither published nor opened in any firewall.
        ports: [`${ports.http}:80`, `${ports.https}:443`],
        volumes: [`${spec.caddyfile}:/etc/caddy/Caddyfile:ro`, `${dirs.caddy}:/data`],
        // Caddy binds 80/443 and needs nothing else.
        ...hardening(CONTAINER_LIMITS.proxy, ["NET_BIND_SERVICE"]),
        // Caddy autosaves its running config under /config; keep it in memory.
        tmpfs: ["/config:size=16m", "/tmp:size=16m,mode=1777"],
        depends_on: { [SERVICE.server]: { condition: "service_started" } },
        stop_grace_period: "10s",
        logging,
      },
    },
  };
}

export const COMPOSE_FILE = `${STACK_DIR}/compose.yaml`;
export const CADDYFILE = `${STACK_DIR}/Caddyfile`;
export const ENV_FILE = `${STACK_DIR}/server.env`;

/**
 * A KEY=value env file for compose's env_file. Values are written unquoted, which compose
 * v1 and v2 read alike only without ENV_FILE_UNSAFE's characters: such a value is refused
 * here, never passed on changed. What reaches it is generated tokens and the jwtSecret,
 * which the config already holds to the same rule.
 */
export function renderEnvFile(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      if (ENV_FILE_UNSAFE.test(v)) throw new Error(`${k} holds a character the env file would change ($, #, a quote, a backslash or whitespace)`);
      return `${k}=${v}\n`;
    })
    .join("");
}
