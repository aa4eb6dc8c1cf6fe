import path from "node:path";
import fs from "node:fs";
import { z } from "zod";
import { CidrSet } from "./security/cidr";
import { type OriginPolicy, parseOrigins } from "./security/origin";

/**
 * Server configuration, read once from the environment and frozen.
 * Every key is documented in the repository README ("Server environment").
 */
export interface Config {
  /** Build label (SYNC_BUILD), e.g. the image tag. */
  readonly build: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** Shared access token every connection must present; null only with insecureNoAuth. */
  readonly token: string | null;
  readonly insecureNoAuth: boolean;
  /** HS256 secret; when set, hello must carry a JWT whose `sub` becomes the name. */
  readonly jwtSecret: string | null;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  readonly limits: Limits;
  readonly snapshotEvery: number;
  readonly logRetain: number;
  readonly backupIntervalMs: number;
  readonly backupKeep: number;
  readonly heartbeatMs: number;
  readonly shutdownTimeoutMs: number;
  /** An fsync of the log running this long makes /readyz answer 503 storage_stalled (SYNC_FSYNC_STALL). */
  readonly fsyncStallMs: number;
  /** Directory of the demo outliner served at /; null when SYNC_DEMO is off. */
  readonly demoDir: string | null;
  /** Presence changes are coalesced and sent at most this often. */
  readonly presenceIntervalMs: number;
  readonly queries: QueryConfig;
  readonly security: SecurityConfig;
  readonly admin: AdminConfig;
}

/** The admin API (src/admin/), off unless SYNC_ADMIN_TOKEN is set. */
export interface AdminConfig {
  /** Bearer token for /admin/...; null: the admin API answers 404. */
  readonly token: string | null;
  /** Largest backup POST /admin/restore accepts. */
  readonly maxUploadBytes: number;
  /** An upload that takes longer than this is cut off (408) and nothing changes. */
  readonly uploadTimeoutMs: number;
}

/** The query worker pool (src/query/). The time limit is limits.queryTimeoutMs. */
export interface QueryConfig {
  /** Worker threads; each holds its own copy of the db. */
  readonly workers: number;
  /** Heap limit per worker, in bytes: the db copy plus the biggest query's working set. */
  readonly memoryBytes: number;
  readonly maxRows: number;
  readonly maxResultBytes: number;
}

/** Limits on what an unauthenticated peer or one token holder can consume. README: "Security model". */
export interface SecurityConfig {
  readonly helloTimeoutMs: number;
  /** Sockets that passed the upgrade but have not said hello yet; the oldest is closed past it. */
  readonly maxPreHello: number;
  readonly maxConnectionsPerIp: number;
  readonly trustedProxies: CidrSet;
  readonly allowedOrigins: OriginPolicy;
  readonly bytesPerMinute: number;
  /** 0: off. */
  readonly maxDbBytes: number;
  /** 0: off. */
  readonly minFreeBytes: number;
  readonly jwtAudience: string | null;
  readonly jwtIssuer: string | null;
}

export interface Limits {
  readonly maxFrameBytes: number;
  readonly maxTxDatoms: number;
  readonly maxConnections: number;
  readonly messagesPerSecond: number;
  readonly queryTimeoutMs: number;
  /** A client whose unsent bytes pass this is closed with 1013 (it resumes with `since`). */
  readonly maxBufferedBytes: number;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE = /^(\d+)(b|kib|mib|gib|kb|mb|gb)$/;
const UNIT_BYTES: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3 };

/**
 * Parses "500ms", "90s", "15m", "6h" or "1d"; "0" and "off" disable. A bare number is
 * refused: it was once read as seconds while the README said milliseconds, so a
 * duration always carries its unit.
 */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "off" || trimmed === "0") return 0;
  const match = DURATION.exec(trimmed);
  if (!match) return null;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Parses "512KiB", "4MiB", "1GiB" (or KB/MB/GB, powers of 1000, or B); a bare number is refused. */
