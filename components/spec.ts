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

/** Tag that marks the data volume for the snapshot schedule. */
export const SNAPSHOT_TAG = "sync-snapshot";

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

/** Secrets for the server, kept out of the compose file (they go in a 0600 env file). */
export function serverSecrets(token: string, jwtSecret: string | undefined): Record<string, string> {
  return { SYNC_TOKEN: token, ...(jwtSecret ? { SYNC_JWT_SECRET: jwtSecret } : {}) };
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
