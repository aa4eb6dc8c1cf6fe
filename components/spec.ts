import { createHash } from "node:crypto";
import type { StackConfig } from "./config";

/** Where the block volume is mounted on every VM, and its layout. */
export const MOUNT = "/mnt/sync";
export const VOLUME_DIRS = { data: `${MOUNT}/data`, backups: `${MOUNT}/backups`, caddy: `${MOUNT}/caddy` } as const;
/** Where cloud-init puts the stack's files on the VM. */
export const STACK_DIR = "/etc/sync";
/** The server's uid in its image (the official node image's "node" user). */
export const SERVER_UID = 1000;
export const SERVER_PORT = 8080;
/** Compose service names, which are also the hostnames on the compose network. */
export const SERVICE = { server: "sync", proxy: "caddy" } as const;
/**
 * Stop order: the server first, so it drains and clients get its 1012 "restart" close
 * through the proxy; a proxy stopped first would cut them off with its own 1001.
 */
export const STOP_ORDER = [SERVICE.server, SERVICE.proxy] as const;
/** Seconds the server gets between SIGTERM and SIGKILL (its own drain limit is 30 s). */
export const SERVER_STOP_SECONDS = 30;

/**
 * Tag (label) key that marks the data volume for the snapshot schedule. Its value is the
 * stack-unique prefix, so one stack's schedule never snapshots another stack's volume.
 */
export const SNAPSHOT_TAG = "sync-snapshot";

/**
 * The only paths Caddy forwards to the server; everything else gets 404 at the edge.
 * `/metrics` and `/readyz` stay on the private network. `/admin/*` is the operator's
 * endpoint family (status, backups, restore), which the server answers only with the
 * admin token (SYNC_ADMIN_TOKEN); `/admin` itself and anything outside these stay 404.
 */
export const PUBLIC_PATHS = ["/ws", "/healthz", "/admin/*"] as const;

/** Resource limits per container (compose `mem_limit`/`pids_limit`). */
export const CONTAINER_LIMITS = {
  server: { memory: "1g", pids: 256 },
  proxy: { memory: "256m", pids: 128 },
} as const;

/** The cloud metadata service, which containers must not reach (it serves the VM's identity and user data). */
export const METADATA_ADDRESS = "169.254.169.254";

/**
 * A stack-unique, provider-safe name prefix: lowercase letters, digits and dashes,
 * starting with a letter. Every cloud name and tag derives from it, so two stacks in one
 * account/project never collide.
 */
export function stackPrefix(stack: string, name: string): string {
  const raw = `${stack}-${name}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-+|-+$/g, "");
  return /^[a-z]/.test(raw) ? raw : `s-${raw}`;
}

/**
 * `base` cut to at most `max` characters, still unique: a long base keeps its head and
 * gains a 6-hex hash of the whole, so two long stack names do not map to one name.
 * The result ends in a letter or digit (RFC 1035 style names require it).
 */
export function shortName(base: string, max: number): string {
  if (base.length <= max) return base;
  const hash = createHash("sha256").update(base).digest("hex").slice(0, 6);
  return `${base.slice(0, max - 7).replace(/-+$/, "")}-${hash}`;
}

/** The server's environment, minus secrets, derived from the stack config. */
export function serverEnvironment(cfg: StackConfig, build: string): Record<string, string> {
  return {
    SYNC_DATA_DIR: "/data",
    SYNC_PORT: String(SERVER_PORT),
    SYNC_BUILD: build,
    SYNC_BACKUP_INTERVAL: cfg.backupInterval,
    SYNC_BACKUP_KEEP: String(cfg.backupKeep),
    // The server wants sizes with a unit (a bare number is refused).
    SYNC_MAX_FRAME_BYTES: `${cfg.limits.maxFrameBytes}B`,
    SYNC_MAX_TX_DATOMS: String(cfg.limits.maxTxDatoms),
    SYNC_MAX_CONNECTIONS: String(cfg.limits.maxConnections),
    SYNC_RATE_LIMIT: String(cfg.limits.rateLimit),
  };
}

/**
 * Secrets for the server, kept out of the compose file (they go in a 0600 env file).
 * `adminToken` opens the `/admin/*` endpoints; every stack generates its own.
 */
export function serverSecrets(token: string, jwtSecret: string | undefined, adminToken?: string): Record<string, string> {
  return { SYNC_TOKEN: token, ...(adminToken ? { SYNC_ADMIN_TOKEN: adminToken } : {}), ...(jwtSecret ? { SYNC_JWT_SECRET: jwtSecret } : {}) };
}

/**
 * The public hostname: the configured domain, or `<ip>.sslip.io`, which resolves to
 * the IP without any DNS setup, so Let's Encrypt can still issue a certificate.
 */
export function hostname(cfg: Pick<StackConfig, "domain">, ip: string): string {
  return cfg.domain ?? `${ip.replace(/\./g, "-")}.sslip.io`;
}

export function websocketUrl(host: string, httpsPort = 443): string {
  return `wss://${host}${httpsPort === 443 ? "" : `:${httpsPort}`}/ws`;
}

/** Snapshot cadence in provider-neutral terms. */
export function snapshotEveryHours(cfg: Pick<StackConfig, "snapshotSchedule">): number {
  return cfg.snapshotSchedule === "hourly" ? 1 : 24;
}

/** A registry login for the VM: a docker config.json to install, or a command run before each start. */
export type RegistryAuth =
  | { readonly kind: "none" }
  | { readonly kind: "docker-config"; readonly json: string }
  | { readonly kind: "credential-helper"; readonly registry: string; readonly helper: string; readonly package: string }
  | { readonly kind: "login-command"; readonly command: string };