export function parseSize(text: string): number | null {
  const match = SIZE.exec(text.trim().toLowerCase());
  return match ? Number(match[1]) * UNIT_BYTES[match[2]!]! : null;
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** A duration with a unit, in ms. Defaults are written as the text a user would write. */
export const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === null) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a duration with a unit; write e.g. 500ms, 30s, 15m, 6h, 1d (or 0/off to disable)` });
    return z.NEVER;
  }
  return ms;
});
/** A size with a unit, in bytes. */
export const size = z.string().transform((text, ctx) => {
  const bytes = parseSize(text);
  if (bytes === null) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a size with a unit; write e.g. 512KiB, 4MiB, 1GiB` });
    return z.NEVER;
  }
  return bytes;
});
/** Where a build of this checkout puts the demo page: from server/dist/server/src, the repo's client/dist/demo. */
const DEFAULT_DEMO_DIR = path.resolve(__dirname, "..", "..", "..", "..", "client", "dist", "demo");

/** A size, or 0/off. */
const sizeOrOff = z.string().transform((text, ctx) => {
  const t = text.trim().toLowerCase();
  if (t === "0" || t === "off") return 0;
  const bytes = parseSize(t);
  if (bytes === null) {
    ctx.addIssue({ code: "custom", message: `"${text}" is not a size with a unit; write e.g. 512MiB, 10GiB, or off` });
    return z.NEVER;
  }
  return bytes;
});
const cidrs = z.string().transform((text, ctx) => {
  try {
    return new CidrSet(text.split(",").map((s) => s.trim()).filter((s) => s.length > 0));
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `${(err as Error).message}; write a comma-separated list like 127.0.0.1/32,172.16.0.0/12` });
    return z.NEVER;
  }
});
const origins = z.string().transform((text, ctx) => {
  try {
    return parseOrigins(text);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});
const flag = z.enum(["0", "1", "true", "false"]).transform((v) => v === "1" || v === "true");

// Strict: an unknown SYNC_* variable is almost always a typo of a real one.
const EnvSchema = z.strictObject({
  /** Build label baked into the image; reported in logs and /readyz. */
  SYNC_BUILD: z.string().optional(),
  SYNC_HOST: z.string().min(1).default("0.0.0.0"),
  SYNC_PORT: int(0, 65535).default(8080),
  SYNC_DATA_DIR: z.string().min(1).default("./data"),
  SYNC_TOKEN: z.string().min(16, "must be at least 16 characters; generate one with `openssl rand -hex 32`").optional(),
  SYNC_INSECURE_NO_AUTH: flag.default(false),
  SYNC_JWT_SECRET: z.string().min(32, "must be at least 32 characters for HS256").optional(),
  SYNC_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  SYNC_MAX_FRAME_BYTES: size.prefault("1MiB").pipe(z.number().min(1024, "must be at least 1KiB").max(64 * 1024 ** 2, "must be at most 64MiB")),
  SYNC_MAX_TX_DATOMS: int(1, 1_000_000).default(10_000),
  SYNC_MAX_CONNECTIONS: int(1, 1_000_000).default(1000),
  SYNC_RATE_LIMIT: int(1, 1_000_000).default(200),
  SYNC_QUERY_TIMEOUT: duration.prefault("2s").pipe(z.number().min(1, "must be above 0")),
  SYNC_SNAPSHOT_EVERY: int(1, 10_000_000).default(1000),
  SYNC_LOG_RETAIN: int(0, 100_000_000).default(10_000),
  SYNC_BACKUP_INTERVAL: duration.prefault("6h"),
  SYNC_BACKUP_KEEP: int(1, 10_000).default(7),
  SYNC_HEARTBEAT: duration.prefault("30s").pipe(z.number().min(100, "must be at least 100ms")),
  SYNC_SHUTDOWN_TIMEOUT: duration.prefault("30s"),
  SYNC_FSYNC_STALL: duration.prefault("10s").pipe(z.number().min(100, "must be at least 100ms")),
  SYNC_DEMO: flag.default(false),
  SYNC_DEMO_DIR: z.string().min(1).optional(),
  SYNC_QUERY_WORKERS: int(1, 16).default(1),
  SYNC_QUERY_MEMORY: size.prefault("1GiB").pipe(z.number().min(64 * 1024 ** 2, "must be at least 64MiB")),
  SYNC_QUERY_MAX_ROWS: int(1, 10_000_000).default(10_000),
  SYNC_QUERY_MAX_RESULT_BYTES: size.prefault("4MiB").pipe(z.number().min(1024, "must be at least 1KiB")),
  SYNC_MAX_BUFFERED_BYTES: size.prefault("4MiB").pipe(z.number().min(64 * 1024, "must be at least 64KiB").max(1024 ** 3, "must be at most 1GiB")),
  SYNC_PRESENCE_INTERVAL: duration.prefault("50ms").pipe(z.number().min(10, "must be at least 10ms").max(10_000, "must be at most 10s")),
  SYNC_HELLO_TIMEOUT: duration.prefault("10s").pipe(z.number().min(100, "must be at least 100ms")),
  SYNC_MAX_PRE_HELLO_CONNECTIONS: int(1, 1_000_000).default(256),
  SYNC_MAX_CONNECTIONS_PER_IP: int(1, 1_000_000).default(100),
  // Loopback and Docker's default bridge pool: where Caddy reaches the server from in the compose stack.
  SYNC_TRUSTED_PROXIES: cidrs.prefault("127.0.0.0/8,::1,172.16.0.0/12"),
  SYNC_ALLOWED_ORIGINS: origins.prefault("*"),
  SYNC_BYTES_PER_MINUTE: size.prefault("64MiB"),
  SYNC_MAX_DB_BYTES: sizeOrOff.prefault("off"),
  SYNC_MIN_FREE_SPACE: sizeOrOff.prefault("128MiB"),
  SYNC_JWT_AUDIENCE: z.string().min(1).optional(),
  SYNC_JWT_ISSUER: z.string().min(1).optional(),
  SYNC_ADMIN_TOKEN: z.string().min(32, "must be at least 32 characters; generate one with `openssl rand -hex 32`").optional(),
  SYNC_ADMIN_MAX_UPLOAD: size.prefault("4GiB").pipe(z.number().min(64 * 1024, "must be at least 64KiB")),
  SYNC_ADMIN_UPLOAD_TIMEOUT: duration.prefault("30m").pipe(z.number().min(100, "must be at least 100ms")),
});

/**
 * Parses the environment into a frozen Config. Throws ConfigError naming every bad
 * variable and how to fix it, so boot stops before the data dir is touched.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const relevant = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith("SYNC_") && v !== ""));
  const parsed = EnvSchema.safeParse(relevant);
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap((issue) =>
      issue.code === "unrecognized_keys"
        ? issue.keys.map((key) => `  ${key}: unknown variable; check the spelling against the README`)
        : [`  ${String(issue.path[0] ?? "env")}: ${issue.message}`],
    );
    throw new ConfigError(`invalid server configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  if (!e.SYNC_TOKEN && !e.SYNC_INSECURE_NO_AUTH) {
    throw new ConfigError(
      "invalid server configuration:\n  SYNC_TOKEN: is required; set it to a long random secret, or set SYNC_INSECURE_NO_AUTH=1 for a local, trusted network only",
    );
  }
  const demoDir = e.SYNC_DEMO ? path.resolve(e.SYNC_DEMO_DIR ?? DEFAULT_DEMO_DIR) : null;
  if (demoDir !== null && !fs.existsSync(path.join(demoDir, "index.html"))) {
    throw new ConfigError(
      `invalid server configuration:\n  SYNC_DEMO_DIR: no index.html in ${demoDir}; build the demo with \`npm --prefix client run build\` and point SYNC_DEMO_DIR at client/dist/demo, or unset SYNC_DEMO`,
    );
  }
  if (e.SYNC_ADMIN_TOKEN !== undefined && e.SYNC_ADMIN_TOKEN === e.SYNC_TOKEN) {
    throw new ConfigError("invalid server configuration:\n  SYNC_ADMIN_TOKEN: must differ from SYNC_TOKEN, or every client could restore over the data; generate one with `openssl rand -hex 32`");
  }
  if (e.SYNC_BYTES_PER_MINUTE < e.SYNC_MAX_FRAME_BYTES) {
    throw new ConfigError("invalid server configuration:\n  SYNC_BYTES_PER_MINUTE: must be at least SYNC_MAX_FRAME_BYTES, or the largest allowed frame could never be sent");
  }
  return Object.freeze({
    build: e.SYNC_BUILD ?? "dev",
    host: e.SYNC_HOST,
    port: e.SYNC_PORT,
    dataDir: path.resolve(e.SYNC_DATA_DIR),
    token: e.SYNC_TOKEN ?? null,
    insecureNoAuth: e.SYNC_INSECURE_NO_AUTH,
    jwtSecret: e.SYNC_JWT_SECRET ?? null,
    logLevel: e.SYNC_LOG_LEVEL,
    limits: Object.freeze({
      maxFrameBytes: e.SYNC_MAX_FRAME_BYTES,
      maxTxDatoms: e.SYNC_MAX_TX_DATOMS,
      maxConnections: e.SYNC_MAX_CONNECTIONS,
      messagesPerSecond: e.SYNC_RATE_LIMIT,
      queryTimeoutMs: e.SYNC_QUERY_TIMEOUT,
      maxBufferedBytes: e.SYNC_MAX_BUFFERED_BYTES,
    }),
    snapshotEvery: e.SYNC_SNAPSHOT_EVERY,
    logRetain: e.SYNC_LOG_RETAIN,
    backupIntervalMs: e.SYNC_BACKUP_INTERVAL,
    backupKeep: e.SYNC_BACKUP_KEEP,
    heartbeatMs: e.SYNC_HEARTBEAT,
    shutdownTimeoutMs: e.SYNC_SHUTDOWN_TIMEOUT,
    fsyncStallMs: e.SYNC_FSYNC_STALL,
    demoDir,
    queries: Object.freeze({
      workers: e.SYNC_QUERY_WORKERS,
      memoryBytes: e.SYNC_QUERY_MEMORY,
      maxRows: e.SYNC_QUERY_MAX_ROWS,
      maxResultBytes: e.SYNC_QUERY_MAX_RESULT_BYTES,
    }),
    presenceIntervalMs: e.SYNC_PRESENCE_INTERVAL,
    security: Object.freeze({
      helloTimeoutMs: e.SYNC_HELLO_TIMEOUT,
      maxPreHello: e.SYNC_MAX_PRE_HELLO_CONNECTIONS,
      maxConnectionsPerIp: e.SYNC_MAX_CONNECTIONS_PER_IP,
      trustedProxies: e.SYNC_TRUSTED_PROXIES,
      allowedOrigins: e.SYNC_ALLOWED_ORIGINS,
      bytesPerMinute: e.SYNC_BYTES_PER_MINUTE,
      maxDbBytes: e.SYNC_MAX_DB_BYTES,
      minFreeBytes: e.SYNC_MIN_FREE_SPACE,
      jwtAudience: e.SYNC_JWT_AUDIENCE ?? null,
      jwtIssuer: e.SYNC_JWT_ISSUER ?? null,
    }),
    admin: Object.freeze({
      token: e.SYNC_ADMIN_TOKEN ?? null,
      maxUploadBytes: e.SYNC_ADMIN_MAX_UPLOAD,
      uploadTimeoutMs: e.SYNC_ADMIN_UPLOAD_TIMEOUT,
    }),
  });
}
