import fs from "node:fs";
import { ErrorCode, SyncError } from "../errors";

export interface StorageLimits {
  /** Refuse writes when the data volume has less free space than this (0: off). */
  readonly minFreeBytes: number;
  /** Refuse writes when the db (with its WAL) is this big (0: off). */
  readonly maxDbBytes: number;
}

/** Re-reading statfs and file sizes at most this often keeps the check off the hot path. */
const RECHECK_MS = 250;

/**
 * Refuses new transactions with storage_full before SQLite would fail on a full disk.
 * A write that fails half way through a group commit is safe (SQLite rolls it back) but
 * every client then sees storage_error retries; a full volume also stops snapshots, WAL
 * checkpoints and backups. The floor leaves room for those and for the operator.
 */
export class StorageGuard {
  private checkedAt = -Infinity;
  private reason: string | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly dbFile: string,
    private readonly limits: StorageLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Why writes are refused right now, or null. */
  problem(): string | null {
    const now = this.now();
    if (now - this.checkedAt < RECHECK_MS) return this.reason;
    this.checkedAt = now;
    this.reason = this.measure();
    return this.reason;
  }

  /** For the engine's admit hook. */
  refusal(): SyncError | null {
    const reason = this.problem();
    return reason === null ? null : new SyncError(ErrorCode.STORAGE_FULL, `${reason}; nothing was applied, retry later`);
  }

  private measure(): string | null {
    const { minFreeBytes, maxDbBytes } = this.limits;
    if (minFreeBytes > 0) {
      try {
        const free = freeBytes(this.dataDir);
        if (free < minFreeBytes) return `the data volume has ${mib(free)} free, below SYNC_MIN_FREE_SPACE (${mib(minFreeBytes)})`;
      } catch {
        return "the data volume's free space cannot be read";
      }
    }
    if (maxDbBytes > 0) {
      const size = fileSize(this.dbFile) + fileSize(`${this.dbFile}-wal`);
      if (size >= maxDbBytes) return `the db is ${mib(size)}, at SYNC_MAX_DB_BYTES (${mib(maxDbBytes)})`;
    }
    return null;
  }
}

/**
 * Why a copy of `bytes` (a backup, written beside the db) would not fit above
 * SYNC_MIN_FREE_SPACE, or null. Read fresh: a backup is rare and large. Without it a
 * backup on a nearly full volume took the volume below the floor, and every write was
 * then refused with storage_full until someone deleted backups (found by review).
 */
export function roomForCopy(dataDir: string, bytes: number, minFreeBytes: number): string | null {
  let free: number;
  try {
    free = freeBytes(dataDir);
  } catch {
    return "the data volume's free space cannot be read";
  }
  if (free - bytes < minFreeBytes) return `a copy of the db (${mib(bytes)}) would leave ${mib(Math.max(0, free - bytes))} free on the data volume, below SYNC_MIN_FREE_SPACE (${mib(minFreeBytes)})`;
  return null;
}

/** Bytes an unprivileged writer may still use on the volume holding dir. */
export function freeBytes(dir: string): number {
  const stats = fs.statfsSync(dir);
  return stats.bavail * stats.bsize;
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)}MiB`;
}
