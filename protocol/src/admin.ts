/**
 * The admin API (`/admin/...`, behind SYNC_ADMIN_TOKEN): its paths, headers and the JSON it
 * answers with. The server builds these bodies and the operator CLI (ops/) parses them with
 * the same schemas, so neither side can drift. Documented in protocol/PROTOCOL.md, "Admin API".
 */
import { z } from "zod";

export const ADMIN_PREFIX = "/admin/";

export const AdminPath = {
  status: "/admin/status",
  backup: "/admin/backup",
  backupLatest: "/admin/backup/latest",
  restore: "/admin/restore",
} as const;

/** Headers on `GET /admin/backup/latest`: what the server knows about the file it streams. */
export const BackupHeader = {
  /** The newest tx id in the backup. */
  t: "x-sync-backup-t",
  /** Datoms in the db at that t. */
  datoms: "x-sync-backup-datoms",
  /** Hex sha256 of the file's bytes. */
  sha256: "x-sync-backup-sha256",
  /** ISO time the backup was taken. */
  time: "x-sync-backup-time",
} as const;

/** The content type of a backup (a SQLite db file), uploaded and downloaded. */
export const BACKUP_CONTENT_TYPE = "application/vnd.sqlite3";

/** One backup file, as the server describes it. */
export const BackupInfoSchema = z.object({
  /** File name inside the server's backups directory. */
  file: z.string(),
  time: z.string(),
  bytes: z.number().int().nonnegative(),
  t: z.number().int(),
  datoms: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type BackupInfo = z.infer<typeof BackupInfoSchema>;

/** `GET /admin/status`. Sizes in bytes, times ISO 8601. */
export const AdminStatusSchema = z.object({
  /** The server's lifecycle state: RUNNING, or RESTORING while a restore swaps the db. */
  state: z.string(),
  /** True when /readyz would answer 200. */
  ready: z.boolean(),
  /** Why it is not ready (e.g. storage full), or null. */
  problem: z.string().nullable(),
  version: z.string(),
  uptimeSeconds: z.number().nonnegative(),
  t: z.number().int(),
  datoms: z.number().int().nonnegative(),
  /** Clients that said hello. */
  connections: z.number().int().nonnegative(),
  /** sync.db plus its WAL. */
  dbBytes: z.number().int().nonnegative(),
  volumeFreeBytes: z.number().nonnegative().nullable(),
  volumeTotalBytes: z.number().nonnegative().nullable(),
  /** The newest backup in the backups directory, or null when there is none. */
  lastBackup: BackupInfoSchema.partial({ t: true, datoms: true, sha256: true }).nullable(),
});
export type AdminStatus = z.infer<typeof AdminStatusSchema>;

/** `POST /admin/restore` after the new db is live. */
export const RestoreResultSchema = z.object({
  t: z.number().int(),
  datoms: z.number().int().nonnegative(),
  /** Where the db that was replaced is kept, inside the data directory. */
  replaced: z.string().nullable(),
  /** Clients closed with 1012 to let the swap happen. */
  drained: z.number().int().nonnegative(),
  /**
   * The t the replaced db had reached: what it held after `t` is not in the restored db
   * (it stays in the kept copy). Absent from servers before it was added.
   */
  replacedT: z.number().int().optional(),
  ms: z.number().nonnegative(),
});
export type RestoreResult = z.infer<typeof RestoreResultSchema>;

/** Every admin error: a stable code and a sentence for the operator. */
export const AdminErrorSchema = z.object({ error: z.string(), message: z.string() });
export type AdminError = z.infer<typeof AdminErrorSchema>;
